"""Words typed as their reading (issue 14): a hiragana query for an ordinary
word finds the words the index holds that are read so (search/readings.py),
not the single kana Sudachi cuts hiragana into; an explicit * finds at least
what the whole word finds."""

import json
import os
from pathlib import Path

import pytest

from search.query import SearchService

from helpers import item_json, search_json

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DUMPS = sorted((ROOT / "dumps").glob("*.txt"))


@pytest.fixture(scope="module")
def index(make_index):
    return make_index(SAMPLE_DUMPS)


def ids(service, q):
    answer = search_json(service, {"q": q, "per_page": "100"})
    return {h["id"] for h in answer["hits"]}


@pytest.mark.parametrize("reading,word", [("かんぜい", "関税"), ("ていせん", "停戦"),
                                          ("ぼうえい", "防衛")])
def test_a_reading_finds_the_words_read_so(index, reading, word):
    service = SearchService(index)
    assert ids(service, word) and ids(service, reading) >= ids(service, word)
    for hit in search_json(service, {"q": reading, "per_page": "100"})["hits"]:
        assert "<mark>" in hit["headline_html"] + hit["snippet"]


def test_the_table_is_kept_per_generation(index):
    names = [n for n in os.listdir(index) if n.startswith("readings-")]
    assert len(names) == 1 and names[0].endswith(".pickle")


def test_without_the_table_a_reading_is_single_kana(index, tmp_path):
    import shutil

    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    for name in os.listdir(copy):
        if name.startswith("readings-"):
            os.remove(copy / name)
    service = SearchService(str(copy))
    assert ids(service, "かんぜい") != ids(SearchService(index), "関税")


def test_names_in_hiragana_still_find_katakana(index):
    service = SearchService(index)
    assert ids(service, "ぺすこふ") == ids(service, "ペスコフ") != set()


def test_the_item_page_marks_the_word_read_so(index):
    service = SearchService(index)
    item = sorted(ids(service, "関税"))[0]
    doc = item_json(service, item, q="かんぜい")
    assert "<mark>関税</mark>" in doc["headline_html"] + doc["body_html"]


@pytest.mark.parametrize("word", ["防衛", "ウクライナ", "関税", "ゼレンスキー"])
def test_an_explicit_prefix_finds_at_least_the_whole_word(index, word):
    service = SearchService(index)
    assert ids(service, word + "*") >= ids(service, word) != set()


def test_a_reindex_adds_only_its_new_words(make_index, tmp_path):
    from search import readings
    from search.ingest import reindex as indexer

    index = make_index(SAMPLE_DUMPS[:2], into=tmp_path)
    generation = SearchService(index).searcher().reader().generation()
    before = readings.known(index, generation)
    (tmp_path / "dumps" / SAMPLE_DUMPS[2].name).write_bytes(SAMPLE_DUMPS[2].read_bytes())
    indexer.reindex(str(tmp_path / "dumps"), index)
    service = SearchService(index)
    now = service.searcher().reader().generation()
    after = readings.known(index, now)
    assert set(before) < set(after) and all(after[f] == r for f, r in before.items())
    new = [f for f in set(after) - set(before) if after[f]]  # the third dump's words, read
    assert new and all(f in readings.read(index, now)[after[f]] for f in new
                       if len(readings.read(index, now)[after[f]]) < readings.MAX_FORMS)
    assert "関税" in readings.read(index, now)["カンゼイ"]
    kept = sorted(n for n in os.listdir(index) if n.startswith("readings-"))
    assert kept == [f"readings-{generation}.pickle", f"readings-{now}.pickle"]  # and the one before
    found = readings._load(index, now)
    assert found["table"] == readings.table_of(found["read"], found["df"])  # as if sorted whole


def test_a_table_of_the_older_layout_is_read_and_carried_on(make_index, tmp_path):
    from search import readings
    from search.ingest import reindex as indexer

    index = make_index(SAMPLE_DUMPS[:2], into=tmp_path)
    generation = SearchService(index).searcher().reader().generation()
    found = readings._load(index, generation)
    with open(readings._json_path(index, generation), "w", encoding="utf-8") as f:
        json.dump({"version": 1, **found}, f, ensure_ascii=False)  # as VERSION 1 wrote it
    os.remove(readings.path(index, generation))
    assert readings.read(index, generation) == found["table"]
    (tmp_path / "dumps" / SAMPLE_DUMPS[2].name).write_bytes(SAMPLE_DUMPS[2].read_bytes())
    assert not indexer.reindex(str(tmp_path / "dumps"), index).full
    service = SearchService(index)
    now = service.searcher().reader().generation()
    assert set(found["read"]) < set(readings.known(index, now))
    assert ids(service, "かんぜい") and "関税" in readings.read(index, now)["カンゼイ"]


def test_a_walk_reads_as_paging_does(index):
    from search.query import parse_request, walk

    service = SearchService(index)
    page = walk.page(service, parse_request({"q": "かんぜい", "cursor": "*", "per_page": "100"}))
    assert {h.id for h in page.result.hits} == ids(service, "かんぜい") != set()
