"""The OpenAPI 3.1 description of the JSON API and the feed, served at
``/api/openapi.json``: every endpoint, parameter and answer (errors
included), in one place. Ranges and choices are the engine's own constants
(search/query/request.py, search/query/language.py, search/export.py), so
the document cannot drift from what the engine checks; tests/test_openapi.py
validates the answers of the API tests against it and runs schemathesis
over it.

Answer objects list the fields every answer has (``required``) and allow
more, so that an added field does not break a client; the error object has
exactly its two fields.
"""

from functools import lru_cache

from search import export
from search.query import language
from search.query.request import (DEFAULT_PER_PAGE, GROUPS, INTERVALS, MAX_PER_PAGE, MAX_RESULTS,
                                  OPS, SORTS)
from search.query.walk import FEED_ITEMS

VERSION = "1.0.0"
ITEM_ID = "^[0-9a-fA-F]{16}$"
RELATED_LIMIT = (10, 50)  # default, largest (web/api.py related)
JSON = "application/json"


def _ref(name, kind="schemas"):
    return {"$ref": f"#/components/{kind}/{name}"}


def _strings():
    return {"type": "array", "items": {"type": "string"}}


def _counts():
    return {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}


def _nullable(schema):
    return {"oneOf": [schema, {"type": "null"}]}


def _query(name, schema, description, repeatable=False):
    out = {"name": name, "in": "query", "required": False, "description": description,
           "schema": {"type": "array", "items": schema} if repeatable else schema}
    if repeatable:
        out.update(style="form", explode=True)
    return out


PARAMETERS = {
    "q": _query("q", {"type": "string", "maxLength": language.MAX_QUERY_CHARS},
                f"The query (at most {language.MAX_QUERY_CHARS} characters and "
                f"{language.MAX_UNITS} words): words must all match (op=and), \"…\" is a "
                "phrase, -word excludes, A OR B, word* a prefix. Blank or absent: every item "
                "the filters allow, newest first."),
    "page": _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS,
                            "default": 1},
                   f"1-based page; page × per_page may not pass {MAX_RESULTS} (use cursor= to "
                   "go further). Not with cursor."),
    "per_page": _query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                                    "default": DEFAULT_PER_PAGE}, "Hits per page."),
    "op": _query("op", {"type": "string", "enum": list(OPS), "default": OPS[0]},
                 "and: every word must match; or: any word may."),
    "sort": _query("sort", {"type": "string", "enum": list(SORTS), "default": SORTS[0]},
                   "relevance, or by date (then relevance); a walk (cursor) and an export "
                   "break ties by item id."),
    "group": _query("group", {"type": "string", "enum": list(GROUPS), "default": GROUPS[0]},
                    "story: each story once, by its best hit. Not with cursor."),
    "syn": _query("syn", {"type": "string", "enum": ["1", "0"], "default": "1"},
                  "1: typed words also find their synonyms (news abbreviations, Sudachi's "
                  "synonym dictionary), ranked below exact matches; 0: the words as typed."),
    "source": _query("source", {"type": "string"},
                     "Only items of this source or handle (folded, or an unambiguous start); "
                     "an unknown one is a 400 that lists them. Repeatable (any of them).", True),
    "tag": _query("tag", {"type": "string"},
                  "Only items with this tag, or a tag of this topic. Repeatable.", True),
    "label": _query("label", {"type": "string"},
                    "Only items of dumps with this label. Repeatable.", True),
    "story": _query("story", {"type": "string", "pattern": ITEM_ID},
                    "Only items of this story (its id)."),
    "from": _query("from", {"type": "string", "format": "date"},
                   "Only items dated on or after this day (YYYY-MM-DD)."),
    "to": _query("to", {"type": "string", "format": "date"},
                 "Only items dated on or before this day; not before from."),
    "cursor": _query("cursor", {"type": "string", "maxLength": 8000},
                     "A walk through every result, past the paging limit: * (or blank) "
                     "starts one, then pass the answer's next_cursor with the same q, op, sort "
                     "and filters (per_page may change). Every item present throughout is "
                     "given exactly once, in the order of sort, even while the index is "
                     "reindexed. A malformed or foreign cursor is a 400 (invalid_cursor)."),
    "format": _query("format", {"type": "string", "enum": list(export.FORMATS),
                                "default": export.FORMATS[0]},
                     "ndjson: one item (as /api/items/<id>) a line; csv: UTF-8 with a BOM, "
                     f"columns {', '.join(export.CSV_COLUMNS)}; tags and labels joined by a "
                     "line feed."),
    "interval": _query("interval", {"type": "string", "enum": list(INTERVALS),
                                    "default": INTERVALS[0]}, "The timeline's buckets."),
    "limit": _query("limit", {"type": "integer", "minimum": 1, "maximum": RELATED_LIMIT[1],
                              "default": RELATED_LIMIT[0]}, "How many related items."),
    "item_id": {"name": "item_id", "in": "path", "required": True,
                "description": "An item id (16 hexadecimal digits); anything else is a 404.",
                "schema": {"type": "string"}},
    "item_q": _query("q", {"type": "string", "maxLength": language.MAX_QUERY_CHARS},
                     "With a query: headline_html and body_html mark its words."),
}

FILTERS = ["source", "tag", "label", "story", "from", "to"]
SEARCH = ["q", "page", "per_page", "op", "sort", "group", *FILTERS, "cursor", "syn"]
EXPORT = ["q", "op", "sort", *FILTERS, "format", "syn"]
FEED = ["q", "op", *FILTERS, "syn"]
TIMELINE = ["q", "op", *FILTERS, "interval", "syn"]

STORY = {"type": "object", "required": ["id", "size", "sources"], "properties": {
    "id": {"type": "string"}, "size": {"type": "integer", "minimum": 0},
    "sources": _strings(),
    "items": {**_strings(), "description": "group=story: the story's other matching items"}}}

HIT = {"type": "object",
       "required": ["id", "headline", "headline_html", "snippet", "source", "handle", "date",
                    "url", "tags", "score"],
       "properties": {
           "id": {"type": "string", "pattern": ITEM_ID},
           "headline": {"type": "string", "description": "plain text"},
           "headline_html": {"type": "string", "description": "HTML: escaped, matches in <mark>"},
           "snippet": {"type": "string", "description": "HTML: escaped, matches in <mark>"},
           "source": {"type": "string"}, "handle": {"type": "string"},
           "date": {"type": "string", "description": "YYYY-MM-DD"},
           "url": {"type": "string", "description": "the headline's first link, or \"\""},
           "tags": _strings(), "labels": _strings(), "score": {"type": "number"},
           "story": _nullable(_ref("Story"))}}

SEARCH_ANSWER = {
    "type": "object",
    "required": ["query", "total", "page", "per_page", "pages", "took_ms", "hits", "facets",
                 "expanded"],
    "properties": {
        "query": {"type": "string"},
        "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        "pages": {"type": "integer", "minimum": 0},
        "took_ms": {"type": "number", "minimum": 0},
        "hits": {"type": "array", "items": _ref("Hit"), "maxItems": MAX_PER_PAGE},
        "facets": {"type": "object", "required": ["source", "date", "tag"],
                   "additionalProperties": _counts(),
                   "properties": {"source": _counts(), "date": _counts(), "tag": _counts(),
                                  "label": _counts()}},
        "expanded": {"type": "object", "additionalProperties": _strings(),
                     "description": "each typed word expanded → the synonyms searched too "
                                    "({} when nothing was; syn=0 turns it off)"},
        "next_cursor": {**_nullable({"type": "string"}),
                        "description": "with cursor=: the next page's cursor; null at the end"},
    }}

ITEM = {"type": "object",
        "required": ["id", "headline", "body", "source", "handle", "date", "urls", "tags",
                     "dumps"],
        "properties": {
            "id": {"type": "string", "pattern": ITEM_ID},
            "headline": {"type": "string"}, "body": {"type": "string"},
            "source": {"type": "string"}, "handle": {"type": "string"},
            "date": {"type": "string"}, "urls": _strings(), "tags": _strings(),
            "dumps": _strings(), "labels": _strings(), "story": _ref("Story"),
            "headline_html": {"type": "string"}, "body_html": {"type": "string"}}}

STATS = {"type": "object",
         "required": ["items", "sources", "dumps", "first_date", "last_date", "indexed_at"],
         "properties": {
             "items": {"type": "integer", "minimum": 0}, "sources": _counts(),
             "dumps": {"type": "integer", "minimum": 0},
             "first_date": _nullable({"type": "string"}),
             "last_date": _nullable({"type": "string"}),
             "indexed_at": _nullable({"type": "string"})}}

RELATED = {"type": "object", "required": ["id", "story", "related"], "properties": {
    "id": {"type": "string"}, "story": _nullable(_ref("Story")),
    "related": {"type": "array", "maxItems": RELATED_LIMIT[1], "items": {
        "type": "object",
        "required": ["id", "headline", "source", "handle", "date", "url", "score", "same_story"],
        "properties": {"id": {"type": "string", "pattern": ITEM_ID},
                       "headline": {"type": "string"}, "source": {"type": "string"},
                       "handle": {"type": "string"}, "date": {"type": "string"},
                       "url": {"type": "string"}, "score": {"type": "number"},
                       "same_story": {"type": "boolean"}}}}}}

TIMELINE_ANSWER = {"type": "object", "required": ["query", "interval", "buckets", "sources"],
                   "properties": {
                       "query": {"type": "string"},
                       "interval": {"type": "string", "enum": list(INTERVALS)},
                       "buckets": {"type": "array", "items": {
                           "type": "object", "required": ["start", "count", "total", "share"],
                           "properties": {"start": {"type": "string"},
                                          "count": {"type": "integer", "minimum": 0},
                                          "total": {"type": "integer", "minimum": 0},
                                          "share": {"type": "number", "minimum": 0,
                                                    "maximum": 1}}}},
                       "sources": {"type": "object", "additionalProperties": {
                           "type": "array", "items": {"type": "integer", "minimum": 0}}}}}

ERROR = {"type": "object", "required": ["error"], "additionalProperties": False,
         "properties": {"error": {
             "type": "object", "required": ["code", "message"], "additionalProperties": False,
             "properties": {
                 "code": {"type": "string", "description": "for programs: invalid_parameter, "
                          "invalid_query, invalid_cursor, not_found, index_missing, …"},
                 "message": {"type": "string", "description": "for people, in Japanese"}}}}}


def _error(description):
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}}}


RESPONSES = {
    "BadRequest": _error("A parameter is malformed or out of range (the message says which)."),
    "NotFound": _error("No such item, or no such path."),
    "IndexMissing": _error("There is no index yet (run make reindex)."),
    "InternalError": _error("A bug; the traceback is in the server's log, never here."),
}


def _answer(description, schema, media=JSON, headers=None):
    out = {"description": description, "content": {media: {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def _operation(summary, parameters, ok, extra=None, description=None, operation_id=None):
    responses = {"200": ok, **(extra or {}),
                 "400": _ref("BadRequest", "responses"),
                 "503": _ref("IndexMissing", "responses"),
                 "500": _ref("InternalError", "responses")}
    out = {"operationId": operation_id, "summary": summary,
           "parameters": [_ref(p, "parameters") for p in parameters], "responses": responses}
    if description:
        out["description"] = description
    return {"get": out}


@lru_cache(maxsize=1)
def _document():
    text = {"type": "string"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ニュース全文検索 API", "version": VERSION,
                 "description": "Japanese full-text search over daily dumps of news posts. "
                                "Every answer is UTF-8; errors are {\"error\": {\"code\", "
                                "\"message\"}} with a Japanese message. See docs/api.md."},
        "servers": [{"url": "/"}],
        "paths": {
            "/api/search": _operation(
                "Ranked, highlighted hits with totals and facets", SEARCH,
                _answer("A page of hits (with cursor=: the walk's page and next_cursor).",
                        _ref("SearchAnswer")), operation_id="search"),
            "/api/items/{item_id}": _operation(
                "One whole item", ["item_id", "item_q"], _answer("The item.", _ref("Item")),
                {"404": _ref("NotFound", "responses")}, operation_id="item"),
            "/api/items/{item_id}/related": _operation(
                "The item's story and items like it", ["item_id", "limit"],
                _answer("Related items, the same story's first.", _ref("Related")),
                {"404": _ref("NotFound", "responses")}, operation_id="related"),
            "/api/timeline": _operation(
                "Matches per day, week or month", TIMELINE,
                _answer("The timeline.", _ref("Timeline")), operation_id="timeline"),
            "/api/stats": _operation("What the index holds", [],
                                     _answer("Counts of the index.", _ref("Stats")),
                                     operation_id="stats"),
            "/api/export": _operation(
                "Every matching item, streamed", EXPORT,
                {"description": "Every item the search selects in the order of sort (ties by "
                                "id), no cap, streamed: NDJSON (one /api/items/<id> object a "
                                "line) or CSV (UTF-8 with a BOM, a header row).",
                 "headers": {"X-Total-Count": {"description": "how many items follow",
                                               "schema": {"type": "integer", "minimum": 0}},
                             "Content-Disposition": {"schema": text}},
                 "content": {"application/x-ndjson": {"schema": text},
                             "text/csv": {"schema": text}}},
                operation_id="export"),
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": _answer("The OpenAPI 3.1 document.", {"type": "object"}),
                              "500": _ref("InternalError", "responses")}}},
            "/feed.atom": _operation(
                f"An Atom feed of the {FEED_ITEMS} newest matching items", FEED,
                {"description": "An Atom 1.0 feed (RFC 4287), newest first.",
                 "headers": {"ETag": {"schema": text},
                             "Last-Modified": {"schema": text,
                                               "description": "when the index was committed"}},
                 "content": {"application/atom+xml": {"schema": text}}},
                {"304": {"description": "Not modified since the ETag (If-None-Match) or the "
                                        "time (If-Modified-Since) the reader sent.",
                         "headers": {"ETag": {"schema": text}}}},
                description="Conditional GET: send back the ETag as If-None-Match (or the "
                            "Last-Modified as If-Modified-Since) to get 304 when nothing "
                            "changed. Errors are the JSON error object.",
                operation_id="feed"),
        },
        "components": {
            "parameters": PARAMETERS,
            "responses": RESPONSES,
            "schemas": {"Error": ERROR, "Hit": HIT, "Story": STORY, "SearchAnswer": SEARCH_ANSWER,
                        "Item": ITEM, "Stats": STATS, "Related": RELATED,
                        "Timeline": TIMELINE_ANSWER},
        },
    }


def document():
    """The OpenAPI document (a new dict each call)."""
    import copy

    return copy.deepcopy(_document())
