"""What the API answers, for tests that call the engine in process: the
request parsed from a mapping of strings, the engine's typed answer rendered
as the API's JSON document."""

from search import render
from search.query import parse_request


def search_json(service, params):
    return render.search_json(service.search(parse_request(params)))


def item_json(service, item_id, q=None):
    return render.item_json(service.item(item_id, q=q))
