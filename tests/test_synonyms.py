"""Synonyms at query time (issue 14): the project's news abbreviations
(dictionary/news-abbreviations.json) and Sudachi's synonym dictionary
(vendor/synonyms.json, made by `make install` with npm), on the sample dumps
in dumps/ and, when present, the seed dump."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from search import synonyms
from search.query import SearchService
from web import create_app

from helpers import item_json, search_json

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DUMPS = sorted((ROOT / "dumps").glob("*.txt"))
AMERICA = ("アメリカ", "米国", "米")

needs_sudachi_synonyms = pytest.mark.skipif(
    not synonyms.vendor_available(),
    reason="needs vendor/synonyms.json (Sudachi's synonym dictionary: `make install` with npm)")


@pytest.fixture(scope="module")
def service(make_index):
    return SearchService(make_index(SAMPLE_DUMPS))


@pytest.fixture(scope="module")
def seed_service(make_index, shared_file):
    return SearchService(make_index([shared_file("seed/000_0d03cf4c130cef51.txt")]))


def ids(service, q, **params):
    answer = search_json(service, dict(q=q, per_page="100", **params))
    assert answer["total"] <= 100
    return [h["id"] for h in answer["hits"]]


def texts(service, item_id):
    doc = item_json(service, item_id)
    return doc["headline"] + "\n" + doc["body"]


@pytest.mark.parametrize("word", AMERICA)
def test_america_finds_the_items_of_its_synonyms(service, word):
    found = ids(service, word)
    # The exact matches of each: quoted (米 alone, the last word, also finds
    # the words it begins: 米軍, 米側).
    for other in AMERICA:
        assert set(ids(service, f'"{other}"')) <= set(found), other
    exact = ids(service, f'"{word}"')
    assert len(found) > len(exact)
    # Exact matches rank above synonym matches.
    assert found[0] in exact
    ranks = {item: rank for rank, item in enumerate(found)}
    synonym_only = [ranks[i] for i in found if i not in exact]
    assert sum(ranks[i] for i in exact) / len(exact) < sum(synonym_only) / len(synonym_only)


def test_exact_matches_first_on_the_seed(seed_service):
    def total(q, **params):
        return search_json(seed_service, dict(q=q, **params))["total"]

    for word in AMERICA:
        answer = search_json(seed_service, {"q": word, "per_page": "20"})
        assert answer["total"] > total(word, syn="0")
        assert all(answer["total"] >= total(other, syn="0") for other in AMERICA)
        top = answer["hits"][0]["id"]
        assert word in texts(seed_service, top)


def test_ro_finds_russia(service):
    russia = set(ids(service, "ロシア", syn="0"))
    assert russia and russia <= set(ids(service, "露"))
    assert ids(service, "露", syn="0") == []


def test_a_compound_of_abbreviations_finds_items_about_both(service):
    found = ids(service, "米露")
    exact = ids(service, "米露", syn="0")
    assert len(found) > len(exact) and set(found[:len(exact)]) == set(exact)
    for item in found:
        text = texts(service, item)
        assert re.search("米|アメリカ", text) and re.search("露|ロシア|ロ", text), text[:80]
    answer = search_json(service, {"q": "米露"})
    assert "ロシア" in answer["expanded"]["露"] and "アメリカ" in answer["expanded"]["米"]


def test_katakana_u_in_a_compound_is_ukraine_and_never_the_reverse(service):
    # 米ウ (米国とウクライナ), which Sudachi cuts 米 / ウ, finds what 米宇 finds
    assert ids(service, "米ウ", syn="0") == []
    assert set(ids(service, "米ウ")) == set(ids(service, "米宇")) != set()
    assert "ウクライナ" in search_json(service, {"q": "米ウ"})["expanded"]["ウ"]
    # ウクライナ is expanded to, never from (expandControl 1): it does not find ウ
    assert "ウ" not in search_json(service, {"q": "ウクライナ"})["expanded"].get("ウクライナ", [])


def test_syn_0_turns_it_off(service):
    on = search_json(service, {"q": "アメリカ"})
    off = search_json(service, {"q": "アメリカ", "syn": "0"})
    assert on["total"] > off["total"]
    assert "米国" in on["expanded"]["アメリカ"] and "米" in on["expanded"]["アメリカ"]
    assert off["expanded"] == {}


def test_phrases_and_excluded_words_are_not_expanded(service):
    assert search_json(service, {"q": '"アメリカ"'})["expanded"] == {}
    assert ids(service, '"アメリカ"') == ids(service, "アメリカ", syn="0")
    answer = search_json(service, {"q": "ウクライナ -アメリカ"})
    assert "アメリカ" not in answer["expanded"]


def test_a_bad_syn_is_a_400(service):
    from search.query import QueryError

    with pytest.raises(QueryError):
        search_json(service, {"q": "米", "syn": "maybe"})


def test_snippets_and_the_item_page_mark_synonyms(service):
    answer = search_json(service, {"q": "露"})
    marked = " ".join(h["headline_html"] + h["snippet"] for h in answer["hits"])
    assert "<mark>ロシア</mark>" in marked
    item = answer["hits"][0]["id"]
    assert "<mark>ロシア</mark>" in item_json(service, item, q="露")["headline_html"] + \
        item_json(service, item, q="露")["body_html"]
    plain = service.item(item, q="露", synonyms=False)
    assert plain.spans["headline"] == () and plain.spans["body"] == ()


def test_misleading_expansions_are_left_out():
    table = synonyms.get()
    assert table.of("トランプ") == ()  # a person's name, not the card game
    assert "米" not in [t.display for t in table.of("コメ")]  # rice is not the USA
    assert [t.display for t in table.of("米")] == ["米国", "アメリカ"]
    assert table.of("中") == ()  # 中 alone is "middle"; 米中 still expands
    assert table.compound("米中") is not None


@needs_sudachi_synonyms
def test_sudachi_synonyms_are_used():
    table = synonyms.get()
    assert {"アメリカ合衆国", "USA"} <= {t.display for t in table.of("アメリカ")}
    assert "総理" in {t.display for t in table.of("首相")}


def test_the_page_says_what_it_expanded(make_index):
    app = create_app({"INDEX_DIR": make_index(SAMPLE_DUMPS), "TESTING": True})
    client = app.test_client()
    page = client.get("/?q=アメリカ").get_data(as_text=True)
    line = re.search(r'<p class="synonyms" id="synonyms">(.*?)</p>', page, re.S).group(1)
    assert re.search(r"「アメリカ」の同義語（米、米国、[^）]*）も検索しています", line), line
    link = re.search(r'href="([^"]+)" class="without-synonyms"', line).group(1)
    assert "syn=0" in link
    plain = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "も検索しています" not in plain and 'class="with-synonyms"' in plain
    api = client.get("/api/search?q=アメリカ&syn=0").get_json()
    assert api["expanded"] == {}
    assert "米国" in client.get("/api/search?q=アメリカ").get_json()["expanded"]["アメリカ"]


def test_cli_no_synonyms(make_index):
    index = make_index(SAMPLE_DUMPS)
    run = [sys.executable, "-m", "search", "query", "露", "--json", "--index", index]
    on = json.loads(subprocess.run(run, capture_output=True, check=True, cwd=ROOT).stdout)
    off = json.loads(subprocess.run(run + ["--no-synonyms"], capture_output=True, check=True,
                                    cwd=ROOT).stdout)
    assert on["total"] > 0 and on["expanded"] == {"露": ["ロシア"]}
    assert off["total"] == 0 and off["expanded"] == {}


@pytest.mark.parametrize("text", ["アメリカ", "米露", "米大統領 会談", "NATO", "北大西洋条約機構"])
def test_expanded_trees_score_as_whooshs_matchers(service, text):
    from search.query import evaluate
    from search.query import language
    from search.query.builder import build_query

    s = service.searcher()
    q = build_query(s, language.parse(text), "and", synonyms=True)
    expected = {hit.docnum: hit.score for hit in s.search(q, limit=None)}
    docnums, scores = evaluate.matches(s, q)
    found = dict(zip(docnums.tolist(), scores.tolist()))
    assert expected and found.keys() == expected.keys()
    for docnum, score in expected.items():
        assert found[docnum] == pytest.approx(score, rel=1e-9)
