"""Server-rendered HTML pages (blueprint ``pages``): the search page at / and
one item at /items/<id>. Everything works without JavaScript: refinements,
sorting and paging are plain links that carry the current query.

The engine validates the parameters; its error on the search page is shown
on the page itself (HTTP 400). Other errors (unknown item, missing
index, …) go to the handler in ``web/errors.py``.
"""

import calendar
import re
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request, url_for
from markupsafe import Markup, escape

from search import render
from search.query import MAX_RESULTS, QueryError, parse_request

from .errors import query_status

bp = Blueprint("pages", __name__)

# The parameters a search URL carries, in the order they are written.
PARAMS = ("q", "op", "sort", "source", "tag", "from", "to", "per_page", "page")
SORTS = (("relevance", "関連度順"), ("newest", "新しい順"), ("oldest", "古い順"))
OPS = (("and", "すべての語を含む"), ("or", "いずれかの語を含む"))
PAGE_WINDOW = 2  # page numbers shown on each side of the current page
MAX_DATE_LINKS = 14  # the date facet lists days up to this many, then months, then years


def service():
    return current_app.extensions["search"]


# --------------------------------------------------------------- filters

@bp.app_template_filter("jdate")
def jdate(value):
    """2025-02-12 → 2025年2月12日 (anything else unchanged)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value or "")
    if not m:
        return value or ""
    return f"{int(m[1])}年{int(m[2])}月{int(m[3])}日"


@bp.app_template_filter("number")
def number(value):
    """12345 → 12,345."""
    return f"{int(value or 0):,}"


def external_url(url):
    """A link from a dump, made absolute; None unless it is http(s)."""
    url = (url or "").strip()
    if url.startswith("pic.twitter.com/"):
        url = "https://" + url
    return url if re.match(r"https?://[^\s]+$", url, re.I) else None


# ------------------------------------------------------------ search URLs

class Params:
    """The current request's search parameters, to write links that change
    some of them and keep the rest."""

    def __init__(self, args):
        self.values = {k: [v for v in args.getlist(k) if v.strip()] for k in PARAMS}

    def first(self, key):
        values = self.values.get(key) or []
        return values[0] if values else ""

    def url(self, endpoint="pages.index", item_id=None, **changes):
        """The search URL with changes applied: None drops a parameter, a
        list sets all its values. ``from_`` stands for ``from``. The page
        goes back to 1 unless given. (endpoint: another page that carries
        the search, such as an item's.)"""
        changes = {k.rstrip("_"): v for k, v in changes.items()}
        changes.setdefault("page", None)
        if str(changes["page"]) == "1":
            changes["page"] = None  # page 1 is the default: one URL per page
        pairs = []
        for key in PARAMS:
            values = changes[key] if key in changes else self.values[key]
            if values is None:
                continue
            values = [values] if isinstance(values, (str, int)) else values
            pairs.extend((key, str(v)) for v in values if str(v).strip())
        query = urlencode(pairs)
        base = url_for(endpoint, item_id=item_id) if item_id else url_for(endpoint)
        return base + ("?" + query if query else "")


def _facets(params, result):
    sources = params.values["source"]
    source_links = []
    for name, n in result["facets"]["source"].items():
        selected = name in sources
        others = [s for s in sources if s != name]
        source_links.append({
            "name": name, "count": n, "selected": selected,
            "url": params.url(source=others if selected else sources + [name])})
    tags = params.values["tag"]
    tag_links = []
    for tag, n in result["facets"].get("tag", {}).items():
        selected = tag in tags
        tag_links.append({
            "name": tag, "count": n, "selected": selected,
            "url": params.url(tag=[t for t in tags if t != tag] if selected else tags + [tag])})
    return source_links, _date_links(params, result["facets"]["date"]), tag_links


def _date_links(params, days):
    """The date facet, short whatever the range: days when there are few,
    else months, else years (the newest first), each a link to that period."""
    periods = _periods(days)
    day_from, day_to = params.first("from"), params.first("to")
    links = []
    for (first, last, label), n in periods.items():
        selected = day_from == first and day_to == last
        links.append({
            "day": first, "label": label, "count": n, "selected": selected,
            "url": params.url(from_=None, to=None) if selected else params.url(from_=first, to=last)})
    return links


def _periods(days):
    """{(first day, last day, label): count} of {YYYY-MM-DD: count} (newest
    first), by day up to MAX_DATE_LINKS days, else by month up to that many
    months, else by year."""
    if len(days) <= MAX_DATE_LINKS:
        return {(day, day, jdate(day)): n for day, n in days.items()}
    months = {}
    for day, n in days.items():
        months[day[:7]] = months.get(day[:7], 0) + n
    if len(months) <= MAX_DATE_LINKS:
        out = {}
        for month, n in months.items():
            year, m = int(month[:4]), int(month[5:7])
            last = calendar.monthrange(year, m)[1]
            out[(f"{month}-01", f"{month}-{last:02d}", f"{year}年{m}月")] = n
        return out
    years = {}
    for day, n in days.items():
        years[day[:4]] = years.get(day[:4], 0) + n
    return {(f"{y}-01-01", f"{y}-12-31", f"{int(y)}年"): n for y, n in years.items()}


def _filters(params):
    """The refinements in force, each with a link that removes it."""
    out = []
    for name in params.values["source"]:
        out.append({"label": f"情報源: {name}",
                    "url": params.url(source=[s for s in params.values["source"] if s != name])})
    for tag in params.values["tag"]:
        out.append({"label": f"タグ: {tag}",
                    "url": params.url(tag=[t for t in params.values["tag"] if t != tag])})
    day_from, day_to = params.first("from"), params.first("to")
    if day_from or day_to:
        if day_from == day_to:
            label = f"日付: {jdate(day_from)}"
        else:
            label = f"期間: {jdate(day_from)}〜{jdate(day_to)}"
        out.append({"label": label, "url": params.url(from_=None, to=None)})
    return out


def _pagination(params, result):
    page, per_page = result["page"], result["per_page"]
    last = min(result["pages"], MAX_RESULTS // per_page)
    if last <= 1:
        return None
    numbers = sorted({1, last} | set(range(max(1, page - PAGE_WINDOW),
                                           min(last, page + PAGE_WINDOW) + 1)))
    items, previous = [], 0
    for n in numbers:
        if n - previous > 1:
            items.append({"gap": True})
        items.append({"number": n, "current": n == page, "url": params.url(page=n)})
        previous = n
    return {
        "items": items,
        "prev": params.url(page=page - 1) if 1 < page <= last else None,
        "next": params.url(page=page + 1) if page < last else None,
    }


def _hits(result, params):
    hits = []
    for hit in result["hits"]:
        # The item page carries the whole search, so that its way back
        # returns to the same results (filters, sort, page).
        item_url = params.url(endpoint="pages.item", item_id=hit["id"],
                              page=params.first("page") or None)
        hits.append(dict(hit, item_url=item_url,
                         link=external_url(hit["url"]) or item_url,
                         tag_links=[{"name": t, "url": params.url(tag=[t])} for t in hit["tags"]]))
    return hits


# ------------------------------------------------------------------ pages

@bp.get("/")
def index():
    params = Params(request.args)
    q = params.first("q")
    context = {"q": q, "params": params, "sorts": SORTS, "ops": OPS,
               "sort": params.first("sort").strip().lower() or "relevance",
               "op": params.first("op").strip().lower() or "and"}
    if not q:
        return render_template("index.html", stats=service().stats(), **context)
    try:
        found = service().search(parse_request(request.args))
        result, searchable = render.search_json(found), found.searchable
    except QueryError as e:
        return render_template("index.html", error=e.message, **context), query_status(e)
    source_links, day_links, tag_links = _facets(params, result)
    first = (result["page"] - 1) * result["per_page"] + 1
    context.update(
        result=result, hits=_hits(result, params), tag_links=tag_links,
        unsearchable=result["total"] == 0 and not searchable,
        first=first, last=first + len(result["hits"]) - 1,
        source_links=source_links, day_links=day_links, filters=_filters(params),
        pagination=_pagination(params, result),
        sort_links=[{"label": label, "current": value == context["sort"],
                     "url": params.url(sort=None if value == "relevance" else value)}
                    for value, label in SORTS],
        without_filters=params.url(source=None, tag=None, from_=None, to=None),
        with_or=params.url(op="or") if context["op"] != "or" and len(q.split()) > 1 else None,
        first_page=params.url())
    return render_template("index.html", **context)


@bp.get("/items/<item_id>")
def item(item_id):
    q = request.args.get("q", "").strip()
    doc = render.item_json(service().item(item_id, q=q or None))
    # The engine marks the query's words as search matched them (analyzed,
    # so inflections, widths and compound parts are marked too).
    headline = Markup(doc["headline_html"]) if q else escape(doc.get("headline") or "")
    body = Markup(doc["body_html"]) if q else escape(doc.get("body") or "")
    paragraphs = [Markup(p) for p in str(body).split("\n") if p.strip()]
    params = Params(request.args)
    return render_template(
        "item.html", item=doc, q=q, headline=headline, paragraphs=paragraphs,
        links=[(u, external_url(u)) for u in dict.fromkeys(doc.get("urls") or [])],
        tag_links=[{"name": t, "url": params.url(tag=[t])} for t in doc.get("tags") or []],
        back=params.url(page=params.first("page") or None) if q else None)
