"""What the API answers, for tests that call the engine in process: the
request parsed from a mapping of strings, the engine's typed answer rendered
as the API's JSON document. And where the project's own test dumps are
(tests/data, described in tests/data/README.md)."""

from pathlib import Path

from search import render
from search.query import parse_request
from web import create_app

DATA = Path(__file__).resolve().with_name("data")
# Three days of news posts, written for these tests (33 distinct items; one
# item is in two of the files).
NEWS_DUMPS = tuple(DATA / name for name in ("2025-02-17.txt", "2025-02-18.txt", "2025-02-19.txt"))
NEWS_ITEMS = 33
NEWS_DAYS = ("2025-02-17", "2025-02-18", "2025-02-19")
# Two items full of markup, for the escaping tests.
MARKUP_DUMP = DATA / "markup.txt"


def search_json(service, params):
    return render.search_json(service.search(parse_request(params)))


def item_json(service, item_id, q=None):
    return render.item_json(service.item(item_id, q=q))


def get_json(client, url, status=200):
    """A Flask test client's JSON answer to GET url, checked for its status and type."""
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True))
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return response.get_json()


def app_for(index):
    """The app over an index, reading a new generation at once (no refresh delay)."""
    return create_app({"INDEX_DIR": index, "TESTING": True, "REFRESH_SECONDS": 0.0})
