"""The Atom feed of a search (blueprint ``feeds``): ``/feed.atom?q=…`` with
the search's filters gives the FEED_ITEMS newest matching items, newest
first, as an Atom 1.0 feed (RFC 4287), written with lxml (which escapes
every text and attribute). Without ``q``: the newest items of all (that the
filters allow). (Not feedgen: its 1.0.0 drops the rel and type of every
entry link, lkiesow/python-feedgen#135, and two alternate links of one
type make an invalid entry.)

Each entry's id is a tag: URI of the item id (the same across reindexes),
its title the headline, its links the item's own link (rel=alternate) and
its page here (rel=alternate, type text/html), its updated time the item's
date (00:00 Japan time), its author the source, its summary the snippet as
plain text, its categories the tags. The feed's updated time is its newest
entry's.

Readers poll: the answer carries an ETag (a hash of the request and of the
entries: the same while the newest items are the same, even across
reindexes) and a Last-Modified (the time the index was committed), and a
conditional GET that matches gets 304 Not Modified. The ETag of a request
is remembered per index generation, so that a reader polling an unchanged
index costs no search.
"""

import hashlib
import re
import threading
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from flask import Blueprint, current_app, request, url_for
from lxml import etree
from werkzeug.datastructures import MultiDict

from search.index.schema import tag_key
from search.query import parse_request
from search.query.walk import FEED_ITEMS, newest

from .pages import external_url

bp = Blueprint("feeds", __name__)

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ID_PREFIX = "tag:nhk-search,2025:"  # tag: URIs (RFC 4151) of the feeds and the items
JST = timezone(timedelta(hours=9))
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
# Not part of a feed: it is always the newest items, newest first.
IGNORED = ("cursor", "page", "per_page", "sort", "group", "format")
SITE_NAME = "ニュース検索"
NO_HEADLINE = "（見出しなし）"
REMEMBERED = 1024  # ETags remembered, the latest requests
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def service():
    return current_app.extensions["search"]


def entry_id(item_id):
    """The stable id of an item's entry."""
    return f"{ID_PREFIX}item:{item_id}"


def feed_params(args):
    """The request's parameters that make the feed, in a canonical order."""
    pairs = [(k, v) for k, v in args.items(multi=True) if k not in IGNORED and v.strip()]
    return sorted(pairs)


class Validators:
    """ETags of the latest requests, each with the index state (generation,
    commit time) it was computed for."""

    def __init__(self):
        self.lock = threading.Lock()
        self.known = OrderedDict()

    def get(self, key):
        with self.lock:
            return self.known.get(key)

    def put(self, key, etag):
        with self.lock:
            self.known[key] = etag
            self.known.move_to_end(key)
            while len(self.known) > REMEMBERED:
                self.known.popitem(last=False)


def _validators():
    return current_app.extensions.setdefault("feed_validators", Validators())


@bp.get("/feed.atom")
def feed():
    pairs = feed_params(request.args)
    search_request = parse_request(MultiDict(pairs))
    s = service().searcher()
    indexed_at = service().stats().get("indexed_at")
    state = (s.reader().generation(), indexed_at, urlencode(pairs))
    modified = _parse_time(indexed_at)
    known = _validators().get(state)
    if known is not None and request.if_none_match.contains_weak(known):
        return _not_modified(known, modified)
    result = newest(service(), search_request, FEED_ITEMS)
    etag = hashlib.sha256(repr((state[2], [(h.id, h.date) for h in result.hits]))
                          .encode("utf-8")).hexdigest()[:32]
    _validators().put(state, etag)
    body = atom(search_request, result, pairs, modified)
    response = current_app.response_class(body, content_type=CONTENT_TYPE)
    response.set_etag(etag)
    if modified is not None:
        response.last_modified = modified
    return response.make_conditional(request)


def _not_modified(etag, modified):
    response = current_app.response_class(status=304)
    response.set_etag(etag)
    if modified is not None:
        response.last_modified = modified
    return response


def atom(search_request, result, pairs, modified=None):
    """The feed's XML (bytes) for the result of its request."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    query = urlencode(pairs)
    feed = etree.Element(_atom("feed"), nsmap={None: ATOM})
    feed.set(XML_LANG, "ja")
    _add(feed, "id", f"{ID_PREFIX}feed?{query}")
    _add(feed, "title", _title(search_request), type="text")
    _add(feed, "subtitle", _subtitle(search_request), type="text")
    updated = _add(feed, "updated")
    author = _add(feed, "author")
    _add(author, "name", SITE_NAME)
    _add(feed, "generator", SITE_NAME)
    _add(feed, "link", href=url_for("feeds.feed", _external=True) + (f"?{query}" if query else ""),
         rel="self", type="application/atom+xml")
    _add(feed, "link", href=url_for("pages.index", _external=True) + (f"?{query}" if query else ""),
         rel="alternate", type="text/html")
    newest = None
    for hit in result.hits:
        when = _day(hit.date) or modified or epoch
        newest = newest or when
        entry = _add(feed, "entry")
        _add(entry, "id", entry_id(hit.id))
        _add(entry, "title", hit.headline or NO_HEADLINE, type="text")
        _add(entry, "updated", when.isoformat())
        _add(entry, "published", when.isoformat())
        author = _add(entry, "author")
        _add(author, "name", hit.source or "不明")
        original = external_url(hit.url)
        if original:  # the item's own link (of unknown type: a short link, most often)
            _add(entry, "link", href=original, rel="alternate")
        _add(entry, "link", href=url_for("pages.item", item_id=hit.id, _external=True),
             rel="alternate", type="text/html")
        summary = _plain_snippet(hit.snippet)
        if summary:
            _add(entry, "summary", summary, type="text")
        for tag in hit.tags:
            term = tag_key(tag)  # as the tag facet and tag= write it
            if _text(term):
                _add(entry, "category", term=term, label=tag)
    updated.text = (newest or modified or epoch).isoformat()
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8")


def _atom(name):
    return f"{{{ATOM}}}{name}"


def _add(parent, name, text=None, **attributes):
    """A child element of the Atom namespace: its text and attributes made
    XML-safe (lxml escapes them)."""
    element = etree.SubElement(parent, _atom(name),
                               {k: _text(str(v)) for k, v in attributes.items()})
    if text is not None:
        element.text = _text(text)
    return element


def _title(search_request):
    q = search_request.q.strip()
    return f"「{q}」の新着記事 - {SITE_NAME}" if q else f"新着記事 - {SITE_NAME}"


def _subtitle(search_request):
    f = search_request.filters
    parts = [f"情報源: {'・'.join(f.sources)}"] if f.sources else []
    if f.tags:
        parts.append(f"タグ: {'・'.join(f.tags)}")
    if getattr(f, "labels", None):
        parts.append(f"ラベル: {'・'.join(f.labels)}")
    if f.date_from or f.date_to:
        parts.append(f"期間: {f.date_from or ''}〜{f.date_to or ''}")
    what = "、".join(parts)
    return f"新しい順に {FEED_ITEMS} 件" + (f"（{what}）" if what else "")


def _plain_snippet(snippet):
    """The snippet as plain text, "…" where the text was cut (no markup:
    the feed says type="text")."""
    if not snippet or not snippet.text:
        return ""
    return ("…" if snippet.cut_before else "") + snippet.text + ("…" if snippet.cut_after else "")


def _day(text):
    try:
        day = datetime.strptime(text or "", "%Y-%m-%d")
    except ValueError:
        return None
    return day.replace(tzinfo=JST)


def _parse_time(text):
    try:
        when = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when


def _text(text):
    """Text XML 1.0 can carry (control characters and lone surrogates dropped)."""
    return _NOT_XML.sub("", text or "")
