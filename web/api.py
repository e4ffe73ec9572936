"""The JSON API (blueprint ``api``, mounted at /api). See docs/api.md.

The engine validates every parameter; its errors (``BadRequest``: 400,
``NotFound``: 404) and every other error reach the handler in
``web/errors.py``, which answers ``{"error": {"code", "message"}}``.
"""

from flask import Blueprint, current_app, request

from search import export as exporting
from search import render
from search.query import parse_request, walk
from search.query.request import parse_interval, parse_limit, parse_synonyms

from . import openapi
from .errors import json_response

bp = Blueprint("api", __name__)


def service():
    return current_app.extensions["search"]


@bp.get("/search")
def search():
    found = parse_request(request.args)
    if found.cursor is not None:  # a walk (cursor=): this page and the next one's cursor
        walked = walk.page(service(), found)
        return json_response(dict(render.search_json(walked.result),
                                  next_cursor=walked.next_cursor))
    return json_response(render.search_json(service().search(found)))


@bp.get("/items/<item_id>")
def item(item_id):
    return json_response(render.item_json(service().item(
        item_id, q=request.args.get("q"), synonyms=parse_synonyms(request.args))))


@bp.get("/items/<item_id>/related")
def related(item_id):
    limit = parse_limit(request.args, default=10, high=50)
    story, items = service().related(item_id, limit)
    return json_response(render.related_json(item_id.lower(), story, items))


@bp.get("/timeline")
def timeline():
    found = service().timeline(parse_request(request.args), parse_interval(request.args))
    return json_response(render.timeline_json(found))


@bp.get("/stats")
def stats():
    return json_response(service().stats())


@bp.get("/export")
def export():
    """Every item the search selects, in its order, streamed as NDJSON or
    CSV (search/export.py): read a chunk at a time, no cap."""
    fmt = exporting.parse_format(request.args)
    found = walk.export(service(), parse_request(request.args))
    return current_app.response_class(
        exporting.stream(found.chunks(), fmt), content_type=exporting.CONTENT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="export.{fmt}"',
                 "X-Total-Count": str(found.total)})


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 description of the API and the feed (web/openapi.py)."""
    return json_response(openapi.document())
