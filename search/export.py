"""Every item of a walk (search/query/walk.py) written out as NDJSON or CSV,
a chunk of items at a time, as bytes: ``/api/export`` streams them and
``python -m search export`` writes them to stdout.

- NDJSON: one JSON object a line, the keys of ``/api/items/<id>``
  (search/render.py ``item_json``), UTF-8, Japanese as is.
- CSV: UTF-8 with a BOM (spreadsheets then read it as UTF-8), a header row
  and one row per item, columns ``CSV_COLUMNS``, quoted by Python's csv
  module (a field with a comma, a quote or a line break is quoted), lines
  ending in CRLF. ``url`` is the item's first link; ``tags`` and ``labels``
  are joined with a line feed (a tag may hold spaces, never a line break).
"""

import csv
import io

import orjson

from . import render
from .query.errors import BadRequest

FORMATS = ("ndjson", "csv")
CONTENT_TYPES = {"ndjson": "application/x-ndjson; charset=utf-8",
                 "csv": "text/csv; charset=utf-8"}
CSV_COLUMNS = ("id", "date", "source", "handle", "headline", "url", "tags", "labels", "body")
LIST_SEPARATOR = "\n"  # between the tags (and the labels) of one CSV cell
BOM = "\ufeff".encode("utf-8")


def parse_format(params):
    """The format= of a mapping of parameters (ndjson by default)."""
    value = params.get("format") or ""
    value = str(value[0] if isinstance(value, (list, tuple)) and value else value).strip().lower()
    value = value or FORMATS[0]
    if value not in FORMATS:
        raise BadRequest("invalid_parameter",
                         f"format は {' / '.join(FORMATS)} のいずれかです（{value[:20]!r}）")
    return value


def item_row(item):
    """The CSV row (a list of strings, CSV_COLUMNS) of a results.Item."""
    doc = item.fields
    urls = doc.get("urls") or []
    return [doc.get("id", ""), doc.get("date", ""), doc.get("source", ""), doc.get("handle", ""),
            doc.get("headline", ""), urls[0] if urls else "",
            LIST_SEPARATOR.join(doc.get("tags") or ()), LIST_SEPARATOR.join(item.labels or ()),
            doc.get("body", "")]


def ndjson_chunk(items):
    return b"".join(orjson.dumps(render.item_json(item)) + b"\n" for item in items)


def csv_chunk(items, header=False):
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(item_row(item) for item in items)
    return out.getvalue().encode("utf-8")


def stream(chunks, fmt):
    """The bytes of the export, a chunk (of results.Item) at a time; the
    CSV's BOM and header come first, even when nothing matched."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if fmt == "csv":
        yield BOM + csv_chunk((), header=True)
    for chunk in chunks:
        yield ndjson_chunk(chunk) if fmt == "ndjson" else csv_chunk(chunk)
