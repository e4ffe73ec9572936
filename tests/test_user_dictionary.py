"""The user dictionary (issue 14): dictionary/user.csv compiled by Sudachi's
builder at reindex, stored with the generation, used by the server without a
restart; a change of analysis rebuilds in full; a bad CSV is refused with
file, line and reason while the old index keeps serving."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from search import analysis, userdict
from search.ingest import reindex as indexer
from search.query import SearchService

from helpers import search_json

ROOT = Path(__file__).resolve().parents[1]
NAME = "翠嶺院湊斗"  # made up: Sudachi cuts it into 翠/嶺/院/湊/斗
ENTRY = (f"{NAME},4786,4786,5000,{NAME},名詞,固有名詞,人名,一般,*,*,"
         f"スイレイインミナト,{NAME},*,A,*,*,*\n")
DUMP = f"""{NAME}氏が防衛相に就任 https://t.co/AAAAAAAAAA
— NHKニュース (@nhk_news) February 20, 2025
新しく防衛相に就任した{NAME}氏は20日、記者会見を開きました。
院内で湊の話をした斗酒の翠と嶺 https://t.co/BBBBBBBBBB
— ロイター (@ReutersJapan) February 20, 2025
翠の山の嶺、院の庭、湊の舟、北斗の斗。ばらばらの字が並ぶだけの記事です。
"""


SCATTERED = "院内で湊の話をした斗酒の翠と嶺"


def ids(service, q):
    return [h["id"] for h in search_json(service, {"q": q, "per_page": "50"})["hits"]]


def headlines(service, q):
    return [h["headline"] for h in search_json(service, {"q": q, "per_page": "50"})["hits"]]


@pytest.fixture
def folders(tmp_path):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "2025-02-20.txt").write_text(DUMP, encoding="utf-8")
    csv = tmp_path / "user.csv"
    csv.write_text("# test\n" + ENTRY, encoding="utf-8")
    yield dumps, tmp_path / "index", csv
    analysis.use_user_dictionary(None)


def test_the_repository_dictionary_checks():
    assert NAME in userdict.check(userdict.DEFAULT_CSV)


def test_an_entry_becomes_one_word_and_the_server_follows(folders):
    dumps, index, csv = folders
    indexer.reindex(str(dumps), str(index))
    service = SearchService(str(index), refresh_seconds=0)
    # Without the entry the name is five pieces: each piece finds the scattered item too.
    assert len(ids(service, "湊斗")) == 2
    before = service.searcher().reader().generation()

    summary = indexer.reindex(str(dumps), str(index), user_dict=str(csv))
    assert summary.full and any("user dictionary" in w for w in summary.warnings)
    generation = service.searcher().reader().generation()
    assert generation != before
    recorded = json.loads((index / f"manifest-{generation}.json").read_text())["analysis"]
    assert recorded["user_dict"] and recorded["user_dict_file"] == f"user-{recorded['user_dict']}.dic"
    assert (index / recorded["user_dict_file"]).exists()
    assert recorded["sudachidict_core"] == userdict.sudachidict_version()
    # The service now analyses with the index's dictionary (no restart).
    assert headlines(service, NAME)[0].startswith(NAME)
    assert headlines(service, f"{NAME} 就任")[0].startswith(NAME)
    # Its pieces no longer match it as scattered parts (only the item that has them);
    # one character finds the words it begins, the name too, but below the word itself.
    assert headlines(service, "湊斗") == headlines(service, '"翠"') == [SCATTERED]
    assert headlines(service, "翠") == [SCATTERED, f"{NAME}氏が防衛相に就任"]

    # Unchanged: incremental, the same dictionary.
    again = indexer.reindex(str(dumps), str(index), user_dict=str(csv))
    assert not again.full

    # The entry removed: rebuilt again, the pieces are back.
    csv.write_text("# nothing\n", encoding="utf-8")
    summary = indexer.reindex(str(dumps), str(index), user_dict=str(csv))
    assert summary.full and any("no longer used" in w or "changed" in w for w in summary.warnings)
    assert len(ids(service, "湊斗")) == 2
    # no dictionary now; the one before stays for a server on the generation before
    assert [p.name for p in index.glob("user-*.dic")] == [recorded["user_dict_file"]]
    (dumps / "2025-02-21.txt").write_text(DUMP.replace("20, 2025", "21, 2025") + "追記\n",
                                          encoding="utf-8")
    assert not indexer.reindex(str(dumps), str(index), user_dict=str(csv)).full
    assert not list(index.glob("user-*.dic"))


@pytest.mark.parametrize("line,reason", [
    (f"{NAME},4786,4786,5000,{NAME},名詞,固有名詞\n", "columns"),
    (f"{NAME},4786,4786,5000,{NAME},名詞,固有名詞,謎,一般,*,*,ア,{NAME},*,A,*,*,*\n",
     "part of speech"),
    ("ＮＨＫ会,4786,4786,5000,ＮＨＫ会,名詞,固有名詞,一般,*,*,*,エヌエイチケーカイ,ＮＨＫ会,*,A,*,*,*\n",
     "normalised form"),
])
def test_a_bad_csv_is_refused_and_the_old_index_serves(folders, line, reason):
    dumps, index, csv = folders
    indexer.reindex(str(dumps), str(index))
    service = SearchService(str(index), refresh_seconds=0)
    generation = service.searcher().reader().generation()
    csv.write_text("# ok\n" + ENTRY + line, encoding="utf-8")
    with pytest.raises(userdict.UserDictError) as refused:
        indexer.reindex(str(dumps), str(index), user_dict=str(csv))
    assert f"{csv}:3:" in str(refused.value) and reason in str(refused.value)
    assert service.searcher().reader().generation() == generation
    assert len(ids(service, "湊斗")) == 2


def test_a_csv_is_checked_once_per_content_and_again_when_it_changes(folders, monkeypatch):
    """A daily reindex does not check (and load Sudachi's dictionary for)
    the same CSV again; a changed one is checked, and refused if bad."""
    _, _, csv = folders
    first = userdict.compile_csv(str(csv))
    checked, check = [], userdict.check
    monkeypatch.setattr(userdict, "check",
                        lambda path, raw=None: checked.append(path) or check(path, raw))
    assert userdict.compile_csv(str(csv)) == first and checked == []
    csv.write_text("# ok\n" + ENTRY + ENTRY.replace(",A,*,*,*", ",A,*"), encoding="utf-8")
    with pytest.raises(userdict.UserDictError, match=f"{csv}:3: 16 columns"):
        userdict.compile_csv(str(csv))
    with pytest.raises(userdict.UserDictError, match=f"{csv}:3: 16 columns"):
        userdict.compile_csv(str(csv))  # still refused: only what passed is remembered
    assert len(checked) == 2
    csv.write_text("# ok\n" + ENTRY, encoding="utf-8")  # back as it was: the same .dic
    assert userdict.compile_csv(str(csv)) == first


def test_the_bytes_remembered_as_checked_are_the_bytes_checked(folders):
    """compile_csv keys what it remembers by the bytes it read, and checks
    those bytes, not the file read again: a CSV saved between the two reads
    cannot have its predecessor remembered as checked."""
    _, _, csv = folders
    bad = ("# ok\n" + ENTRY.replace(",A,*,*,*", ",A,*")).encode("utf-8")
    with pytest.raises(userdict.UserDictError, match=f"{csv}:2: 16 columns"):
        userdict.check(str(csv), bad)  # the file itself is good (the fixture's)
    assert NAME in userdict.check(str(csv))


def test_the_cli_refuses_a_bad_csv_with_the_usage_status(folders):
    dumps, index, csv = folders
    csv.write_text(ENTRY.replace(",A,*,*,*", ",A,*"), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "search", "reindex", "--dumps", str(dumps),
                          "--index", str(index), "--user-dict", str(csv), "--quiet"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2
    assert f"{csv}:1:" in run.stderr and "columns" in run.stderr


def test_generations_built_with_one_dictionary_name_one_file_a_server_keeps(folders):
    """The daily reindexes of one dictionary write no copy of it each: the
    manifests name the same file, which stays while a server on an older
    generation may load it (a copy per generation was dropped under a
    server about to load it: HTTP 500 in the year replay)."""
    dumps, index, csv = folders
    indexer.reindex(str(dumps), str(index), user_dict=str(csv))
    service = SearchService(str(index), refresh_seconds=0)
    assert headlines(service, NAME)[0].startswith(NAME)
    loaded = analysis.user_dictionary()
    (index / "user-1.dic").write_bytes(b"")  # as an older indexer named them
    names = set()
    for day in range(3):
        (dumps / f"2025-02-2{day + 1}.txt").write_text(
            DUMP.replace("20, 2025", f"2{day + 1}, 2025").replace("20日", f"2{day + 1}日")
            + f"追記{day}\n", encoding="utf-8")
        assert not indexer.reindex(str(dumps), str(index), user_dict=str(csv)).full
        generation = service.searcher().reader().generation()
        names.add(json.loads((index / f"manifest-{generation}.json").read_text())
                  ["analysis"]["user_dict_file"])
    assert len(names) == 1 and analysis.user_dictionary() == loaded  # not loaded again
    assert sorted(p.name for p in index.glob("user-*.dic")) == sorted(names)
    assert headlines(service, NAME)[0].startswith(NAME)


def test_a_dictionary_gone_before_it_is_loaded_gives_sudachis_then_loads_when_back(folders):
    """A server switched to a generation's dictionary that a reindex has
    since removed analyses with Sudachi's alone (no error), and loads the
    file when a later generation names it again."""
    dumps, index, csv = folders
    compiled, _ = userdict.compile_csv(str(csv))
    gone = index.parent / "user-gone.dic"
    analysis.use_user_dictionary(str(gone))
    assert [t.text for t in analysis.japanese_analyzer()(NAME)] != [NAME]  # cut in pieces
    assert analysis.user_dictionary() is None
    gone.write_bytes(Path(compiled).read_bytes())
    assert analysis.use_user_dictionary(str(gone))
    assert [t.text for t in analysis.japanese_analyzer()(NAME)] == [NAME]
