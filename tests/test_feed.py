"""/feed.atom (web/feeds.py): an Atom 1.0 feed of a search's newest items,
read back with feedparser and checked against RFC 4287 with lxml; stable
entry ids; conditional GET; the results page links it."""

import re
import shutil
from datetime import date
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
from lxml import etree

from search.index.schema import tag_key

from helpers import MARKUP_DUMP, app_for
from openapi_check import validate
from walk_data import build, copy_sample, write_items

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feed")
    copy_sample(folder)
    shutil.copy(MARKUP_DUMP, folder / "dumps" / MARKUP_DUMP.name)
    build(folder)
    return folder


@pytest.fixture(scope="module")
def client(folder):
    return app_for(str(folder / "index")).test_client()


def feed(client, params=None, headers=None, status=200):
    response = client.get("/feed.atom", query_string=params or {}, headers=headers or {})
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    validate(response)
    return response


def newest(client, params):
    """The newest matching items, as a walk sorted newest gives them."""
    answer = client.get("/api/search", query_string=dict(params, sort="newest", per_page=50,
                                                         cursor="*")).get_json()
    return answer["hits"]


def rfc4287(body):
    """The structural rules of RFC 4287 a feed must keep; the parsed root."""
    root = etree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert root.find(f"{ATOM}author/{ATOM}name").text
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert entry.find(f"{ATOM}id").text.startswith("tag:")
        assert entry.find(f"{ATOM}author/{ATOM}name").text
        alternates = [(link.get("type"), link.get("hreflang"))
                      for link in entry.findall(f"{ATOM}link")
                      if link.get("rel", "alternate") == "alternate"]
        assert alternates and len(alternates) == len(set(alternates))  # 4.1.1
        assert entry.find(f"{ATOM}content") is not None or alternates
        summary = entry.find(f"{ATOM}summary")
        assert summary is None or (summary.get("type") == "text" and not len(summary))
    return root


@pytest.mark.parametrize("params", [{"q": "ウクライナ"}, {}, {"q": "ロシア", "source": "NHK"},
                                    {"q": "ウクライナ", "from": "2025-02-13", "to": "2025-02-13"},
                                    {"q": "ペスコフ NATO", "op": "or"}, {"q": "検証"}])
def test_the_feed_is_atom_of_the_newest_matches(client, params):
    response = feed(client, params)
    assert response.mimetype == "application/atom+xml"
    rfc4287(response.data)
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo and parsed.version == "atom10"
    hits = newest(client, params)
    assert [e.id for e in parsed.entries] == [f"tag:nhk-search,2025:item:{h['id']}" for h in hits]
    dates = [e.updated for e in parsed.entries]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert parsed.feed.updated == (dates[0] if dates else parsed.feed.updated)
    for entry, hit in zip(parsed.entries, hits):
        assert entry.title == (hit["headline"] or "（見出しなし）")
        assert entry.updated == f"{hit['date']}T00:00:00+09:00"
        assert entry.author == hit["source"]
        hrefs = [link.href for link in entry.links if link.rel == "alternate"]
        assert f"http://localhost/items/{hit['id']}" in hrefs
        if hit["url"].startswith("http"):
            assert hrefs[0] == hit["url"]
        assert [t.term for t in entry.get("tags", [])] == [tag_key(t) for t in hit["tags"]]
        # The snippet, as plain text: the marks gone, the text itself.
        plain = re.sub(r"</?mark>", "", hit["snippet"])
        plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') \
                     .replace("&#x27;", "'").replace("&amp;", "&")
        if plain:
            assert entry.summary_detail.type == "text/plain" and entry.summary == plain
        else:  # a headline-only item: no snippet, no summary
            assert "summary" not in entry
    if params.get("source"):
        assert {e.author for e in parsed.entries} == {"NHKニュース"}


def test_markup_in_items_is_text_in_the_feed(client):
    body = feed(client, {"q": "検証"}).data
    assert b"<script>" not in body and b"<img" not in body and b"<b>" not in body
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in body
    parsed = feedparser.parse(body)
    titles = [e.title for e in parsed.entries]
    assert any("<script>alert(1)</script>" in t for t in titles)  # as text, read back
    root = etree.fromstring(body)
    hrefs = [link.get("href") for link in root.iter(f"{ATOM}link")]
    assert 'https://example.com/x?a=1&b="><script>alert(3)</script>' in hrefs


def test_a_feed_without_a_query_is_the_newest_items(client):
    parsed = feedparser.parse(feed(client).data)
    assert parsed.feed.title == "新着記事 - ニュース検索"
    assert len(parsed.entries) == 38  # every item of the index (fewer than 50)
    assert parsed.entries[0].updated.startswith("2025-02-14")


def test_the_feed_holds_the_50_newest(tmp_path):
    write_items(tmp_path, 120, per_day=10)
    client = app_for(build(tmp_path)).test_client()
    parsed = feedparser.parse(feed(client, {"q": "会見"}).data)
    assert len(parsed.entries) == 50
    assert {e.updated[:10] for e in parsed.entries} == {f"2024-01-{d:02d}" for d in range(8, 13)}


def test_entry_ids_stay_across_a_full_reindex(tmp_path):
    copy_sample(tmp_path)
    index = build(tmp_path)
    client = app_for(index).test_client()
    first = [e.id for e in feedparser.parse(feed(client, {"q": "ロシア"}).data).entries]
    shutil.rmtree(index)
    build(tmp_path, full=True)
    again = [e.id for e in feedparser.parse(app_for(index).test_client()
                                            .get("/feed.atom?q=ロシア").data).entries]
    assert again == first and len(first) > 5


def test_readers_polling_an_unchanged_feed_get_304(tmp_path):
    copy_sample(tmp_path, names={"2025-02-12.txt", "2025-02-13.txt"})
    client = app_for(build(tmp_path)).test_client()
    first = feed(client, {"q": "ロシア"})
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = feed(client, {"q": "ロシア"}, {"If-None-Match": etag}, status=304)
    assert again.data == b"" and again.headers["ETag"] == etag
    feed(client, {"q": "ロシア"}, {"If-Modified-Since": modified}, status=304)
    assert feed(client, {"q": "ウクライナ"}, {"If-None-Match": etag}).headers["ETag"] != etag
    # A reindex that brings no newer match: the same entries, the same ETag.
    write_items(tmp_path, 3, first=date(2025, 3, 1), word="会見")
    build(tmp_path)
    feed(client, {"q": "ロシア"}, {"If-None-Match": etag}, status=304)
    # A newer match: a new feed, the new item first.
    copy_sample(tmp_path, names={"2025-02-14.txt"})
    build(tmp_path)
    changed = feed(client, {"q": "ロシア"}, {"If-None-Match": etag})
    assert changed.headers["ETag"] != etag
    assert feedparser.parse(changed.data).entries[0].updated.startswith("2025-02-14")


def test_bad_parameters_are_json_errors(client):
    for params in ({"from": "昨日"}, {"source": "存在しない"}, {"op": "xor"}, {"q": "あ" * 501}):
        response = feed(client, params, status=400)
        assert set(response.get_json()["error"]) == {"code", "message"}


def test_the_results_page_links_its_feed(client):
    html = client.get("/?q=ウクライナ&source=ロイター&sort=newest&page=1").get_data(as_text=True)
    head = html.split("</head>")[0]
    link = re.search(r'<link rel="alternate" type="application/atom\+xml"[^>]*href="([^"]+)"', head)
    visible = re.search(r'<a href="([^"]+)"[^>]*>フィードで購読</a>', html)
    assert link and visible and link[1] == visible[1]
    url = urlsplit(link[1].replace("&amp;", "&"))
    assert url.path == "/feed.atom"
    assert parse_qs(url.query) == {"q": ["ウクライナ"], "source": ["ロイター"]}
    assert feedparser.parse(client.get(link[1].replace("&amp;", "&")).data).entries
