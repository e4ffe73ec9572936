"""The JSON API (blueprint ``api``, mounted at /api). See docs/api.md.

The engine validates every parameter; its errors (``BadRequest``: 400,
``NotFound``: 404) and every other error reach the handler in
``web/errors.py``, which answers ``{"error": {"code", "message"}}``.
"""

from flask import Blueprint, current_app, request

from search import render
from search.query import parse_request

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


@bp.get("/stats")
def stats():
    return json_response(service().stats())
