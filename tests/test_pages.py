"""Tests of the HTML pages (web/pages.py, templates, static files) on the
index of the test dumps (tests/data): the search page's parts (count, marks, facets, paging, sorting, the
no-results and error messages), the item page, error pages, security headers
and the rules the templates keep (no inline script or style, local assets)."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from web import CSP, create_app

from helpers import NEWS_DAYS, NEWS_ITEMS

WEB = Path(__file__).resolve().parents[1] / "web"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


# ------------------------------------------------------------- tiny DOM

class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def find_all(self, tag=None, **attrs):
        return [n for n in self.iter() if (tag is None or n.tag == tag)
                and all(n.attrs.get(k.rstrip("_").replace("_", "-")) == v
                        for k, v in attrs.items())]

    def find(self, tag=None, **attrs):
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def has_class(self, name):
        return name in (self.attrs.get("class") or "").split()


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#root", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def dom(response):
    builder = _Builder()
    builder.feed(response.get_data(as_text=True))
    return builder.root


def params(href):
    return parse_qs(urlsplit(href).query)


def get(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response


# The page groups hits by story unless group=none; the tests of the list of
# items (counts, facets, paging) ask for the list.
ITEMS = "&group=none"


def total(page):
    text = page.find("strong", class_="total").text()
    m = re.fullmatch(r"([\d,]+) 件", text.strip())
    assert m, text
    return int(m[1].replace(",", ""))


def facet_links(page, label):
    nav = page.find("nav", aria_label=label)
    return {} if nav is None else {a.find("span", class_="facet-name").text()
                                   if a.find("span", class_="facet-name") is not None
                                   else a.find("time").attrs["datetime"]: a
                                   for a in nav.find_all("a")}


# ------------------------------------------------------------------ home

def test_home(client):
    page = dom(get(client, "/"))
    html = page.find("html")
    assert html.attrs["lang"] == "ja"
    assert page.find("meta", name="viewport").attrs["content"].startswith("width=device-width")
    for landmark in ("header", "main", "footer"):
        assert page.find(landmark) is not None, landmark
    form = page.find("form", role="search")
    assert form.attrs["method"] == "get" and form.attrs["action"] == "/"
    label = form.find("label", for_="q")
    assert label.text() == "検索"
    box = form.find("input", id="q")
    assert box.attrs["name"] == "q" and box.attrs["type"] == "search"
    assert form.find("button").text() == "検索"
    assert f"{NEWS_ITEMS} 件の記事" in page.find("main").text()
    assert page.find("title").text()


def test_home_has_only_local_assets(client):
    page = dom(get(client, "/"))
    for link in page.find_all("link"):
        assert link.attrs["href"].startswith(("/static/", "data:")), link.attrs
    for script in page.find_all("script"):
        assert script.attrs.get("src", "").startswith("/static/"), script.attrs
        assert not script.text().strip()
    for node in page.iter():
        assert "style" not in node.attrs and not any(a.startswith("on") for a in node.attrs)


def test_static_files(client):
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert b"@import" not in css.data and b"url(http" not in css.data
    assert b":focus-visible" in css.data


def test_blank_query_is_the_home_page(client):
    page = dom(get(client, "/?q=%20%20"))
    assert page.find("strong", class_="total") is None
    assert f"{NEWS_ITEMS} 件の記事" in page.find("main").text()


# --------------------------------------------------------------- results

def test_results(client):
    response = get(client, "/?q=ペスコフ" + ITEMS)
    page = dom(response)
    assert total(page) == 3
    assert page.find("input", id="q").attrs["value"] == "ペスコフ"
    assert "「ペスコフ」の検索結果" in page.find("h1").text()
    hits = page.find_all("li", class_="hit")
    assert len(hits) == 3
    marks = [m.text() for m in page.find_all("mark")]
    assert marks and set(marks) == {"ペスコフ"}
    for hit in hits:
        title = hit.find("h2").find("a")
        assert title.attrs["href"].startswith("https://t.co/")
        assert title.text()
        view = [a for a in hit.find_all("a") if a.text().startswith("記事を表示")][0]
        path, query = view.attrs["href"].split("?")
        assert re.fullmatch(r"/items/[0-9a-f]{16}", path)
        assert parse_qs(query) == {"q": ["ペスコフ"], "group": ["none"]}  # the way back
        assert hit.find("time").attrs["datetime"] == "2025-02-18"
        assert hit.find("time").text() == "2025年2月18日"
        assert hit.find("span", class_="source").text()
        assert hit.find("p", class_="snippet").find("mark") is not None
    sources = {h.find("span", class_="source").text() for h in hits}
    assert sources == {"ロイター", "NHKニュース", "ブルームバーグニュース"}


def test_hit_without_url_links_to_item(client, monkeypatch, app):
    service = app.extensions["search"]
    real = service.search

    def no_urls(p):
        answer = real(p)
        for hit in answer["hits"]:
            hit["url"] = ""
        return answer

    monkeypatch.setattr(service, "search", no_urls)
    page = dom(app.test_client().get("/?q=ペスコフ"))
    for hit in page.find_all("li", class_="hit"):
        assert hit.find("h2").find("a").attrs["href"].startswith("/items/")


def test_count_and_range(client):
    page = dom(get(client, "/?q=ウクライナ&page=2" + ITEMS))
    assert total(page) == 19
    assert "11〜19 件目" in page.find("p", class_="summary").text()
    assert page.find("ol", class_="hits").attrs["start"] == "11"


def test_source_facet_refines(client):
    page = dom(get(client, "/?q=ウクライナ&sort=newest&op=or" + ITEMS))
    links = facet_links(page, "情報源で絞り込む")
    assert set(links) >= {"ロイター", "NHKニュース"}
    reuters = links["ロイター"]
    count = int(reuters.find("span", class_="facet-count").text().split()[0])
    query = params(reuters.attrs["href"])
    assert query == {"q": ["ウクライナ"], "op": ["or"], "sort": ["newest"], "source": ["ロイター"],
                     "group": ["none"]}
    refined = dom(get(client, reuters.attrs["href"]))
    assert total(refined) == count <= total(page)
    assert {s.text() for s in refined.find_all("span", class_="source")} == {"ロイター"}
    # The chosen facet is marked and its link takes it off again.
    chosen = facet_links(refined, "情報源で絞り込む")["ロイター"]
    assert chosen.attrs.get("aria-current") == "true"
    assert "source" not in params(chosen.attrs["href"])
    # ...so does the filter shown above the results.
    filters = refined.find("ul", class_="filters")
    assert "情報源: ロイター" in filters.text()
    assert "source" not in params(filters.find("a").attrs["href"])


def test_source_facets_add_up(client):
    # With one source chosen the others stay listed, to add them.
    page = dom(get(client, "/?q=ウクライナ&source=ロイター"))
    other = facet_links(page, "情報源で絞り込む")
    assert "ロイター" in other and "NHKニュース" in other
    assert params(other["NHKニュース"].attrs["href"])["source"] == ["ロイター", "NHKニュース"]
    page = dom(get(client, "/?q=ロシア" + ITEMS))
    links = facet_links(page, "情報源で絞り込む")
    counts = [int(a.find("span", class_="facet-count").text().split()[0]) for a in links.values()]
    assert sum(counts) == total(page)


def test_date_facet_refines(client):
    page = dom(get(client, "/?q=ウクライナ&sort=oldest"))
    links = facet_links(page, "日付で絞り込む")
    assert set(links) == set(NEWS_DAYS)
    day = links["2025-02-19"]
    assert params(day.attrs["href"]) == {"q": ["ウクライナ"], "sort": ["oldest"],
                                         "from": ["2025-02-19"], "to": ["2025-02-19"]}
    refined = dom(get(client, day.attrs["href"]))
    assert total(refined) == 6
    assert {t.attrs["datetime"] for t in refined.find("ol", class_="hits").find_all("time")} == {
        "2025-02-19"}
    chosen = facet_links(refined, "日付で絞り込む")["2025-02-19"]
    assert chosen.attrs.get("aria-current") == "true"
    assert "from" not in params(chosen.attrs["href"])


def test_facet_links_reset_the_page(client):
    page = dom(get(client, "/?q=ウクライナ&page=2"))
    for a in facet_links(page, "情報源で絞り込む").values():
        assert "page" not in params(a.attrs["href"])


def test_pagination(client):
    page = dom(get(client, "/?q=ウクライナ"))
    nav = page.find("nav", aria_label="ページ送り")
    assert nav is not None
    links = {a.text(): a for a in nav.find_all("a")}
    assert "次へ" in links and "前へ" not in links
    assert params(links["次へ"].attrs["href"]) == {"q": ["ウクライナ"], "page": ["2"]}
    current = nav.find("a", aria_current="page")
    assert current.text().endswith("1")
    second = dom(get(client, links["次へ"].attrs["href"]))
    nav = second.find("nav", aria_label="ページ送り")
    links = {a.text(): a for a in nav.find_all("a")}
    assert "前へ" in links and "次へ" not in links
    assert params(links["前へ"].attrs["href"]) == {"q": ["ウクライナ"]}  # page 1
    assert nav.find("a", aria_current="page").text().endswith("2")


def test_pagination_numbers_keep_the_query(client):
    page = dom(get(client, "/?q=ウクライナ&per_page=3&sort=newest&source=ロイター&source=NHKニュース"
                           + ITEMS))
    assert total(page) == 13
    nav = page.find("nav", aria_label="ページ送り")
    numbers = [a for a in nav.find_all("a") if a.text()[-1].isdigit()]
    assert [a.text()[-1] for a in numbers] == ["1", "2", "3", "5"]  # 1 2 3 … 5
    assert "…" in nav.text()
    last = params(numbers[-1].attrs["href"])
    assert last == {"q": ["ウクライナ"], "sort": ["newest"], "source": ["ロイター", "NHKニュース"],
                    "per_page": ["3"], "group": ["none"], "page": ["5"]}
    last_page = dom(get(client, numbers[-1].attrs["href"]))
    assert len(last_page.find_all("li", class_="hit")) == 1


def test_no_pagination_for_one_page(client):
    page = dom(get(client, "/?q=ペスコフ"))
    assert page.find("nav", aria_label="ページ送り") is None


def test_page_past_the_end(client):
    page = dom(get(client, "/?q=ウクライナ&page=5" + ITEMS))
    assert total(page) == 19
    assert not page.find_all("li", class_="hit")
    assert "このページには記事がありません" in page.find("main").text()


def test_sort_links(client):
    page = dom(get(client, "/?q=ウクライナ&source=ロイター"))
    nav = page.find("nav", aria_label="並び順")
    links = {a.text(): a for a in nav.find_all("a")}
    assert set(links) == {"関連度順", "新しい順", "古い順"}
    assert links["関連度順"].attrs.get("aria-current") == "true"
    assert params(links["新しい順"].attrs["href"]) == {
        "q": ["ウクライナ"], "sort": ["newest"], "source": ["ロイター"]}
    for label, reverse in (("新しい順", True), ("古い順", False)):
        sorted_page = dom(get(client, links[label].attrs["href"]))
        dates = [t.attrs["datetime"] for t in sorted_page.find("ol", class_="hits").find_all("time")]
        assert dates == sorted(dates, reverse=reverse) and len(set(dates)) == 3
        current = sorted_page.find("nav", aria_label="並び順").find("a", aria_current="true")
        assert current.text() == label


def test_sort_select_in_form(client):
    page = dom(get(client, "/?q=ウクライナ&sort=oldest&op=or"))
    form = page.find("form", role="search")
    sort = form.find("select", name="sort")
    assert form.find("label", for_=sort.attrs["id"]).text() == "並び順"
    assert "selected" in sort.find("option", value="oldest").attrs
    op = form.find("select", name="op")
    assert "selected" in op.find("option", value="or").attrs


def test_form_keeps_source_filters(client):
    page = dom(get(client, "/?q=ウクライナ&source=ロイター&tag=%23x"))
    form = page.find("form", role="search")
    hidden = {(i.attrs["name"], i.attrs["value"]) for i in form.find_all("input", type="hidden")}
    assert hidden == {("source", "ロイター"), ("tag", "#x")}


def test_no_results(client):
    response = get(client, "/?q=存在しない語ゾゾゾ")
    page = dom(response)
    assert total(page) == 0
    main = page.find("main").text()
    assert "「存在しない語ゾゾゾ」に一致する記事は見つかりませんでした" in main
    assert page.find("ul", class_="hints") is not None
    assert page.find("nav", aria_label="ページ送り") is None


def test_no_results_hints_offer_or_and_unfiltered(client):
    page = dom(get(client, "/?q=ペスコフ NATO&source=BBC News Japan"))
    assert total(page) == 0
    hints = {a.text(): a.attrs["href"] for a in page.find("ul", class_="hints").find_all("a")}
    or_link = [h for t, h in hints.items() if "OR" in t][0]
    assert params(or_link)["op"] == ["or"]
    unfiltered = [h for t, h in hints.items() if "絞り込み" in t][0]
    assert params(unfiltered) == {"q": ["ペスコフ NATO"]}
    assert total(dom(get(client, unfiltered))) >= 1


@pytest.mark.parametrize("query, words", [
    ("q=a&page=0", "page"), ("q=a&per_page=101", "per_page"), ("q=a&sort=foo", "sort"),
    ("q=a&from=2025-13-01", "from"), ("q=" + "x" * 600, "500 文字"),
    ("q=a&from=2025-02-13&to=2025-02-12", "from"),
])
def test_bad_parameters_show_a_message(client, query, words):
    response = get(client, "/?" + query, status=400)
    page = dom(response)
    alert = page.find("div", role="alert")
    assert alert is not None and words in alert.text()
    assert page.find("form", role="search") is not None  # the user can search again


@pytest.mark.parametrize("q", ["%ff", "%00", "*", "(", "%22", "NOT", "title:foo", "-", "OR",
                               "((((((((((a))))))))))"])
def test_odd_queries_render(client, q):
    response = client.get("/?q=" + q)
    assert response.status_code in (200, 400)
    assert "<html lang=\"ja\">" in response.get_data(as_text=True)


# ------------------------------------------------------------------ item

def first_hit_id(client, q):
    return client.get(f"/api/search?q={q}").get_json()["hits"][0]["id"]


def test_item_page(client):
    item_id = first_hit_id(client, "ペスコフ")
    item = client.get(f"/api/items/{item_id}").get_json()
    page = dom(get(client, f"/items/{item_id}"))
    article = page.find("article")
    assert article.find("h1").text() == item["headline"]
    assert article.find("span", class_="source").text() == item["source"]
    assert article.find("time").attrs["datetime"] == item["date"]
    assert f"@{item['handle']}" in article.text()
    paragraphs = [p.text() for p in article.find("div", class_="item-body").find_all("p")]
    assert paragraphs == [line for line in item["body"].split("\n") if line.strip()]
    hrefs = [a.attrs["href"] for a in article.find("dl").find_all("a")]
    assert hrefs == list(dict.fromkeys(item["urls"]))  # each link once, in order
    assert item["dumps"][0] in article.text()
    assert page.find("mark") is None  # no query, nothing marked
    assert page.find("html").attrs["lang"] == "ja"


def test_item_page_marks_query_words(client):
    item_id = first_hit_id(client, "ペスコフ")
    page = dom(get(client, f"/items/{item_id}?q=ペスコフ 報道官 -ロシア"))
    marks = [m.text() for m in page.find_all("mark")]
    assert "ペスコフ" in marks and "報道官" in marks
    assert "ロシア" not in marks  # an excluded word is not marked
    back = page.find("nav", aria_label="パンくずリスト").find("a")
    assert params(back.attrs["href"]) == {"q": ["ペスコフ 報道官 -ロシア"]}


def test_item_page_tags(client):
    item_id = client.get("/api/search?q=ウクライナ&tag=%23米宇(鉱物資源協定)").get_json()[
        "hits"][0]["id"]
    page = dom(get(client, f"/items/{item_id}"))
    tags = [li.text() for li in page.find("ul", class_="tags").find_all("li")]
    assert tags == ["#米宇(鉱物資源協定)", "#米宇(レアアース)"]


@pytest.mark.parametrize("path", ["/items/0000000000000000", "/items/nope", "/items/%ff",
                                  "/no/such/page"])
def test_404_page(client, path):
    response = get(client, path, status=404)
    page = dom(response)
    assert page.find("html").attrs["lang"] == "ja"
    assert "見つかりません" in page.find("main").text()
    assert page.find("a", href="/") is not None


def test_405_page(client):
    response = client.post("/")
    assert response.status_code == 405
    assert "このメソッドは使えません" in response.get_data(as_text=True)


def test_index_missing_page(tmp_path):
    client = create_app({"INDEX_DIR": str(tmp_path / "none"), "TESTING": True}).test_client()
    for url in ("/", "/?q=ロシア", "/items/de3679f00cd7b7ed"):
        response = client.get(url)
        assert response.status_code == 503, url
        text = dom(response).find("main").text()
        assert "make reindex" in text and "インデックス" in text


# ------------------------------------------------------ item page marks

def test_item_page_marks_words_as_search_matched_them(client):
    # Analyzed like the index: width variants, compound parts and the
    # hiragana reading of a name are marked, not only the literal text.
    hit = client.get("/api/search?q=スパイ容疑").get_json()["hits"][0]
    page = client.get(f"/items/{hit['id']}?q=ｽﾊﾟｲ 保安 ぺすこふ")
    marks = [m.text() for m in dom(page).find_all("mark")]
    assert "スパイ" in marks and "保安" in marks
    item = client.get(f"/api/items/{hit['id']}?q=ＳＢＵ").get_json()
    assert "<mark>SBU</mark>" in item["body_html"]
    peskov = client.get("/api/search?q=ペスコフ").get_json()["hits"][0]["id"]
    item = client.get(f"/api/items/{peskov}?q=ぺすこふ").get_json()
    assert "<mark>ペスコフ</mark>" in item["body_html"]


# -------------------------------------------------------------- headers

@pytest.mark.parametrize("url", ["/", "/?q=ロシア", "/?q=a&page=0", "/items/de3679f00cd7b7ed",
                                 "/items/nope", "/api/search?q=ロシア", "/api/stats",
                                 "/api/search", "/api/nope", "/static/style.css"])
def test_security_headers(client, url):
    response = client.get(url)
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_csp_forbids_inline_script():
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP


def test_templates_have_no_inline_script_or_style():
    for path in (WEB / "templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert "<style" not in text, path.name
        assert not re.search(r"\sstyle=", text), path.name
        assert not re.search(r"\son[a-z]+=", text), path.name
        assert "http://" not in text and "https://" not in text, path.name  # no CDN


def test_only_engine_html_is_unescaped():
    for path in (WEB / "templates").glob("*.html"):
        for expr in re.findall(r"\{\{([^}]*)\|\s*safe", path.read_text(encoding="utf-8")):
            assert expr.strip().endswith(("headline_html", "snippet")), (path.name, expr)


@pytest.mark.parametrize("url", ["/static/../__init__.py", "/static/..%2f__init__.py",
                                 "/static/%2e%2e/pages.py", "/static/../../search/query.py",
                                 "/static//etc/passwd", "/items/..%2f..%2fsetup.cfg"])
def test_paths_cannot_escape_their_folders(client, url):
    response = client.get(url, follow_redirects=True)  # // is redirected to /
    assert response.status_code in (404, 400), url
    assert b"import" not in response.data and b"root:" not in response.data
