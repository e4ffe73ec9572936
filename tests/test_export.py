"""/api/export and `python -m search export` (search/export.py,
search/query/walk.py): every matching item, in the order of sort, as
NDJSON (the items of /api/items/<id>) or CSV (UTF-8 with a BOM), streamed
a chunk at a time in constant memory, past 10,000 items."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tracemalloc

import pytest

from search import export as exporting
from search.query import SearchService, parse_request
from search.query import walk

from helpers import MARKUP_DUMP, app_for
from openapi_check import validate
from walk_data import ROOT, SAMPLE_ITEMS, build, copy_sample, many_items, write_items


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    copy_sample(folder)
    shutil.copy(MARKUP_DUMP, folder / "dumps" / MARKUP_DUMP.name)
    return build(folder)


@pytest.fixture(scope="module")
def client(index):
    return app_for(index).test_client()


def export(client, params, status=200):
    response = client.get("/api/export", query_string=params, buffered=False)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.is_streamed or status != 200  # a generator, not a body made in memory
    validate(response)
    return response


def ndjson(response):
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def walked_ids(client, params):
    ids, cursor = [], "*"
    while cursor:
        answer = client.get("/api/search", query_string=dict(params, per_page=100,
                                                             cursor=cursor)).get_json()
        ids += [h["id"] for h in answer["hits"]]
        cursor = answer["next_cursor"]
    return ids


@pytest.mark.parametrize("params", [{"q": "ウクライナ"}, {}, {"q": "ロシア", "sort": "newest"},
                                    {"q": "ロシア", "sort": "oldest", "source": "NHK"},
                                    {"tag": "米ウ"}, {"q": "ペスコフ NATO", "op": "or"},
                                    {"q": "ウクライナ", "from": "2025-02-13", "to": "2025-02-14"}])
def test_ndjson_is_every_match_as_the_items_api_gives_it(client, params):
    response = export(client, dict(params, format="ndjson"))
    assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    items = ndjson(response)
    total = client.get("/api/search", query_string=params).get_json()["total"]
    assert len(items) == total == int(response.headers["X-Total-Count"])
    assert [item["id"] for item in items] == walked_ids(client, params)  # the walk's order
    for item in items:
        assert item == client.get(f"/api/items/{item['id']}").get_json()


def test_csv_is_utf8_with_a_bom_and_one_row_per_item(client):
    response = export(client, {"q": "", "format": "csv"})
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="export.csv"' in response.headers["Content-Disposition"]
    data = response.data
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == exporting.CSV_COLUMNS == (
        "id", "date", "source", "handle", "headline", "url", "tags", "labels", "body")
    assert len(rows) == 1 + SAMPLE_ITEMS + 2
    items = {i["id"]: i for i in ndjson(export(client, {"format": "ndjson"}))}
    for row in rows[1:]:
        values = dict(zip(rows[0], row))
        item = items[values["id"]]
        for column in ("date", "source", "handle", "headline", "body"):
            assert values[column] == item[column]
        assert values["url"] == (item["urls"][0] if item["urls"] else "")
        assert values["tags"].split("\n") == item["tags"] if item["tags"] else not values["tags"]
        assert values["labels"] == "\n".join(item["labels"])
    assert [r[0] for r in rows[1:]] == list(items)  # the same order as the NDJSON


def test_csv_quotes_what_needs_quoting(client):
    data = export(client, {"q": "検証", "format": "csv"}).data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data, newline="")))
    bodies = [dict(zip(rows[0], r))["body"] for r in rows[1:]]
    assert any("<script>alert(1)</script>" in b and "\n" in b for b in bodies)
    assert '"' in data and "\r\n" in data  # quoted fields, CRLF rows


def test_nothing_matches_is_an_empty_export(client):
    assert export(client, {"q": "存在しない語句ですよ"}).data == b""
    data = export(client, {"q": "存在しない語句ですよ", "format": "csv"}).data
    assert data == b"\xef\xbb\xbf" + ",".join(exporting.CSV_COLUMNS).encode() + b"\r\n"


def test_bad_parameters_are_400(client):
    for params in ({"format": "xml"}, {"from": "x"}, {"source": "存在しない"}, {"sort": "up"}):
        response = export(client, params, status=400)
        assert set(response.get_json()["error"]) == {"code", "message"}


# ------------------------------------------------------------ the command line

def cli(*args, index):
    return subprocess.run([sys.executable, "-m", "search", "export", *args, "--index", index],
                          cwd=ROOT, capture_output=True)


def test_the_cli_writes_the_export_and_nothing_else_to_stdout(client, index):
    done = cli("ロシア", "--format", "csv", "--sort", "newest", "--source", "NHK", index=index)
    assert done.returncode == 0 and done.stderr == b""  # no progress bar: stderr is no terminal
    assert done.stdout == export(client, {"q": "ロシア", "format": "csv", "sort": "newest",
                                          "source": "NHK"}).data
    done = cli("--from", "2025-02-13", "--to", "2025-02-13", index=index)
    assert done.stdout == export(client, {"from": "2025-02-13", "to": "2025-02-13"}).data
    assert done.stdout.count(b"\n") > 5
    bad = cli("ロシア", "--source", "存在しない", index=index)
    assert bad.returncode == 2 and bad.stdout == b"" and "情報源" in bad.stderr.decode()


def test_the_cli_shows_progress_on_a_terminal(index):
    """stderr a terminal (a pty): a tqdm bar there; stdout still the data alone."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 80 columns
    try:
        done = subprocess.run([sys.executable, "-m", "search", "export", "--index", index],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=follower, timeout=120)
        os.close(follower)
        follower = None
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower is not None:
            os.close(follower)
        os.close(leader)
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == SAMPLE_ITEMS + 2
    assert "件" in shown.decode("utf-8", "replace")


# --------------------------------------------------------- many items

@pytest.fixture(scope="module")
def many(tmp_path_factory):
    return many_items(tmp_path_factory)


def test_an_export_has_no_cap(many):
    client = app_for(many).test_client()
    response = client.get("/api/export?q=会見", buffered=False)
    assert response.is_streamed
    chunks = list(response.response)  # what the server writes, a chunk at a time
    assert len(chunks) >= 10_500 // walk.CHUNK
    lines = b"".join(chunks).splitlines()
    assert len(lines) == 10_500 == len({json.loads(line)["id"] for line in lines})
    rows = client.get("/api/export?format=csv&sort=oldest").data.decode("utf-8-sig")
    assert len(rows.splitlines()) == 10_501


@pytest.fixture(scope="module")
def long_items(tmp_path_factory):
    """800 items of about 1,000 characters, 100 a day."""
    folder = tmp_path_factory.mktemp("long")
    write_items(folder, 800, per_day=100, sentences=50)
    return build(folder)


def streamed_peak(service, params, chunk=50):
    """(bytes written, the peak of memory allocated while streaming them,
    `chunk` items at a time)."""
    found = walk.export(service, parse_request(params))
    tracemalloc.start()
    try:
        written = sum(len(data) for data in exporting.stream(found.chunks(chunk), "ndjson"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return written, peak


def test_an_export_streams_in_constant_memory(long_items):
    service = SearchService(long_items)
    streamed_peak(service, {"q": "会見"})  # warm: the columns of the generation are read once
    small, small_peak = streamed_peak(service, {"q": "会見", "to": "2024-01-02"})  # 200 items
    large, large_peak = streamed_peak(service, {"q": "会見"})  # 800 items
    assert large > 3.5 * small and large > 2_000_000
    assert large_peak < 1.3 * small_peak  # four times the items, not four times the memory
    assert large_peak < large / 2  # a fraction of what was written
    # The server's chunks (walk.CHUNK items): the same, a chunk's worth at most.
    _, served_peak = streamed_peak(service, {"q": "会見"}, walk.CHUNK)
    _, two_chunks = streamed_peak(service, {"q": "会見", "to": "2024-01-06"}, walk.CHUNK)
    assert served_peak < 1.3 * two_chunks
