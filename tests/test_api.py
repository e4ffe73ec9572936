"""Tests of the JSON API (web/api.py, web/errors.py) on the index of the
test dumps (tests/data: 33 news items of Feb 17–19 2025), plus markup from
dumps (tests/data/markup.txt) coming back escaped in the API, on the search
page and on the item page."""

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from search.ingest import reindex as indexer
from web import create_app

from helpers import MARKUP_DUMP, get_json, NEWS_DAYS, NEWS_DUMPS, NEWS_ITEMS

SEARCH_KEYS = {"query", "total", "page", "per_page", "pages", "took_ms", "hits", "facets",
               "expanded"}
HIT_KEYS = {"id", "headline", "headline_html", "snippet", "source", "handle", "date", "url",
            "tags", "score", "labels", "story"}
ITEM_KEYS = {"id", "headline", "body", "source", "handle", "date", "urls", "tags", "dumps",
             "labels", "story"}
FACETS = {"source", "date", "tag", "label"}
STATS_KEYS = {"items", "sources", "dumps", "first_date", "last_date", "indexed_at"}
NEWS_SOURCES = {"ロイター": 13, "NHKニュース": 7, "ブルームバーグニュース": 4, "Sputnik 日本": 4,
                "Donald J. Trump Posts From His Truth Social": 3, "BBC News Japan": 2}
TAG = "#米宇(鉱物資源協定)"


@pytest.fixture(scope="module")
def api(data_index):
    """A test client shared by the module (the app holds no per-test state)."""
    return create_app({"INDEX_DIR": data_index, "TESTING": True}).test_client()


def assert_error(response, status, code=None):
    """The one error shape: exactly {"error": {"code": str, "message": str}}."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "File \"" not in text
    return body["error"]


# ------------------------------------------------------------------ search

def test_search_shape(api):
    body = get_json(api, "/api/search?q=ペスコフ")
    assert set(body) == SEARCH_KEYS
    assert body["query"] == "ペスコフ"
    assert body["total"] == 3 and body["page"] == 1 and body["per_page"] == 10
    assert body["pages"] == 1
    assert isinstance(body["took_ms"], (int, float))
    assert set(body["facets"]) == FACETS
    assert len(body["hits"]) == 3
    for hit in body["hits"]:
        assert set(hit) == HIT_KEYS
        assert "<mark>ペスコフ</mark>" in hit["snippet"]
        assert hit["date"] == "2025-02-18"
        assert hit["url"].startswith("https://t.co/")
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_json_is_utf8_not_escaped(api):
    response = api.get("/api/search?q=ペスコフ")
    assert "ペスコフ".encode() in response.data
    assert b"\\u30da" not in response.data


def test_pagination(api):
    first = get_json(api, "/api/search?q=ウクライナ")
    assert first["total"] > 10 and first["pages"] == 2
    second = get_json(api, "/api/search?q=ウクライナ&page=2")
    assert second["page"] == 2 and second["total"] == first["total"]
    assert len(first["hits"]) == 10
    assert len(second["hits"]) == first["total"] - 10
    ids1 = {h["id"] for h in first["hits"]}
    ids2 = {h["id"] for h in second["hits"]}
    assert not ids1 & ids2


def test_page_past_the_end_is_empty(api):
    body = get_json(api, "/api/search?q=ウクライナ&page=3")
    assert body["hits"] == [] and body["page"] == 3
    assert body["total"] > 10  # the total is still told


@pytest.mark.parametrize("per_page, expected", [("1", 1), ("5", 5), ("100", 19)])
def test_per_page(api, per_page, expected):
    body = get_json(api, f"/api/search?q=ウクライナ&per_page={per_page}")
    assert body["per_page"] == int(per_page)
    assert len(body["hits"]) == expected
    assert body["pages"] == -(-body["total"] // int(per_page))


@pytest.mark.parametrize("per_page", ["0", "101", "-1", "abc", "1.5"])
def test_per_page_out_of_bounds(api, per_page):
    error = assert_error(api.get(f"/api/search?q=ウクライナ&per_page={per_page}"), 400,
                         "invalid_parameter")
    assert "per_page" in error["message"]


@pytest.mark.parametrize("sort, reverse", [("newest", True), ("oldest", False)])
def test_sort_by_date(api, sort, reverse):
    body = get_json(api, f"/api/search?q=ウクライナ&sort={sort}&per_page=100")
    dates = [h["date"] for h in body["hits"]]
    assert len(set(dates)) == 3
    assert dates == sorted(dates, reverse=reverse)


def test_sort_changes_only_order(api):
    ids = {}
    for sort in ("relevance", "newest", "oldest"):
        body = get_json(api, f"/api/search?q=NATO&sort={sort}&per_page=100")
        ids[sort] = [h["id"] for h in body["hits"]]
    assert set(ids["relevance"]) == set(ids["newest"]) == set(ids["oldest"])


def test_facets_count_the_whole_result(api):
    body = get_json(api, "/api/search?q=ウクライナ")
    assert sum(body["facets"]["source"].values()) == body["total"]
    assert sum(body["facets"]["date"].values()) == body["total"]
    assert body["facets"]["source"]["ロイター"] == 8
    assert set(body["facets"]["date"]) == set(NEWS_DAYS)


def test_source_filter(api):
    all_ = get_json(api, "/api/search?q=ウクライナ")
    one = get_json(api, "/api/search?q=ウクライナ&source=ロイター&per_page=100")
    assert one["total"] == all_["facets"]["source"]["ロイター"]
    assert {h["source"] for h in one["hits"]} == {"ロイター"}
    # The source facet is multi-select: it still counts the other sources.
    assert one["facets"]["source"] == all_["facets"]["source"]
    assert sum(one["facets"]["date"].values()) == one["total"]


def test_source_filter_is_repeatable(api):
    all_ = get_json(api, "/api/search?q=ウクライナ")
    two = get_json(api, "/api/search?q=ウクライナ&source=ロイター&source=NHKニュース&per_page=100")
    expected = all_["facets"]["source"]["ロイター"] + all_["facets"]["source"]["NHKニュース"]
    assert two["total"] == expected
    assert {h["source"] for h in two["hits"]} == {"ロイター", "NHKニュース"}


def test_source_filter_by_handle(api):
    body = get_json(api, "/api/search?q=ウクライナ&source=@ReutersJapan")
    assert body["total"] == 8


def test_unknown_source_is_refused_naming_the_sources(api):
    # A source the index does not have finds nothing: the 400 says which it has.
    error = assert_error(api.get("/api/search?q=ウクライナ&source=存在しない"), 400,
                         "invalid_parameter")
    assert "存在しない" in error["message"]
    assert all(source in error["message"] for source in NEWS_SOURCES)


def test_date_filter(api):
    all_ = get_json(api, "/api/search?q=ウクライナ")
    day = get_json(api, "/api/search?q=ウクライナ&from=2025-02-19&to=2025-02-19&per_page=100")
    assert day["total"] == all_["facets"]["date"]["2025-02-19"] == 6
    assert {h["date"] for h in day["hits"]} == {"2025-02-19"}
    since = get_json(api, "/api/search?q=ウクライナ&from=2025-02-19")
    assert since["total"] == day["total"]
    until = get_json(api, "/api/search?q=ウクライナ&to=2025-02-18&per_page=100")
    assert {h["date"] for h in until["hits"]} == {"2025-02-17", "2025-02-18"}
    assert until["total"] + day["total"] == all_["total"]


@pytest.mark.parametrize("tag", [TAG, "米宇(鉱物資源協定)", "＃米宇（鉱物資源協定）"])
def test_tag_filter(api, tag):
    from urllib.parse import quote

    body = get_json(api, f"/api/search?q=ウクライナ&tag={quote(tag)}")
    assert body["total"] == 1
    assert TAG in body["hits"][0]["tags"]
    assert "鉱物資源" in body["hits"][0]["headline"]


def test_op_or_finds_at_least_as_many(api):
    both = get_json(api, "/api/search?q=ペスコフ NATO")
    either = get_json(api, "/api/search?q=ペスコフ NATO&op=or")
    nato = get_json(api, "/api/search?q=NATO")
    assert either["total"] >= both["total"]
    assert either["total"] >= nato["total"]
    assert both["total"] <= nato["total"]


def test_unknown_parameters_are_ignored(api):
    plain = get_json(api, "/api/search?q=ペスコフ")
    extra = get_json(api, "/api/search?q=ペスコフ&foo=bar&callback=alert")
    assert [h["id"] for h in extra["hits"]] == [h["id"] for h in plain["hits"]]


def test_search_with_nothing_searchable_is_empty(api):
    body = get_json(api, "/api/search?q=の")
    assert body["total"] == 0 and body["hits"] == []


# ------------------------------------------------------------- item, stats

def test_item(api):
    hit = get_json(api, "/api/search?q=ペスコフ")["hits"][0]
    item = get_json(api, f"/api/items/{hit['id']}")
    assert set(item) == ITEM_KEYS
    assert item["id"] == hit["id"]
    assert item["headline"] == hit["headline"]
    assert item["source"] == hit["source"] and item["date"] == hit["date"]
    assert item["urls"][0] == hit["url"]
    assert "ペスコフ" in item["body"] and len(item["body"]) > len(hit["snippet"]) / 2
    assert item["dumps"] == ["2025-02-18.txt"]
    assert item["labels"] == hit["labels"] == ["#米露(250218)"]  # its dump's label


def test_item_tags(api):
    # (the tag percent-encoded: a raw "#" would start the URL's fragment)
    hit = get_json(api, f"/api/search?q=ウクライナ&tag={TAG.replace('#', '%23')}")["hits"][0]
    item = get_json(api, f"/api/items/{hit['id']}")
    assert item["tags"] == [TAG, "#米宇(レアアース)"]


def test_item_ids_are_case_insensitive(api):
    item_id = get_json(api, "/api/search?q=スパイ")["hits"][0]["id"]
    assert get_json(api, f"/api/items/{item_id.upper()}")["id"] == item_id


@pytest.mark.parametrize("item_id", ["0000000000000000", "nope",
                                     "de3679f00cd7b7ed0", "%ff", "..%2f..%2fetc"])
def test_unknown_item(api, item_id):
    assert_error(api.get(f"/api/items/{item_id}"), 404, "not_found")


def test_stats(api):
    stats = get_json(api, "/api/stats")
    assert set(stats) == STATS_KEYS
    assert stats["items"] == NEWS_ITEMS
    assert stats["dumps"] == len(NEWS_DUMPS)
    assert stats["sources"] == NEWS_SOURCES
    assert sum(NEWS_SOURCES.values()) == NEWS_ITEMS
    assert stats["first_date"] == "2025-02-17" and stats["last_date"] == "2025-02-19"
    assert isinstance(stats["indexed_at"], str) and stats["indexed_at"][:4].isdigit()


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("path", ["/api/nope", "/api/", "/api", "/api/search/extra",
                                  "/api/items/", "/api/items/a/b", "/api/%ff"])
def test_unknown_api_path(api, path):
    assert_error(api.get(path), 404, "not_found")


@pytest.mark.parametrize("method, path", [("post", "/api/search?q=a"), ("put", "/api/stats"),
                                          ("delete", "/api/items/de3679f00cd7b7ed"),
                                          ("patch", "/api/search")])
def test_wrong_method(api, method, path):
    response = getattr(api, method)(path)
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("query", ["", "q=", "q=%20%E3%80%80"])
def test_blank_query_browses_every_item_newest_first(api, query):
    body = get_json(api, "/api/search?" + query + "&per_page=100")
    assert body["total"] == NEWS_ITEMS == len(body["hits"])
    dates = [h["date"] for h in body["hits"]]
    assert dates == sorted(dates, reverse=True)
    assert body["facets"]["source"] == NEWS_SOURCES


BAD_PARAMETERS = [
    ("q=" + "x" * 600, "invalid_query"),
    ("q=a&page=0", "invalid_parameter"),
    ("q=a&page=abc", "invalid_parameter"),
    ("q=a&page=-1", "invalid_parameter"),
    ("q=a&page=99999999999999999999", "invalid_parameter"),
    ("q=a&page=1001", "invalid_parameter"),  # past the deepest reachable result
    ("q=a&per_page=101", "invalid_parameter"),
    ("q=a&sort=foo", "invalid_parameter"),
    ("q=a&op=xor", "invalid_parameter"),
    ("q=a&from=2025-13-01", "invalid_parameter"),
    ("q=a&to=yesterday", "invalid_parameter"),
    ("q=a&from=2025-02-13&to=2025-02-12", "invalid_parameter"),
    ("q=" + "%20OR%20".join(["a"] * 200), "invalid_query"),
]


@pytest.mark.parametrize("query, code", BAD_PARAMETERS)
def test_bad_parameters(api, query, code):
    error = assert_error(api.get("/api/search?" + query), 400, code)
    assert error["message"] != code  # a message for people, not the code again


@pytest.mark.parametrize("name", ["page", "per_page", "sort", "op", "from"])
def test_error_message_names_the_parameter(api, name):
    error = assert_error(api.get(f"/api/search?q=a&{name}=zz"), 400)
    assert name in error["message"]


ODD_QUERIES = ["%ff", "%ff%fe", "a%ffb", "%00", "a%00b", "%2A", "%3F", "*x", "(", ")",
               "%22unbalanced", "%22%22", "NOT", "OR", "AND", "-", "--a", "title%3Afoo",
               "((((((((((a))))))))))", "%5B", "%7B%7D", "%5C", "a~2", "a^3", "%E3%80%80",
               "%EF%BC%8A", "%F0%9F%98%80", "%ED%A0%80", "%C0%AF", "%", "%2", "<script>",
               "q%26page%3D0", "a%0Ab", "%7F", "%EF%BF%BF", "ロシア%20-ロシア",
               "-ロシア", "%22ロシア%20大統領府%22", "ペス*", "ぺすこふ"]


@pytest.mark.parametrize("q", ODD_QUERIES)
def test_odd_queries_never_fail(api, q):
    """Whatever a user sends in q: 200 with results or a 400 error, never 500."""
    response = api.get("/api/search?q=" + q)
    if response.status_code == 200:
        body = response.get_json()
        assert set(body) == SEARCH_KEYS
    else:
        assert_error(response, 400)


def test_invalid_utf8_in_query_string(api):
    for url in ("/api/search?q=%ff", "/api/search?q=ペスコフ&source=%ff", "/api/search?%ff=1&q=a",
                "/api/search?q=a&page=%ff"):
        response = api.get(url)
        assert response.status_code in (200, 400), url
        if response.status_code == 400:
            assert_error(response, 400)


def test_many_ors_within_limits(api):
    q = " OR ".join(["ロシア"] * 31)
    body = get_json(api, "/api/search?q=" + q)
    assert body["total"] == get_json(api, "/api/search?q=ロシア")["total"]


def test_too_many_words(api):
    q = " ".join(f"w{i}" for i in range(40))
    assert_error(api.get("/api/search?q=" + q), 400, "invalid_query")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(min_size=1, max_size=40), page=st.text(max_size=4),
       sort=st.sampled_from(["", "newest", "oldest", "relevance", "x"]))
def test_any_text_gives_200_or_400(api, q, page, sort):
    response = api.get("/api/search", query_string={"q": q, "page": page, "sort": sort})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert_error(response, 400)


def test_unexpected_exception_is_500_json_without_details(data_index, monkeypatch, caplog):
    app = create_app({"INDEX_DIR": data_index, "TESTING": True})

    def boom(params):
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(app.extensions["search"], "search", boom)
    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/search?q=ロシア")
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert "RuntimeError" not in error["message"]
    # ...but the traceback is in the server's log.
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)

    page = client.get("/?q=ロシア")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    assert "secret" not in html and "Traceback" not in html
    assert "エラー" in html


def test_index_missing(tmp_path):
    client = create_app({"INDEX_DIR": str(tmp_path / "no-index"), "TESTING": True}).test_client()
    for url in ("/api/search?q=ロシア", "/api/stats", "/api/items/de3679f00cd7b7ed"):
        error = assert_error(client.get(url), 503, "index_missing")
        assert "make reindex" in error["message"]
    # A bad parameter is still a 400: it is checked before the index is opened.
    assert_error(client.get("/api/search?q=a&page=0"), 400, "invalid_parameter")


# ------------------------------------------------------------------ markup

# tests/data/markup.txt: markup in a headline, a source, a body, a tag and a link.
RAW = ["<script>alert(1)", "<img src=x", "<b>Evil</b>", "<i>tag</i>", "<a href=\"javascript",
       "<script>alert(3)", "\"><script>"]


@pytest.fixture(scope="module")
def evil(make_index):
    client = create_app({"INDEX_DIR": make_index([MARKUP_DUMP]), "TESTING": True}).test_client()
    assert get_json(client, "/api/stats")["items"] == 2
    return client


def assert_no_raw_markup(html):
    for raw in RAW:
        assert raw not in html, raw


def test_markup_escaped_in_api(evil):
    body = get_json(evil, "/api/search?q=alert")
    hit = body["hits"][0]
    # The plain fields are the text as it was; the *_html fields are escaped.
    assert hit["headline"].startswith("<script>alert(1)</script>")
    assert hit["headline_html"].startswith("&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;")
    assert "&lt;img src=x onerror=<mark>alert</mark>(1)&gt;" in hit["headline_html"]
    assert "&amp;amp;" in hit["headline_html"]
    assert "&lt;script&gt;" in hit["snippet"] and "&amp;amp;" in hit["snippet"]
    for field in ("headline_html", "snippet"):
        html = hit[field].replace("<mark>", "").replace("</mark>", "")
        assert "<" not in html and ">" not in html, field


def test_markup_escaped_on_search_page(evil):
    response = evil.get("/?q=検証")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert_no_raw_markup(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp;amp;" in html
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in html  # the source, in hits and facets
    # The odd link is escaped inside its href attribute, not broken out of it.
    assert 'href="https://example.com/x?a=1&amp;b=&#34;&gt;&lt;script&gt;' in html


def test_markup_escaped_on_item_page(evil):
    hit = get_json(evil, "/api/search?q=alert")["hits"][0]
    response = evil.get(f"/items/{hit['id']}?q=alert")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert_no_raw_markup(html)
    assert "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;" in html
    assert "&amp;amp;" in html
    assert "#&lt;i&gt;tag&lt;/i&gt;" in html
    assert "&lt;b&gt;Evil&lt;/b&gt;" in html


def test_markup_in_query_is_escaped(evil):
    html = evil.get("/?q=<script>alert(9)</script>").get_data(as_text=True)
    assert "<script>alert(9)" not in html
    assert "&lt;script&gt;alert(9)&lt;/script&gt;" in html
    hit = get_json(evil, "/api/search?q=alert")["hits"][0]
    html = evil.get(f"/items/{hit['id']}?q=<script>alert(9)</script>").get_data(as_text=True)
    assert "<script>alert(9)" not in html
    assert "&lt;script&gt;alert(9)&lt;/script&gt;" in html
    body = json.loads(evil.get("/api/search?q=<script>alert(9)</script>").data)
    assert body["query"] == "<script>alert(9)</script>"  # JSON is data, not HTML


# ------------------------------------------------------------- the factory

def test_index_dir_from_environment(data_index, monkeypatch):
    monkeypatch.setenv("SEARCH_INDEX", data_index)
    client = create_app({"TESTING": True}).test_client()
    assert get_json(client, "/api/stats")["items"] == NEWS_ITEMS


def _warm_up_threads():
    import threading

    return [t for t in threading.enumerate() if t.name == "search-warm-up"]


def test_warm_up_search_outside_tests(data_index, tmp_path):
    app = create_app({"INDEX_DIR": data_index})
    for thread in _warm_up_threads():
        thread.join(timeout=60)
    assert app.extensions["search"].ix is not None  # the index was opened by the warm-up
    # Without an index the warm-up fails quietly and the app still answers.
    app = create_app({"INDEX_DIR": str(tmp_path / "none")})
    for thread in _warm_up_threads():
        thread.join(timeout=60)
    assert_error(app.test_client().get("/api/stats"), 503, "index_missing")


def test_no_warm_up_when_testing(data_index):
    app = create_app({"INDEX_DIR": data_index, "TESTING": True})
    assert app.extensions["search"].ix is None


def test_head_request(api):
    response = api.head("/api/search?q=ロシア")
    assert response.status_code == 200 and response.data == b""


def test_stats_follow_a_reindex(tmp_path, make_index):
    # Stats are counted once per index generation; a reindex must show.
    index_dir = make_index(NEWS_DUMPS[:1], into=tmp_path)  # 11 items of Feb 17
    dumps = tmp_path / "dumps"
    client = create_app({"INDEX_DIR": index_dir, "TESTING": True,
                         "REFRESH_SECONDS": 0.0}).test_client()
    assert get_json(client, "/api/stats")["items"] == 11
    assert get_json(client, "/api/stats")["dumps"] == 1
    assert get_json(client, "/api/stats")["last_date"] == "2025-02-17"
    (dumps / "day2.txt").write_text(
        "ロシア外相が緊急会見 https://t.co/zzz\n— ロイター (@ReutersJapan) February 20, 2025\n"
        "ロシアのラブロフ外相はクラスノヤルスクで緊急の記者会見を開いた。\n", encoding="utf-8")
    indexer.reindex(str(dumps), index_dir)
    stats = get_json(client, "/api/stats")
    assert stats["items"] == 12 and stats["dumps"] == 2
    assert stats["last_date"] == "2025-02-20"
    # A dump without items adds no document, so no new generation: the
    # reindex rewrites the same generation's manifest, which must show too.
    generation = stats_generation(index_dir)
    (dumps / "day3.txt").write_text("", encoding="utf-8")
    indexer.reindex(str(dumps), index_dir)
    assert stats_generation(index_dir) == generation
    assert get_json(client, "/api/stats")["dumps"] == 3


def stats_generation(index_dir):
    from search.index import storage

    return storage.open_index(index_dir).latest_generation()
