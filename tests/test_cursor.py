"""Cursor paging of /api/search (search/query/walk.py, search/query/cursor.py):
a walk visits every matching item exactly once, in the order of sort, past
10,000 results and across reindexes; cursors are checked."""

import base64
import json
import zlib

import pytest

from search.query import SearchService, parse_request
from search.query import cursor as cursors
from search.query.builder import build_query

from helpers import app_for
from openapi_check import validate
from walk_data import SAMPLE_ITEMS, build, copy_sample, many_items

QUERIES = [{"q": "ウクライナ"}, {"q": ""}, {"q": "ロシア", "sort": "newest"},
           {"q": "ロシア", "sort": "oldest"}, {"q": "ゼレンスキ"}, {"q": "\"大統領府報道官\""},
           {"q": "ペスコフ NATO", "op": "or"}, {"q": "米国 -ウクライナ"},
           {"q": "", "sort": "oldest", "source": "NHK"}, {"q": "ウクライナ", "from": "2025-02-13"}]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    copy_sample(folder)
    return build(folder)


@pytest.fixture(scope="module")
def client(sample):
    return app_for(sample).test_client()


def get(client, params, status=200, check=True):
    response = client.get("/api/search", query_string=params)
    assert response.status_code == status, response.get_data(as_text=True)
    return validate(response) if check else response.get_json()


def walk(client, params, per_page, between=None, check=True):
    """Every hit of the walk, following next_cursor; between(n) runs before
    the n-th following page is asked for. (check: each answer validated
    against the OpenAPI document; else the first only.)"""
    hits, cursor, pages = [], "*", 0
    while cursor is not None:
        if between and pages:
            between(pages)
        answer = get(client, dict(params, per_page=per_page, cursor=cursor),
                     check=check or not pages)
        assert answer["page"] == pages + 1
        hits.extend(answer["hits"])
        cursor = answer["next_cursor"]
        pages += 1
        assert len(answer["hits"]) == per_page or cursor is None
    return hits


def key(hit, sort, exact=False):
    """The walk's order: sort (date, then score), then the item id. The
    API's scores are rounded to 4 places: the id decides only between
    exactly equal scores, which only the engine's hits show (exact=True)."""
    score = hit.score if exact else hit["score"]
    day = hit.date if exact else hit["date"]
    tail = ((hit.id if exact else hit["id"]),) if exact else ()
    if sort == "relevance":
        return (-score, *tail)
    day = tuple(-ord(c) for c in day) if sort == "newest" else tuple(ord(c) for c in day)
    return (day, -score, *tail)


def in_order(hits, sort, exact=False):
    keys = [key(h, sort, exact) for h in hits]
    return all(a < b if exact else a <= b for a, b in zip(keys, keys[1:]))


@pytest.mark.parametrize("params", QUERIES, ids=lambda p: json.dumps(p, ensure_ascii=False))
def test_a_walk_visits_every_match_once_in_the_order_of_sort(client, params):
    everything = get(client, dict(params, per_page=100))
    sort = params.get("sort") or ("relevance" if params["q"] else "newest")
    for per_page in (1, 4, 100):
        hits = walk(client, params, per_page)
        ids = [h["id"] for h in hits]
        assert len(ids) == len(set(ids)) == everything["total"]
        # The same items, with the very scores of paging.
        assert sorted((h["id"], h["score"]) for h in hits) == \
            sorted((h["id"], h["score"]) for h in everything["hits"])
        assert in_order(hits, sort)


def test_a_walk_without_a_query_browses_every_item_newest_first(client):
    hits = walk(client, {}, 7)
    assert len({h["id"] for h in hits}) == SAMPLE_ITEMS
    assert [h["date"] for h in hits] == sorted((h["date"] for h in hits), reverse=True)


def test_the_first_page_of_a_walk_is_a_search_answer_with_a_cursor(client):
    answer = get(client, {"q": "ウクライナ", "per_page": 3, "cursor": "*"})
    paged = get(client, {"q": "ウクライナ", "per_page": 3})
    assert answer["total"] == paged["total"] and answer["facets"] == paged["facets"]
    assert "next_cursor" not in paged  # paging answers as before
    assert answer["next_cursor"] and len(answer["next_cursor"]) < 2000
    assert get(client, {"q": "ウクライナ", "per_page": 3, "cursor": ""})["hits"] == answer["hits"]
    last = get(client, {"q": "ペスコフ", "per_page": 100, "cursor": "*"})
    assert last["next_cursor"] is None and last["total"] == len(last["hits"])
    nothing = get(client, {"q": "存在しない語句ですよ", "cursor": "*"})
    assert nothing["total"] == 0 and nothing["hits"] == [] and nothing["next_cursor"] is None
    unsearchable = get(client, {"q": "の", "cursor": "*"})
    assert unsearchable["total"] == 0 and unsearchable["next_cursor"] is None


def test_per_page_may_change_along_the_walk(client):
    first = get(client, {"q": "ウクライナ", "per_page": 2, "cursor": "*"})
    rest = get(client, {"q": "ウクライナ", "per_page": 100, "cursor": first["next_cursor"]})
    ids = [h["id"] for h in first["hits"] + rest["hits"]]
    assert len(ids) == len(set(ids)) == first["total"] and rest["next_cursor"] is None


def error_of(client, params):
    answer = get(client, params, status=400)
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}
    return answer["error"]


def test_a_foreign_cursor_is_refused(client):
    cursor = get(client, {"q": "ウクライナ", "per_page": 2, "cursor": "*"})["next_cursor"]
    for other in ({"q": "ロシア"}, {"q": "ウクライナ", "sort": "newest"},
                  {"q": "ウクライナ", "op": "or"}, {"q": "ウクライナ", "source": "NHK"},
                  {"q": "ウクライナ", "from": "2025-02-13"}, {"q": ""}):
        error = error_of(client, dict(other, cursor=cursor))
        assert error["code"] == "invalid_cursor" and "別の検索条件" in error["message"]
    browse = get(client, {"per_page": 2, "cursor": "*"})["next_cursor"]
    assert error_of(client, {"q": "ウクライナ", "cursor": browse})["code"] == "invalid_cursor"
    # The same request written otherwise is the same walk.
    same = get(client, {"q": "ウクライナ", "sort": "RELEVANCE", "cursor": cursor})
    assert same["hits"]


def test_a_malformed_cursor_is_refused(client):
    cursor = get(client, {"q": "ウクライナ", "per_page": 2, "cursor": "*"})["next_cursor"]
    raw = json.loads(zlib.decompress(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))))

    def made(payload):
        data = zlib.compress(json.dumps(payload, ensure_ascii=False).encode())
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    bad = ["garbage!", "abc", cursor[:-5], cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:], "x" * 9000,
           base64.urlsafe_b64encode(b"not zlib").decode(),
           made({"v": 99}), made(dict(raw, k=[1, 2, 3])), made(dict(raw, p=0)),
           made(dict(raw, q=["zz", 1])), made(dict(raw, q=["t", "title", "x", 1.0])),
           made(dict(raw, s=[1, [0, 0], {}])), made(dict(raw, k=["2025-02-13", "NaN", "a"])),
           made([1, 2]), made(dict(raw, q=["w", "未知の語", 1.0]))]
    # an item id that is no text (JSON escapes let a lone surrogate through)
    date, score, _ = raw["k"]
    bad.append(base64.urlsafe_b64encode(zlib.compress(json.dumps(
        dict(raw, k=[date, score, "\ud800"])).encode())).decode().rstrip("="))
    for text in bad:
        error = error_of(client, {"q": "ウクライナ", "cursor": text})
        assert error["code"] == "invalid_cursor", text
    # an id no item has (not hex, not ASCII, longer) is a position all the same
    for item_id in ("日本語", "z" * 40):
        walked = client.get("/api/search", query_string={
            "q": "ウクライナ", "cursor": made(dict(raw, k=[date, score, item_id]))})
        assert walked.status_code == 200, item_id


def test_cursor_excludes_page_and_group(client):
    assert error_of(client, {"q": "ウクライナ", "page": 2, "cursor": "*"})["code"] == \
        "invalid_parameter"
    assert error_of(client, {"q": "ウクライナ", "group": "story", "cursor": "*"})["code"] == \
        "invalid_parameter"


def test_the_query_tree_survives_a_cursor(sample):
    service = SearchService(sample)
    s = service.searcher()
    for q in ("ウクライナ 停戦", "\"大統領府報道官\"", "ペスコフ NATO", "ゼレンスキ", "鉱物*",
              "SBU OR 鉱物資源", "米国 -ウクライナ", "ぺすこふ"):
        for op in ("and", "or"):
            tree = build_query(s, parse_request({"q": q, "op": op}).groups, op)
            assert cursors.tree_from_json(json.loads(json.dumps(cursors.tree_to_json(tree)))) \
                == tree, (q, op)


# ------------------------------------------------------- across reindexes

def scores(client, params):
    return {h["id"]: h["score"] for h in get(client, dict(params, per_page=100))["hits"]}


@pytest.mark.parametrize("params", [{"q": "ウクライナ"}, {"q": "ロシア 大統領", "op": "or"},
                                    {"q": "ロシア", "sort": "newest"}, {"q": ""},
                                    {"q": "ゼレンスキ"}])
def test_a_walk_is_exact_while_the_index_is_reindexed(tmp_path, params):
    """Items added meanwhile may or may not come; every item present
    throughout comes exactly once, in the order the walk began with, though
    the reindexes change the statistics of every score and renumber every
    document."""
    copy_sample(tmp_path, names={"2025-02-12.txt", "2025-02-13.txt"})
    index = build(tmp_path)
    client = app_for(index).test_client()
    before = scores(client, params)

    def reindex(page):
        if page == 1:  # a new day: more items, other frequencies and lengths
            copy_sample(tmp_path, names={"2025-02-14.txt"})
            build(tmp_path)
        elif page == 2:  # a day removed, and everything rebuilt: new document numbers
            (tmp_path / "dumps" / "2025-02-12.txt").unlink()
            build(tmp_path, full=True)

    hits = walk(client, params, 2, between=reindex)
    after = scores(client, params)
    throughout = set(before) & set(after)
    ids = [h["id"] for h in hits]
    assert len(ids) == len(set(ids))  # none repeated
    assert throughout <= set(ids)  # none skipped
    kept = [h for h in hits if h["id"] in throughout]
    assert all(h["score"] == before[h["id"]] for h in kept)  # the scores the walk began with
    sort = params.get("sort") or ("relevance" if params["q"] else "newest")
    assert in_order(kept, sort)
    if params["q"]:  # the test means something: the reindex changed the scores
        assert any(after[i] != before[i] for i in throughout)


def test_a_walks_searcher_keeps_its_own_idf_beside_the_live_one(sample):
    """The idf a phrase or completion is scored with is kept per searcher:
    a walk's searcher reads the live segments through the same reader but
    answers the statistics it began with, and gets its own idf, before and
    after the live searcher has kept one for the word."""
    from search.query import scoring
    from search.query.walk import FrozenSearcher

    service = SearchService(sample)
    s = service.searcher()
    live = scoring.searcher_idf(s, "ウクライナ")
    statistics = cursors.Statistics(doc_count=s.doc_count_all() * 10,
                                    avg_lengths={}, frequencies={"ウクライナ": (1, 1)})
    frozen = FrozenSearcher(s.reader(), weighting=service.weighting, statistics=statistics)
    expected = scoring.idf(frozen, "ウクライナ")
    assert expected != live
    assert scoring.searcher_idf(frozen, "ウクライナ") == expected
    assert scoring.searcher_idf(s, "ウクライナ") == live


# ------------------------------------------------------------ past 10,000

@pytest.fixture(scope="module")
def many(tmp_path_factory):
    return many_items(tmp_path_factory)


def test_a_walk_goes_past_10000_results(many):
    client = app_for(many).test_client()
    assert get(client, {"q": "会見", "per_page": 100, "page": 101}, status=400)
    for params in ({"q": "会見"}, {"sort": "oldest"}):
        hits = walk(client, params, 100, check=False)
        ids = [h["id"] for h in hits]
        assert len(ids) == len(set(ids)) == 10_500
        assert in_order(hits, params.get("sort", "relevance" if params.get("q") else "newest"))


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_ties_are_ordered_by_item_id(many, sort):
    """Thousands of items share a date and a score: the walk orders them by id."""
    from search.query import walk as walks

    service = SearchService(many)
    hits, request = [], parse_request({"q": "会見", "sort": sort, "per_page": 100, "cursor": "*"})
    for _ in range(12):  # past the first day's 3,000 items
        page = walks.page(service, request)
        hits.extend(page.result.hits)
        request = parse_request({"q": "会見", "sort": sort, "per_page": 100,
                                 "cursor": page.next_cursor})
    assert len({(h.date, h.score) for h in hits}) < len(hits) / 10  # ties, many
    assert in_order(hits, sort, exact=True)
