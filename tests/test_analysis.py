"""The Japanese analyzer, read the way Whoosh tests its own analyzers."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from search.analysis import CHUNK_CHARS, fold, japanese_analyzer, katakana

ROOT = Path(__file__).resolve().parents[1]
ana = japanese_analyzer()


def texts(s, **kw):
    return [t.text for t in ana(s, **kw)]


def test_compounds_are_kept_whole_and_split_into_parts():
    assert texts("防衛費を増額") == ["防衛費", "防衛", "費", "増額"]
    assert texts("モスクワ取引所") == ["モスクワ", "取引所", "取り引き", "所"]


def test_particles_auxiliaries_and_symbols_are_not_indexed():
    assert texts("ペスコフ報道官は述べました。") == ["ペスコフ", "報道官", "報道", "官", "述べる"]


@pytest.mark.parametrize("typed, indexed", [
    ("ｳｸﾗｲﾅ", "ウクライナ"), ("ウクライナ", "ウクライナ"),
    ("ＮＡＴＯ", "nato"), ("nato", "nato"), ("NATO", "nato"),
    ("コンピュータ", "コンピューター"), ("附属", "付属"),
])
def test_width_case_and_spelling_variants_meet(typed, indexed):
    assert texts(typed) == [indexed]


def test_latin_words_stay_words():
    # Sudachi's normalized form would turn "call" into "コール".
    assert texts("I just had a call") == ["i", "just", "had", "a", "call"]


def test_positions_count_stop_words_but_not_spaces():
    tokens = [(t.text, t.pos) for t in ana("ロシアの報道官 は", positions=True)]
    # の takes position 1; the compound's parts take 2 and 3.
    assert tokens == [("ロシア", 0), ("報道官", 2), ("報道", 2), ("官", 3)]
    assert [t.pos for t in ana("lengthy  call", positions=True)] == [0, 1]


def test_character_offsets_point_into_the_original_text():
    text = "😀ｳｸﾗｲﾅの防衛費"
    for t in ana(text, chars=True):
        surface = text[t.startchar:t.endchar]
        assert fold(surface) in ("ウクライナ", "防衛費", "防衛", "費"), surface


def test_long_text_is_chunked_and_the_last_word_survives():
    text = "ロシアの報道官は述べた。" * (3 * CHUNK_CHARS // 12) + "最後の単語ゼレンスキー"
    tokens = list(ana(text, positions=True, chars=True))
    last = tokens[-1]
    assert last.text == "ゼレンスキー"
    assert text[last.startchar:last.endchar] == "ゼレンスキー"


@pytest.mark.parametrize("char", ["㍿", "ﷺ", "😀"])
def test_characters_that_grow_under_normalization_survive(char):
    text = char * 30000 + "ウクライナ"
    assert texts(text)[-1] == "ウクライナ"


def test_stop_words_come_back_marked_when_asked():
    tokens = [(t.text, t.stopped) for t in ana("ロシアの", removestops=False)]
    assert tokens == [("ロシア", False), ("の", True)]


def test_untokenized_value_is_one_token():
    assert texts("ロシア 報道官", tokenize=False) == ["ロシア 報道官"]


def test_analyzer_pickles_with_the_schema():
    clone = pickle.loads(pickle.dumps(ana))
    assert [t.text for t in clone("防衛費")] == ["防衛費", "防衛", "費"]


def test_hiragana_readings_become_katakana():
    assert katakana("ぺすこふ") == "ペスコフ"
    assert texts(katakana("ぺすこふ")) == ["ペスコフ"]


def test_analyzer_is_usable_from_threads():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(texts, ["防衛費を増額"] * 40))
    assert all(r == ["防衛費", "防衛", "費", "増額"] for r in results)


@pytest.mark.parametrize("text", [
    "ロシア大統領府のペスコフ報道官は12日、モスクワ取引所で述べた。",
    "I just had a lengthy call with ＮＡＴＯ and ｳｸﾗｲﾅ 😀😀 防衛費 380兆円",
    "", "。、", "㍿" * 20000 + "末尾",
])
def test_indexing_fast_path_says_what_the_token_stream_says(text):
    from search.analysis import postings

    stream = {}
    for t in ana(text, positions=True, chars=True):
        stream.setdefault(t.text, []).extend((t.pos, t.startchar, t.endchar))
    assert {w: a.tolist() for w, a in postings(text).items()} == stream


RELEASE_SCRIPT = """
import json
from search import analysis

def rss_file_kb():
    for line in open("/proc/self/status"):
        if line.startswith("RssFile:"):
            return int(line.split()[1])

def words():
    return [t.text for t in analysis.japanese_analyzer()("防衛費を増額し、ウクライナを支援")]

analysis.load()
before, loaded = words(), rss_file_kb()
released = analysis.release_dictionary_pages()
after_release = rss_file_kb()
print(json.dumps({"loaded": loaded, "released": released, "after_release": after_release,
                  "same_words": words() == before}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_released_dictionary_pages_leave_the_process_and_tokenizing_unchanged():
    # The server's master loads the dictionary only for its workers to
    # inherit; the file pages loading read must not stay counted in its RSS.
    out = subprocess.run([sys.executable, "-c", RELEASE_SCRIPT], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    got = json.loads(out)
    assert got["released"] > 100 * 2**20  # the 200 MB dictionary file was mapped
    assert got["loaded"] - got["after_release"] > 30 * 1024  # kB: tens of MB left the process
    assert got["same_words"]
