"""A day of real use, as a journalist meets it: scripts and curl against the
real server (gunicorn, as `make run` starts it), the query language as
people type it, the page's links, and the CLI in a pipe. Each test names
what got in the way before."""

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from search.ingest import reindex
from web import SECURITY_HEADERS, create_app

from helpers import get_json
from servers import gunicorn

ROOT = Path(__file__).resolve().parents[1]


def raw_get(port, target: bytes, timeout=10):
    """GET target sent byte for byte, as curl sends what it is given:
    (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def json_without_timing(body):
    answer = json.loads(body)
    answer.pop("took_ms", None)
    return answer


@pytest.fixture(scope="module")
def server(sample_index):
    """`python -m search serve` on the sample dumps' index: its port."""
    with gunicorn(sample_index) as port:
        yield port


@pytest.fixture(scope="module")
def client(sample_index):
    return create_app({"INDEX_DIR": sample_index, "TESTING": True}).test_client()


# ------------------------------------------------------- scripts and the API

def test_raw_utf8_in_the_url_is_answered_like_its_percent_encoded_form(server):
    # curl sends the Japanese of `curl '…?q=ペスコフ'` as raw UTF-8 bytes.
    raw = raw_get(server, "/api/search?q=ペスコフ&per_page=5".encode("utf-8"))
    encoded = raw_get(server, f"/api/search?q={quote('ペスコフ')}&per_page=5".encode())
    assert raw[0] == encoded[0] == 200
    assert json_without_timing(raw[2]) == json_without_timing(encoded[2])
    assert json.loads(raw[2])["total"] > 0
    page = raw_get(server, "/?q=ペスコフ".encode("utf-8"))
    assert page[0] == 200 and "<mark>ペスコフ</mark>" in page[2].decode("utf-8")


def test_what_the_http_server_refuses_is_our_json_error_with_our_headers(server):
    status, headers, body = raw_get(server, b"/api/search?q=a\x01b")
    assert status == 400
    assert json.loads(body)["error"]["code"] == "bad_request"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value


def test_a_long_query_within_the_limit_reaches_the_engine(server):
    # ~460 characters of Japanese: ~4,400 bytes percent-encoded, past
    # gunicorn's default request-line limit (4,094).
    q = ("ロシア大統領府の報道官はウクライナ情勢について" * 20)[:460]
    status, _, body = raw_get(server, f"/api/search?q={quote(q)}".encode())
    assert status == 200, body
    assert json.loads(body)["query"] == q
    too_long = q + "あ" * 60
    status, _, body = raw_get(server, f"/api/search?q={quote(too_long)}".encode())
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_query"


def test_a_url_past_the_servers_limit_is_answered_in_our_words(server):
    huge = quote("ロ" * 1000)  # 9,000 bytes
    status, headers, body = raw_get(server, f"/api/search?q={huge}".encode())
    assert status == 414 and headers["Content-Type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == "uri_too_long" and "500 文字" in error["message"]
    assert headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    status, headers, body = raw_get(server, f"/?q={huge}".encode())
    assert status == 414 and headers["Content-Type"].startswith("text/html")
    assert "URL が長すぎます" in body.decode("utf-8") and '<html lang="ja">' in body.decode()


@pytest.mark.parametrize("typed, meant", [
    ("NHK", "NHKニュース"), ("ＮＨＫニュース", "NHKニュース"), ("nhk_news", "NHKニュース"),
    ("reutersjapan", "ロイター"), ("@ReutersJapan", "ロイター"), ("ﾛｲﾀｰ", "ロイター"),
    ("bbc", "BBC News Japan"), ("sputnik", "Sputnik 日本"),
])
def test_the_source_filter_folds_width_case_and_at(client, typed, meant):
    folded = get_json(client, f"/api/search?q=ウクライナ&source={quote(typed)}")
    exact = get_json(client, f"/api/search?q=ウクライナ&source={quote(meant)}")
    assert folded["total"] == exact["total"] > 0
    assert {h["source"] for h in folded["hits"]} == {meant}


def test_a_source_the_index_does_not_have_is_a_400_that_lists_them(client):
    error = get_json(client, f"/api/search?q=ウクライナ&source={quote('朝日新聞')}", 400)["error"]
    assert error["code"] == "invalid_parameter" and "朝日新聞" in error["message"]
    for name in ("NHKニュース", "ロイター", "BBC News Japan"):
        assert name in error["message"]
    ambiguous = get_json(client, "/api/search?q=ウクライナ&source=B", 400)["error"]
    assert "BBC News Japan" in ambiguous["message"] and "ブルームバーグニュース" in ambiguous["message"]
    page = client.get(f"/?q=ウクライナ&source={quote('朝日新聞')}")
    assert page.status_code == 400 and "朝日新聞" in page.get_data(as_text=True)


# ------------------------------------------------ the query language as typed

def totals(client, q, **params):
    query = "&".join(f"{k}={quote(str(v))}" for k, v in dict(q=q, **params).items())
    return get_json(client, f"/api/search?{query}")["total"]


def test_typographic_quotes_are_quotes(client):
    straight = totals(client, '"大統領府報道官"')
    assert totals(client, "“大統領府報道官”") == straight
    assert 0 < straight < totals(client, "大統領府報道官 大統領")


def test_and_is_a_space_and_not_excludes(client):
    both = totals(client, "ロシア ウクライナ")
    assert totals(client, "ロシア AND ウクライナ") == both > 0
    without = totals(client, "ロシア -ウクライナ")
    assert totals(client, "ロシア NOT ウクライナ") == without
    assert without < totals(client, "ロシア")


@pytest.mark.parametrize("invisible", ["\u200b", "\u200d", "\ufeff", "\u2060", "\u00ad"])
def test_invisible_characters_pasted_with_a_word_are_ignored(client, invisible):
    assert totals(client, "ロシア" + invisible) == totals(client, "ロシア") > 0
    assert totals(client, "ロ" + invisible + "シア") == totals(client, "ロシア")


def test_a_headline_only_item_is_not_punished_for_having_no_body(client):
    hits = get_json(client, f"/api/search?q={quote('トランプ プーチン 電話会談')}")["hits"]
    bbc = [i for i, h in enumerate(hits) if h["source"] == "BBC News Japan"]
    assert bbc and bbc[0] < 3, [(h["source"], h["score"]) for h in hits]
    assert hits[bbc[0]]["snippet"] == ""  # the stored body stays empty


# ---------------------------------------------------------------- the page

def links(html, pattern):
    hrefs = [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', html)]
    return [href for href in hrefs if re.search(pattern, href)]


def test_back_to_results_keeps_every_parameter(client):
    search = f"/?q=ウクライナ&source={quote('NHKニュース')}&sort=newest&per_page=2&page=2"
    html = client.get(search).get_data(as_text=True)
    item = links(html, r"^/items/")[0]
    page = client.get(item).get_data(as_text=True)
    back = re.search(r'<nav class="breadcrumb".*?href="([^"]+)"', page, re.S)[1].replace("&amp;", "&")
    assert parse_qs(urlsplit(back).query) == parse_qs(urlsplit(search).query)
    assert "<mark>ウクライナ</mark>" in page  # the item still marks the query


def test_tags_are_links_that_filter_and_have_a_facet(client):
    html = client.get("/?q=ウクライナ").get_data(as_text=True)
    tag_links = links(html, r"[?&]tag=")
    assert tag_links, "no tag link on the results page"
    filtered = client.get(tag_links[0]).get_data(as_text=True)
    assert "タグ: " in filtered and 'aria-label="タグで絞り込む"' in html
    facet = get_json(client, "/api/search?q=ウクライナ")["facets"]["tag"]
    assert facet and all(not t.startswith("#") for t in facet)


def test_a_tags_topic_part_matches_it(client):
    # #米ウ(資源パートナーシップ) and #米ウ(ミュンヘン会談): one topic, 米ウ.
    topic = get_json(client, f"/api/search?q=ウクライナ&tag={quote('米ウ')}")
    assert topic["total"] == 2
    assert all(any(t.startswith("#米ウ(") for t in h["tags"]) for h in topic["hits"])
    one = get_json(client, f"/api/search?q=ウクライナ&tag={quote('＃米ウ（ミュンヘン会談）')}")
    assert one["total"] == 1


def test_the_item_page_lists_each_link_once(client):
    found = get_json(client, "/api/search?q=ペスコフ&per_page=10")["hits"]
    item = next(h for h in found if h["id"] == "d8853b2d4ad4981f")
    stored = get_json(client, f"/api/items/{item['id']}")
    assert len(stored["urls"]) == 2 and len(set(stored["urls"])) == 1  # the dump has it twice
    page = client.get(f"/items/{item['id']}").get_data(as_text=True)
    assert page.count(f'href="{stored["urls"][0]}"') == 1


def test_a_query_of_particles_says_why_nothing_was_found(client):
    html = client.get(f"/?q={quote('の')}").get_data(as_text=True)
    assert "検索できません" in html and "助詞" in html
    assert "語の数を減らす" not in html


def test_the_home_page_focuses_the_search_box(client):
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'<input type="search" id="q"[^>]*\bautofocus\b', home)
    results = client.get("/?q=ロシア").get_data(as_text=True)
    assert not re.search(r'<input type="search" id="q"[^>]*\bautofocus\b', results)


def write_days(folder, days, per_day=1):
    """A dump a day for `days` days from 2024-01-01, each item about 会見."""
    from datetime import date, timedelta

    folder.mkdir(parents=True, exist_ok=True)
    for n in range(days):
        day = date(2024, 1, 1) + timedelta(days=n)
        items = "".join(
            f"外相が定例会見 {n}-{k} https://t.co/d{n}k{k}\n"
            f"— ロイター (@ReutersJapan) {day:%B} {day.day}, {day.year}\n"
            f"外相は{day.month}月{day.day}日の定例会見で第{k}の課題について述べた。\n"
            for k in range(per_day))
        (folder / f"{day.isoformat()}.txt").write_text(items, encoding="utf-8")


def test_the_date_facet_stays_short_as_the_range_grows(tmp_path):
    write_days(tmp_path / "dumps", 120)
    reindex.reindex(str(tmp_path / "dumps"), str(tmp_path / "index"))
    client = create_app({"INDEX_DIR": str(tmp_path / "index"), "TESTING": True}).test_client()
    html = client.get("/?q=会見").get_data(as_text=True)
    facet = re.search(r'aria-label="日付で絞り込む">(.*?)</nav>', html, re.S)[1]
    months = links(facet, r"from=")
    assert len(months) == 4  # January to April 2024, not 120 days
    assert "2024年1月" in facet and "2024年4月" in facet
    january = parse_qs(urlsplit(months[-1]).query)
    assert january["from"] == ["2024-01-01"] and january["to"] == ["2024-01-31"]
    assert "31" in client.get(months[-1]).get_data(as_text=True)  # 31 items in January


# ----------------------------------------------------------------- the CLI

def cli(*args, index, **kwargs):
    return subprocess.run([sys.executable, "-m", "search", *args, "--index", index],
                          cwd=ROOT, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """An index of 250 items, all about 会見."""
    folder = tmp_path_factory.mktemp("many")
    write_days(folder / "dumps", 50, per_day=5)
    reindex.reindex(str(folder / "dumps"), str(folder / "index"))
    return str(folder / "index")


def test_cli_limit_past_one_page_gets_every_hit(many):
    result = cli("query", "会見", "--limit", "5000", "--jsonl", index=many)
    assert result.returncode == 0, result.stderr
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert len(ids) == len(set(ids)) == 250


def test_cli_pages_and_json_with_the_total(many):
    whole = json.loads(cli("query", "会見", "--limit", "250", "--json", index=many).stdout)
    assert whole["total"] == 250 and len(whole["hits"]) == 250
    second = json.loads(cli("query", "会見", "--limit", "120", "--page", "2", "--json",
                            index=many).stdout)
    assert second["total"] == 250 and second["page"] == 2 and second["pages"] == 3
    assert [h["id"] for h in second["hits"]] == [h["id"] for h in whole["hits"][120:240]]


def test_cli_stops_quietly_when_the_reader_stops(many):
    proc = subprocess.Popen([sys.executable, "-m", "search", "query", "会見", "--limit", "250",
                             "--jsonl", "--index", many],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and json.loads(first)["id"]
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_cli_limit_mistakes_are_its_own_words(many):
    result = cli("query", "会見", "--limit", "0", index=many)
    assert result.returncode == 2 and "--limit" in result.stderr and "per_page" not in result.stderr
    result = cli("query", "会見", "--limit", "6000", "--page", "2", index=many)
    assert result.returncode == 2 and "10000" in result.stderr and "per_page" not in result.stderr


def test_headers_the_server_refuses_are_our_json_error_under_the_api(server):
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(b"GET /api/stats HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split()[1] in (b"400", b"431")
    assert b"application/json" in head and json.loads(body)["error"]["code"]


def test_double_prime_quotes_are_quotes(client):
    assert totals(client, "″大統領府報道官″") == totals(client, '"大統領府報道官"')
