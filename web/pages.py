"""Server-rendered HTML pages (blueprint ``pages``): the search page at / and
one item at /items/<id>. Everything works without JavaScript: refinements,
sorting and paging are plain links that carry the current query.

The engine validates the parameters; its error on the search page is shown
on the page itself (HTTP 400). Other errors (unknown item, missing
index, …) go to the handler in ``web/errors.py``.
"""

import calendar
import re
from dataclasses import replace
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from markupsafe import Markup, escape

from search import render
from search.query import MAX_RESULTS, QueryError, parse_request
from search.query.request import parse_synonyms

from . import charts
from .errors import query_status

bp = Blueprint("pages", __name__)

# The parameters a search URL carries, in the order they are written.
PARAMS = ("q", "op", "sort", "source", "tag", "label", "story", "from", "to", "group",
          "timeline", "per_page", "page", "syn")
FILTERS = ("source", "tag", "label", "story", "from", "to")
SORTS = (("relevance", "関連度順"), ("newest", "新しい順"), ("oldest", "古い順"))
OPS = (("and", "すべての語を含む"), ("or", "いずれかの語を含む"))
SHOWN_SYNONYMS = 6  # a word's synonyms named on the page (the API lists them all)
PAGE_WINDOW = 2  # page numbers shown on each side of the current page
RELATED = 10  # related items on an item page
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
    facets = result["facets"]
    return (_choices(params, "source", facets["source"]), _date_links(params, facets["date"]),
            _choices(params, "tag", facets.get("tag", {})),
            _choices(params, "label", facets.get("label", {})))


def _choices(params, key, counts):
    """A multi-select facet's links: each value adds itself to the
    parameter's values (any of them), or removes itself when chosen."""
    chosen = params.values[key]
    links = []
    for value, n in counts.items():
        selected = value in chosen
        others = [v for v in chosen if v != value]
        links.append({"name": value, "count": n, "selected": selected,
                      "url": params.url(**{key: others if selected else chosen + [value]})})
    return links


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
    for label in params.values["label"]:
        out.append({"label": f"ダンプ: {label}",
                    "url": params.url(label=[v for v in params.values["label"] if v != label])})
    if params.first("story"):
        out.append({"label": "同じ話題の記事", "url": params.url(story=None, group=None)})
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


def _timeline(params, search_request, days, link_params=None):
    """The chart of the request's timeline over its range: from..to when
    given, else its matches' days; None when there is nothing to draw."""
    f = search_request.filters
    first = f.date_from.isoformat() if f.date_from else min(days, default=None)
    last = f.date_to.isoformat() if f.date_to else max(days, default=None)
    interval = charts.auto_interval(first, last)
    if interval is None:
        return None
    try:
        found = render.timeline_json(service().timeline(replace(search_request, page=1), interval))
    except QueryError:  # a range the timeline cannot draw: the results stand without it
        return None
    link_params = link_params or params
    measure = params.first("timeline") or "count"
    within = (f.date_from and f.date_from.isoformat(), f.date_to and f.date_to.isoformat())
    chart = charts.chart(found, lambda first, last: link_params.url(from_=first, to=last),
                         measure, within)
    if chart is None:
        return None
    chart["switch"] = [{"label": label, "current": value == chart["measure"],
                        "url": params.url(timeline=None if value == "count" else value,
                                          page=params.first("page") or None)}
                       for value, label in charts.MEASURES]
    return chart


def _home(params):
    """The home page: what the archive holds, its timeline, and the newest
    day's items grouped by story."""
    stats = service().stats()
    out = {"stats": stats, "home": None, "timeline": None}
    if not stats.get("last_date"):
        return out
    newest = parse_request({"from": stats["last_date"], "to": stats["last_date"],
                            "group": "story", "per_page": 20})
    result = render.search_json(service().search(newest))
    day = Params(MultiDict({"from": stats["last_date"], "to": stats["last_date"]}))
    out["home"] = {"day": stats["last_date"], "result": result, "hits": _hits(result, day),
                   "more": day.url()}
    out["timeline"] = _timeline(params, parse_request({}),
                                [stats["first_date"], stats["last_date"]])
    return out


def _story_line(hit, params):
    """ほか N 件（ロイター、BBC News Japan …）: the story's other matching
    items, as a link that lists them (no JavaScript needed)."""
    story = hit.get("story") or {}
    others = story.get("items")
    if not others:
        return None
    sources = [s for s in story.get("sources", ())][:3]
    more = len(story.get("sources", ())) > 3
    return {"count": len(others), "sources": "、".join(sources) + (" …" if more else ""),
            "url": params.url(story=story["id"], group="none")}


def _hits(result, params):
    hits = []
    for hit in result["hits"]:
        # The item page carries the whole search, so that its way back
        # returns to the same results (filters, sort, page).
        item_url = params.url(endpoint="pages.item", item_id=hit["id"],
                              page=params.first("page") or None)
        hits.append(dict(hit, item_url=item_url,
                         link=external_url(hit["url"]) or item_url,
                         tag_links=[{"name": t, "url": params.url(tag=[t])} for t in hit["tags"]],
                         story_line=_story_line(hit, params)))
    return hits


# ------------------------------------------------------------------ pages

@bp.get("/")
def index():
    params = Params(request.args)
    q = params.first("q")
    context = {"q": q, "params": params, "sorts": SORTS, "ops": OPS,
               "sort": params.first("sort").strip().lower() or "relevance",
               "op": params.first("op").strip().lower() or "and"}
    context["grouped"] = params.first("group") != "none"
    if not q and not any(params.values[k] for k in FILTERS):
        return render_template("index.html", **context, **_home(params))
    args = request.args.copy()
    if context["grouped"]:
        args["group"] = "story"  # the page groups by story unless asked not to
    try:
        search_request = parse_request(args)
        found = service().search(search_request)
        result, searchable = render.search_json(found), found.searchable
    except QueryError as e:
        return render_template("index.html", error=e.message, **context), query_status(e)
    context["timeline"] = _timeline(params, search_request, result["facets"]["date"])
    source_links, day_links, tag_links, label_links = _facets(params, result)
    first = (result["page"] - 1) * result["per_page"] + 1
    context.update(
        result=result, hits=_hits(result, params), tag_links=tag_links, label_links=label_links,
        unsearchable=result["total"] == 0 and not searchable,
        first=first, last=first + len(result["hits"]) - 1,
        source_links=source_links, day_links=day_links, filters=_filters(params),
        pagination=_pagination(params, result),
        sort_links=[{"label": label, "current": value == context["sort"],
                     "url": params.url(sort=None if value == "relevance" else value)}
                    for value, label in SORTS],
        without_filters=params.url(source=None, tag=None, label=None, story=None, from_=None, to=None),
        group_links=[{"label": "話題ごとにまとめる", "current": context["grouped"],
                      "url": params.url(group=None)},
                     {"label": "すべて表示", "current": not context["grouped"],
                      "url": params.url(group="none")}],
        with_or=params.url(op="or") if context["op"] != "or" and len(q.split()) > 1 else None,
        expanded=[{"word": word, "synonyms": "、".join(found[:SHOWN_SYNONYMS])
                   + ("…" if len(found) > SHOWN_SYNONYMS else "")}
                  for word, found in result["expanded"].items() if found],
        without_synonyms=params.url(syn="0"),
        with_synonyms=params.url(syn=None) if not search_request.synonyms else None,
        first_page=params.url())
    return render_template("index.html", **context)


@bp.get("/items/<item_id>")
def item(item_id):
    q = request.args.get("q", "").strip()
    doc = render.item_json(service().item(item_id, q=q or None,
                                          synonyms=parse_synonyms(request.args)))
    # The engine marks the query's words as search matched them (analyzed,
    # so inflections, widths and compound parts are marked too).
    headline = Markup(doc["headline_html"]) if q else escape(doc.get("headline") or "")
    body = Markup(doc["body_html"]) if q else escape(doc.get("body") or "")
    paragraphs = [Markup(p) for p in str(body).split("\n") if p.strip()]
    params = Params(request.args)
    story, related = service().related(item_id, RELATED)
    same = [r for r in related if r.same_story]
    return render_template(
        "item.html", item=doc, q=q, headline=headline, paragraphs=paragraphs,
        same_story=[_related(r, params) for r in same],
        related=[_related(r, params) for r in related if not r.same_story],
        story_size=story.size,
        links=[(u, external_url(u)) for u in dict.fromkeys(doc.get("urls") or [])],
        tag_links=[{"name": t, "url": params.url(tag=[t])} for t in doc.get("tags") or []],
        back=params.url(page=params.first("page") or None) if q else None)


def _related(r, params):
    return {"headline": r.headline, "source": r.source, "date": r.date,
            "url": params.url(endpoint="pages.item", item_id=r.id,
                              page=params.first("page") or None)}
