"""Cursors of a walk through every result (``/api/search?cursor=``), as
opaque strings: what the walk needs to go on exactly where it stopped,
whatever was reindexed meanwhile.

A cursor holds

- the position: the sort key (date, score, id) of the last item given; the
  next page is every item strictly after it in the walk's order (the sort,
  then the item id), so an item present throughout is given exactly once;
- for a query, the Whoosh query tree the walk began with and the collection
  statistics that scored it (the document count, the average field lengths
  and each word's document frequencies): the next page scores every item
  with them, so an item present throughout keeps the very score it had when
  the walk began, though a reindex changed the statistics, or the words a
  prefix expands to;
- a fingerprint of the request (query, op, sort, filters): a cursor given
  with another request is refused, and so is anything that does not decode
  to a cursor (``BadRequest("invalid_cursor", …)``).

It is compact JSON, compressed with zlib and written in URL-safe base64
without padding; decoding checks every part (node kinds, fields, sizes,
finite numbers) before anything is searched.
"""

import base64
import binascii
import hashlib
import json
import math
import re
import zlib
from dataclasses import dataclass, fields

from whoosh import query as Q

from ..index.schema import TEXT_FIELDS
from .errors import BadRequest
from .nodes import Constant, FieldsTerm, Near, Tier

VERSION = 1
START = "*"  # cursor=* (or an empty cursor=) starts a walk
MAX_CURSOR_CHARS = 7000  # a request line is at most 8,190 bytes (web/server.py)
MAX_JSON_BYTES = 64 * 1024  # what a cursor may decompress to
MAX_NODES = 1000  # query nodes in a cursor (a prefix expands to at most 100 terms)
MAX_DEPTH = 80
MAX_TEXT = 1000

MALFORMED = "cursor が正しくありません。cursor=* で最初のページからやり直してください"
FOREIGN = ("この cursor は別の検索条件（q・op・sort・絞り込み）のものです。"
           "同じ条件で使うか、cursor=* で最初のページからやり直してください")

_B64 = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Statistics:
    """The collection statistics a query was scored with: the number of
    documents (deleted ones included, as Whoosh counts them), the average
    length of each text field, and each word's document frequency in each
    text field."""

    doc_count: int
    avg_lengths: dict  # {field: average length}
    frequencies: dict  # {text: (frequency in each of TEXT_FIELDS)}

    @classmethod
    def of(cls, searcher, q):
        """The statistics the searcher scores q with, now."""
        texts = sorted(tree_texts(q))
        return cls(doc_count=searcher.doc_count_all(),
                   avg_lengths={f: searcher.avg_field_length(f) or 1.0 for f in TEXT_FIELDS},
                   frequencies={t: tuple(searcher.doc_frequency(f, t) for f in TEXT_FIELDS)
                                for t in texts})

    def doc_frequency(self, field, text):
        """The frozen frequency, or None for a word or field not kept."""
        found = self.frequencies.get(text.decode("utf-8") if isinstance(text, bytes) else text)
        if found is None or field not in TEXT_FIELDS:
            return None
        return found[TEXT_FIELDS.index(field)]

    def to_json(self):
        return [self.doc_count, [self.avg_lengths[f] for f in TEXT_FIELDS],
                {t: list(n) for t, n in self.frequencies.items()}]

    @classmethod
    def from_json(cls, data):
        _check(isinstance(data, list) and len(data) == 3)
        count, avgs, freqs = data
        _check(_is_int(count) and count >= 0)
        _check(isinstance(avgs, list) and len(avgs) == len(TEXT_FIELDS))
        _check(all(_is_number(a) and a > 0 for a in avgs))
        _check(isinstance(freqs, dict) and len(freqs) <= MAX_NODES)
        for text, ns in freqs.items():
            _check(len(text) <= MAX_TEXT and isinstance(ns, list) and len(ns) == len(TEXT_FIELDS))
            _check(all(_is_int(n) and 0 <= n <= count for n in ns))
        return cls(count, dict(zip(TEXT_FIELDS, (float(a) for a in avgs))),
                   {t: tuple(ns) for t, ns in freqs.items()})


@dataclass(frozen=True)
class Cursor:
    """A decoded cursor: the walk's next page number, the sort key of the
    last item given (None at the start), and for a query the tree and the
    statistics the walk scores with (None at the start: taken then)."""

    page: int = 1
    key: tuple | None = None  # (date, score, id)
    query: object = None
    statistics: Statistics | None = None
    fingerprint: str | None = None

    @property
    def started(self):
        return self.key is not None


START_CURSOR = Cursor()


def fingerprint(request):
    """What a cursor must have been made for: the parsed query, op, sort and
    every filter (repeated values in any order)."""
    what = [repr(request.groups), request.op, request.sort]
    if not request.synonyms:
        what.append("syn=0")
    for f in fields(request.filters):
        value = getattr(request.filters, f.name)
        what.append([f.name, sorted(map(str, value)) if isinstance(value, tuple)
                     else None if value is None else str(value)])
    return hashlib.sha256(json.dumps(what, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def encode(request, page, key, query=None, statistics=None):
    """The cursor string of the page after `key` in the walk of request."""
    date, score, item_id = key
    payload = {"v": VERSION, "f": fingerprint(request), "p": page,
               "k": [date, float(score), item_id]}
    if query is not None:
        payload["q"] = tree_to_json(query)
        payload["s"] = statistics.to_json()
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    packed = zlib.compress(raw.encode("utf-8"), 9)
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode(text):
    """The Cursor of a cursor string (START_CURSOR for "*" or blank), or
    BadRequest("invalid_cursor") when it is not one of ours."""
    text = (text or "").strip()
    if not text or text == START:
        return START_CURSOR
    if len(text) > MAX_CURSOR_CHARS or not _B64.match(text):
        raise BadRequest("invalid_cursor", MALFORMED)
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_JSON_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("too large or truncated")
        payload = json.loads(raw.decode("utf-8"))
        return _cursor(payload)
    except (ValueError, TypeError, KeyError, binascii.Error, zlib.error, RecursionError):
        raise BadRequest("invalid_cursor", MALFORMED) from None


def check(cursor, request):
    """The cursor, if it was made for this request; else BadRequest."""
    if cursor.started and cursor.fingerprint != fingerprint(request):
        raise BadRequest("invalid_cursor", FOREIGN)
    if cursor.started and bool(request.groups) != (cursor.query is not None):
        raise BadRequest("invalid_cursor", FOREIGN)
    return cursor


def _encodes(text):
    """Whether text is valid Unicode (JSON lets a lone surrogate through)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _cursor(payload):
    _check(isinstance(payload, dict) and payload.get("v") == VERSION)
    fp, page, key = payload["f"], payload["p"], payload["k"]
    _check(isinstance(fp, str) and re.fullmatch(r"[0-9a-f]{16}", fp))
    _check(_is_int(page) and 2 <= page <= 10 ** 9)
    _check(isinstance(key, list) and len(key) == 3)
    date, score, item_id = key
    _check(isinstance(date, str) and len(date) <= 40 and _is_number(score))
    _check(isinstance(item_id, str) and len(item_id) <= 64 and _encodes(item_id))
    query = statistics = None
    if "q" in payload:
        query = tree_from_json(payload["q"])
        statistics = Statistics.from_json(payload["s"])
        _check(tree_texts(query) <= set(statistics.frequencies))
    return Cursor(page=page, key=(date, float(score), item_id), query=query,
                  statistics=statistics, fingerprint=fp)


# --------------------------------------------------------- the query tree

def tree_to_json(q):
    """The query tree the builder makes (search/query/builder.py) as nested
    lists; ValueError for a node it cannot keep."""
    kind = type(q)
    if kind is FieldsTerm:
        return ["w", q.text, q.boost]
    if kind is Q.Term:
        text = q.text.decode("utf-8") if isinstance(q.text, bytes) else q.text
        return ["t", q.fieldname, text, q.boost]
    if kind is Near:
        return ["n", tree_to_json(q.a), tree_to_json(q.b), q.slop, q.mindist,
                int(bool(q.ordered)), getattr(q, "boost", None)]  # set on a phrase's outer node
    if kind is Constant:
        return ["c", tree_to_json(q.child), q.score]
    if kind is Tier:
        return ["+", tree_to_json(q.child), q.offset]
    if kind is Q.DisjunctionMax and not q.tiebreak:
        return ["x", [tree_to_json(s) for s in q.subqueries], q.boost]
    if kind in (Q.And, Q.Or):
        if kind is Q.Or and (q.minmatch or q.scale is not None):
            raise ValueError(f"cannot keep {q!r}")
        return ["&" if kind is Q.And else "|", [tree_to_json(s) for s in q.subqueries], q.boost]
    if kind in (Q.AndMaybe, Q.AndNot):
        return ["m" if kind is Q.AndMaybe else "-", tree_to_json(q.a), tree_to_json(q.b), q.boost]
    raise ValueError(f"cannot keep {q!r}")


def tree_from_json(data):
    """The query tree of tree_to_json's lists, checked (ValueError)."""
    count = [0]
    return _node(data, 0, count)


def _node(data, depth, count):
    count[0] += 1
    _check(isinstance(data, list) and data and depth <= MAX_DEPTH and count[0] <= MAX_NODES)
    kind, args = data[0], data[1:]
    if kind == "w":
        text, boost = args
        return FieldsTerm(_text(text), _boost(boost))
    if kind == "t":
        field, text, boost = args
        _check(field in TEXT_FIELDS)
        return Q.Term(field, _text(text), boost=_boost(boost))
    if kind == "n":
        a, b, slop, mindist, ordered, boost = args
        _check(_is_int(slop) and 0 <= slop <= 1000 and _is_int(mindist) and 0 <= mindist <= slop + 1)
        _check(ordered in (0, 1))
        q = Near(_node(a, depth + 1, count), _node(b, depth + 1, count), slop=slop,
                 mindist=mindist, ordered=bool(ordered))
        if boost is not None:
            q.boost = _boost(boost)
        return q
    if kind == "c":
        child, score = args
        return Constant(_node(child, depth + 1, count), _boost(score))
    if kind == "+":
        child, offset = args
        return Tier(_node(child, depth + 1, count), _boost(offset))
    if kind == "x":
        children, boost = args
        _check(isinstance(children, list) and children)
        return Q.DisjunctionMax([_node(c, depth + 1, count) for c in children], boost=_boost(boost))
    if kind in ("&", "|"):
        children, boost = args
        _check(isinstance(children, list) and children)
        made = [_node(c, depth + 1, count) for c in children]
        return (Q.And if kind == "&" else Q.Or)(made, boost=_boost(boost))
    if kind in ("m", "-"):
        a, b, boost = args
        q = (Q.AndMaybe if kind == "m" else Q.AndNot)(_node(a, depth + 1, count),
                                                       _node(b, depth + 1, count))
        q.boost = _boost(boost)
        return q
    raise ValueError(f"unknown node {kind!r}")


def tree_texts(q):
    """Every word of the tree (whose frequencies score it)."""
    found, stack = set(), [q]
    while stack:
        node = stack.pop()
        if isinstance(node, FieldsTerm):
            found.add(node.text)
        elif isinstance(node, Q.Term):
            found.add(node.text.decode("utf-8") if isinstance(node.text, bytes) else node.text)
        elif isinstance(node, Near):
            stack.extend((node.a, node.b))
        elif isinstance(node, (Constant, Tier)):
            stack.append(node.child)
        elif isinstance(node, (Q.AndMaybe, Q.AndNot)):
            stack.extend((node.a, node.b))
        elif isinstance(node, (Q.And, Q.Or, Q.DisjunctionMax)):
            stack.extend(node.subqueries)
    return found


def _text(text):
    _check(isinstance(text, str) and 0 < len(text) <= MAX_TEXT)
    return text


def _boost(value):
    _check(_is_number(value) and 0 <= value <= 1e6)
    return float(value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _check(ok):
    if not ok:
        raise ValueError("not a cursor")
