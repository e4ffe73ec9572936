"""Holds an answer of the app to its OpenAPI document (web/openapi.py).

    from openapi_check import validate
    response = client.get("/api/search?q=ロシア")
    validate(response)          # AssertionError naming what does not conform

``validate`` finds the operation of the response's request (path and
method), and checks that the status is one the operation lists, that the
content type is one listed for that status, and that a JSON body conforms
to its schema (JSON Schema 2020-12, with jsonschema; each NDJSON line of an
export to the Item schema). It returns the parsed JSON body (or None).
"""

import json
import re
from functools import lru_cache

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from web import openapi

BASE = "urn:nhk-search:openapi"


@lru_cache(maxsize=1)
def document():
    return openapi.document()


@lru_cache(maxsize=1)
def _registry():
    resource = Resource.from_contents(document(), default_specification=DRAFT202012)
    return Registry().with_resource(BASE, resource)


@lru_cache(maxsize=1)
def _routes():
    """[(regex of the path template, template)]."""
    out = []
    for template in document()["paths"]:
        pattern = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        out.append((re.compile(f"^{pattern}$"), template))
    return out


def _pointer(*parts):
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def operation(path, method="get"):
    """(path template, operation object) of a request path; AssertionError
    when the document does not describe it."""
    for regex, template in _routes():
        if regex.match(path):
            op = document()["paths"][template].get(method.lower())
            assert op is not None, f"{method} {template} is not in the OpenAPI document"
            return template, op
    raise AssertionError(f"{path} is not in the OpenAPI document")


def _resolve(obj):
    while "$ref" in obj:
        node = document()
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
    return obj


def schema_validator(*pointer):
    """A validator for the schema at this JSON pointer of the document."""
    return jsonschema.Draft202012Validator({"$ref": f"{BASE}#/{_pointer(*pointer)}"},
                                           registry=_registry())


def check_json(data, *pointer):
    errors = sorted(schema_validator(*pointer).iter_errors(data), key=lambda e: list(e.path))
    assert not errors, "answer outside the schema {}: {}".format(
        "/".join(pointer), "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]))


def validate(response, path=None, method=None):
    """Assert the Flask test response conforms to the OpenAPI document;
    the parsed JSON body, or None for another body."""
    request = getattr(response, "request", None)
    path = path or request.path
    method = (method or (request.method if request is not None else "GET")).lower()
    head = method == "head"  # GET's answer without its body
    method = "get" if head else method
    template, op = operation(path, method)
    status = str(response.status_code)
    responses = op["responses"]
    assert status in responses or "default" in responses, (
        f"{method.upper()} {template} answered {status}, which the document does not list "
        f"({', '.join(responses)})")
    key = status if status in responses else "default"
    answer = _resolve(responses[key])
    content = answer.get("content")
    if head:
        assert not content or response.mimetype in content, (template, status, response.mimetype)
        return None
    if not content:
        assert not response.data, f"{template} {status}: a body where the document has none"
        return None
    media = response.mimetype
    assert media in content, (f"{template} {status}: content type {media!r} is not one of "
                              f"{sorted(content)}")
    if media == "application/json":
        data = json.loads(response.get_data(as_text=True))
        if "$ref" in responses[key]:  # a shared response: its schema sits in components
            name = responses[key]["$ref"].rsplit("/", 1)[1]
            check_json(data, "components", "responses", name, "content", media, "schema")
        else:
            check_json(data, "paths", template, method, "responses", key, "content", media,
                       "schema")
        return data
    if media == "application/x-ndjson":
        for line in response.get_data(as_text=True).splitlines():
            check_json(json.loads(line), "components", "schemas", "Item")
    return None
