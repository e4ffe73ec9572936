"""The JSON API (blueprint ``api``, mounted at /api). See docs/api.md.

The engine validates every parameter; its errors (``BadRequest``: 400,
``NotFound``: 404) and every other error reach the handler in
``web/errors.py``, which answers ``{"error": {"code", "message"}}``.
"""

from flask import Blueprint, current_app, request

from search import render
from search.query import parse_request
from search.query.request import parse_interval, parse_limit

from .errors import json_response

bp = Blueprint("api", __name__)


def service():
    return current_app.extensions["search"]


@bp.get("/search")
def search():
    return json_response(render.search_json(service().search(parse_request(request.args))))


@bp.get("/items/<item_id>")
def item(item_id):
    return json_response(render.item_json(service().item(item_id, q=request.args.get("q"))))


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
