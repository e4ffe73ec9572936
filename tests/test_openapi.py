"""/api/openapi.json (web/openapi.py): a valid OpenAPI 3.1 document of every
endpoint, whose ranges and choices are the engine's constants; the app's
answers, errors included, conform to it (tests/openapi_check.py); and
schemathesis, over the document against the WSGI app, finds no 5xx and no
answer outside it."""

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate as validate_spec
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from search import export
from search.query import language
from search.query.request import DEFAULT_PER_PAGE, MAX_PER_PAGE, MAX_RESULTS, OPS, SORTS
from web import create_app, openapi

from helpers import app_for
from openapi_check import document, validate
from walk_data import build, copy_sample

MAX_EXAMPLES = 25  # per operation and mode: the whole run stays well under a minute


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("openapi")
    copy_sample(folder)
    return build(folder)


@pytest.fixture(scope="module")
def app(index):
    return app_for(index)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def test_the_document_is_valid_openapi_3_1():
    doc = openapi.document()
    assert doc["openapi"].startswith("3.1")
    validate_spec(doc)


def test_ranges_and_choices_are_the_engines():
    params = document()["components"]["parameters"]
    assert params["per_page"]["schema"] == {"type": "integer", "minimum": 1,
                                            "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE}
    assert params["page"]["schema"]["maximum"] == MAX_RESULTS
    assert params["sort"]["schema"]["enum"] == list(SORTS)
    assert params["op"]["schema"]["enum"] == list(OPS)
    assert params["format"]["schema"]["enum"] == list(export.FORMATS)
    assert params["q"]["schema"]["maxLength"] == language.MAX_QUERY_CHARS
    search = document()["components"]["schemas"]["SearchAnswer"]["properties"]
    assert search["per_page"]["maximum"] == search["hits"]["maxItems"] == MAX_PER_PAGE


def test_every_endpoint_is_described(app):
    routes = {re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
              for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") or rule.rule == "/feed.atom"}
    assert routes == set(document()["paths"])
    for path, item in document()["paths"].items():
        names = {p["$ref"].rsplit("/", 1)[1] for p in item["get"].get("parameters", [])}
        assert set(re.findall(r"{([a-z_]+)}", path)) <= names | {"item_id"}


def test_the_served_document_is_the_modules(client):
    response = client.get("/api/openapi.json")
    assert validate(response) == openapi.document()


ANSWERS = [
    ("/api/search?q=ウクライナ", 200), ("/api/search", 200),
    ("/api/search?q=ウクライナ&cursor=*&per_page=2", 200),
    ("/api/search?q=ロシア&group=story", 200), ("/api/search?q=の", 200),
    ("/api/search?q=a&page=0", 400), ("/api/search?q=a&cursor=nope", 400),
    ("/api/search?source=存在しない", 400), ("/api/search?q=" + "あ " * 40, 400),
    ("/api/items/d8853b2d4ad4981f", 200), ("/api/items/d8853b2d4ad4981f?q=ペスコフ", 200),
    ("/api/items/0000000000000000", 404), ("/api/items/xyz", 404),
    ("/api/items/d8853b2d4ad4981f/related", 200), ("/api/timeline?q=ロシア&interval=week", 200),
    ("/api/timeline?interval=year", 400), ("/api/stats", 200),
    ("/api/export?q=ロシア", 200), ("/api/export?format=csv", 200), ("/api/export?format=x", 400),
    ("/feed.atom?q=ロシア", 200), ("/feed.atom?to=x", 400),
]


@pytest.mark.parametrize("url,status", ANSWERS)
def test_the_answers_conform(client, url, status):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    validate(response)


def test_not_modified_and_index_missing_conform(client, tmp_path):
    first = client.get("/feed.atom")
    again = client.get("/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    validate(again)
    missing = create_app({"INDEX_DIR": str(tmp_path / "none"), "TESTING": True}).test_client()
    for url in ("/api/search?q=a", "/api/stats", "/api/export", "/feed.atom"):
        response = missing.get(url)
        assert response.status_code == 503
        validate(response)


def test_a_wrong_answer_is_caught(client):
    """The helper fails on an answer outside the document."""
    response = client.get("/api/stats")
    response.set_data(b'{"items": "many"}')
    with pytest.raises(AssertionError, match="outside the schema"):
        validate(response)
    with pytest.raises(AssertionError, match="not in the OpenAPI document"):
        validate(client.get("/api/nothing-here"))


# ----------------------------------------------------- property-based run
# schemathesis's strategies, run by Hypothesis in a plain test per operation
# (its pytest plugin's lazy fixtures do not run under pytest 9).

@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


# Each operation with valid parameters, and with invalid ones where it has any.
RUNS = [(path, mode) for path, item in sorted(openapi.document()["paths"].items())
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode is GenerationMode.POSITIVE or item["get"].get("parameters")]


@pytest.mark.parametrize("path,mode", RUNS, ids=[f"{p}-{m.value}" for p, m in RUNS])
def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(
        api_schema, path, mode):
    operation = api_schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call_and_validate(checks=CHECKS)
        assert response.status_code < 500

    run()
