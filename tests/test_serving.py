"""The real server (gunicorn, as `python -m search serve` runs it) keeps
answering while the index is rebuilt, and picks up new items without a
restart."""

import http.client
import json
import threading
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from search.ingest import reindex as indexer

from servers import gunicorn
from helpers import NEWS_DUMPS, NEWS_ITEMS, item_json, search_json

ROOT = Path(__file__).resolve().parents[1]


def get(port, path, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def total(port, q):
    status, body = get(port, f"/api/search?q={quote(q)}&per_page=1")
    assert status == 200, body
    return body["total"]


@pytest.fixture
def server(tmp_path, make_index):
    index_dir = Path(make_index(NEWS_DUMPS, into=tmp_path))
    with gunicorn(index_dir) as port:
        yield port, tmp_path / "dumps", index_dir


def test_serves_page_and_api_with_two_workers(server):
    port, _, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/?q=" + quote("ペスコフ"))
    response = conn.getresponse()
    page = response.read().decode()
    assert response.status == 200 and "件" in page and "<mark>ペスコフ</mark>" in page
    assert response.getheader("Server", "").startswith("gunicorn")
    status, stats = get(port, "/api/stats")
    assert status == 200 and stats["items"] == NEWS_ITEMS


def test_queries_never_fail_during_reindex_and_new_items_appear(server):
    port, dumps, index_dir = server
    before = total(port, "ロシア")
    failures, answered = [], [0]
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                status, body = get(port, "/api/search?q=" + quote("ロシア 大統領") + "&per_page=5")
                if status != 200 or body["total"] < 1:
                    failures.append((status, body))
                answered[0] += 1
            except OSError as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        (dumps / "new.txt").write_text(
            "ロシア外相が緊急会見 https://t.co/zzz\n— ロイター (@ReutersJapan) February 15, 2025\n"
            "ロシアのラブロフ外相はクラスノヤルスクで緊急の記者会見を開いた。\n", encoding="utf-8")
        assert indexer.reindex(str(dumps), str(index_dir)).added == 1
        deadline = time.monotonic() + 5
        while total(port, "クラスノヤルスク") == 0:
            assert time.monotonic() < deadline, "the new item did not appear within 5 s"
            time.sleep(0.1)
        for _ in range(2):
            assert indexer.reindex(str(dumps), str(index_dir), full=True).added == NEWS_ITEMS + 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:3]
    assert answered[0] > 20
    # Each server thread looks for a newer index at most once a second.
    deadline = time.monotonic() + 5
    while total(port, "ロシア") != before + 1:
        assert time.monotonic() < deadline, "the rebuilt index was not picked up within 5 s"
        time.sleep(0.1)


def test_a_searcher_opened_before_a_full_rebuild_still_answers(tmp_path, make_index):
    """A full reindex deletes the files of the old segments; a server thread
    that has not refreshed yet must still read stored fields, lengths and
    columns of the index it opened."""
    from search.query import SearchService

    index_dir = make_index(NEWS_DUMPS, into=tmp_path)
    dumps = tmp_path / "dumps"
    service = SearchService(index_dir)
    service.searcher()  # opened now, refreshed at most once a second
    indexer.reindex(str(dumps), index_dir, full=True)
    for sort in ("relevance", "newest"):
        result = search_json(service, {"q": "ペスコフ", "sort": sort})
        assert result["total"] == 3 and result["hits"][0]["snippet"]
    assert item_json(service, result["hits"][0]["id"])["source"]


def test_item_ids_kept_as_bytes_find_and_name_the_same_documents(sample_index):
    """The server keeps a worker's ids as 16 bytes each, not numpy's 64 of
    str: the same documents for the same ids, the same text back, and an id
    that cannot be one (not ASCII, too long) found nowhere."""
    from search.query import SearchService
    from search.query.columns import ItemIds

    service = SearchService(sample_index)
    s = service.searcher()
    ids = ItemIds(s)
    assert ids.ids.dtype == np.dtype("S16")
    text = [s.stored_fields(d)["id"] for d in range(s.doc_count_all())]
    assert [ids.id_of(d) for d in range(len(text))] == text
    some = sorted(set(text))[::7]
    found = ids.docnums(some + ["日本語のid", "0" * 17])
    assert sorted(text[d] for d in found) == sorted(t for t in text if t in some)
    assert ids.docnums(["日本語のid"]).size == 0


def test_the_command_line_and_the_query_types_load_no_numpy():
    """`python -m search` builds its parser from the query package's types
    (formats, sorts, limits), and gunicorn's master process imports the app
    before forking: neither loads numpy or the evaluation (each worker
    does, on its first search)."""
    import subprocess
    import sys

    code = ("import sys, search.cli, search.query; search.cli.build_parser(); "
            "print(sorted(m for m in ('numpy', 'search.query.evaluate', 'search.query.service') "
            "if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
