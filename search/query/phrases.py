"""Phrases (nodes.Near: a word, then another within a distance) evaluated
over whole posting lists, as the other nodes are (search/query/evaluate.py).

Whoosh's SpanNear walks the documents holding both words one at a time,
making a Span object per position, in Python: a synonym typed as a
sequence of common words (日テレ → 日本 テレビ) took 0.3 s at x14, most of
a query's time. Here the documents holding both come from the words'
posting arrays, the positions of those documents are read in one pass a
word (Evaluation.term_values), and the pairs within the distance are found
with sorted keys (document, position), for every document at once.

What matches, and how it scores, is what SpanNear.SpanNearMatcher does
(tests/test_evaluate.py holds them equal): with ordered=True, a span of b
starting no earlier than a's and at a distance in [mindist, slop] (0 when
they overlap, else b's start − a's end); a nested Near's spans are the
pairs joined (a's start to the later end); a match scores a's score plus
b's, the Near's own boost not applied (SpanWrappingMatcher's is 1).
"""

import numpy as np
from whoosh import query as Q
from whoosh.query.spans import SpanNear

from ..index.formats import PackedCharacters
from . import evaluate

_SHIFT = 32  # a key is (document << 32) + position: positions are int32


class _Spans:
    """Spans of one node in some documents: parallel arrays of the
    document, the start and the end position, sorted by (document, start)."""

    __slots__ = ("docs", "start", "end")

    def __init__(self, docs, start, end):
        keys = (docs << _SHIFT) + start
        if len(keys) > 1 and not (keys[1:] >= keys[:-1]).all():  # (postings come in order)
            order = np.argsort(keys, kind="stable")
            docs, start, end = docs[order], start[order], end[order]
        self.docs, self.start, self.end = docs, start, end

    def keys(self, positions):
        return (self.docs << _SHIFT) + positions


def evaluate_near(q, segment):
    """The matches of a Near (evaluate.Sparse), None when none; Whoosh's
    matcher's answer for a Near this does not know (unordered, or words
    that are not single-field terms)."""
    if not _known(q, segment.searcher.schema):
        return evaluate.whoosh_matches(q, segment)
    return _matches(q, segment)


def _known(q, schema):
    """Whether q is made of what _pairs and _positions read: Terms of fields
    in the packed (position, start, end) format, ordered Nears at whole,
    non-negative distances."""
    if type(q) is Q.Term:
        return q.fieldname in schema and isinstance(schema[q.fieldname].format, PackedCharacters)
    return (isinstance(q, SpanNear) and q.ordered
            and all(isinstance(n, int) and n >= 0 for n in (q.slop, q.mindist))
            and _known(q.a, schema) and _known(q.b, schema))


def _matches(q, segment):
    """The Sparse of q's matches, or None. The documents holding every
    word of the phrase are found first, from the words' postings; only
    their positions are read (a nested Near's inner pair is matched only
    where the outer words are too: it matches nothing else the outer one
    keeps)."""
    words = list(_words(q))
    found = [evaluate.evaluate(w, segment) for w in words]
    if any(f is None for f in found):
        return None
    docs = found[0].ids if isinstance(found[0], evaluate.Sparse) else np.flatnonzero(found[0].mask)
    for f in found[1:]:
        docs = docs[f.at(docs)[0]]
    if not len(docs):
        return None
    positions = iter([_positions(w, docs, segment) for w in words])
    spans = _spans(q, positions)
    if spans is None:
        return None
    matched = np.unique(spans.docs)
    scores = iter([f.at(matched)[1] for f in found])
    return evaluate.Sparse(matched, _score(q, scores))


def _words(q):
    """The phrase's terms, in order (a nested Near's first)."""
    if type(q) is Q.Term:
        yield q
    else:
        yield from _words(q.a)
        yield from _words(q.b)


def _spans(q, positions):
    """The _Spans of q (its terms' taken from positions, in order), or None."""
    if type(q) is Q.Term:
        return next(positions)
    a, b = _spans(q.a, positions), _spans(q.b, positions)
    return None if a is None or b is None else _pairs(a, b, q.slop, q.mindist)


def _score(q, scores):
    """Each match's score, added as the matchers add them: a + b at each Near."""
    if type(q) is Q.Term:
        return next(scores)
    return _score(q.a, scores) + _score(q.b, scores)


def _positions(term, docs, segment):
    """The _Spans of a term's positions in docs, read from its postings."""
    text = term.text.decode("utf-8") if isinstance(term.text, bytes) else term.text
    docs = docs.tolist()
    values = segment.evaluation.term_values(term.fieldname, text, docs)
    held = [d for d in docs if d in values]
    triples = np.frombuffer(b"".join(values[d] for d in held), dtype=np.int32).reshape(-1, 3)
    counts = [len(values[d]) // 12 for d in held]
    positions = triples[:, 0].astype(np.int64)
    return _Spans(np.repeat(np.array(held, dtype=np.int64), counts), positions, positions)


def _pairs(a, b, slop, mindist):
    """The _Spans of the pairs (a span, b span) SpanNear keeps (ordered),
    joined, or None when there is none."""
    if not len(a.docs) or not len(b.docs):
        return None
    low = a.end + mindist if mindist >= 1 else a.start  # where b may start, at the earliest
    keys = b.keys(b.start)
    first = np.searchsorted(keys, a.keys(low), "left")
    last = np.searchsorted(keys, a.keys(a.end + slop), "right")
    counts = np.maximum(last - first, 0)
    total = int(counts.sum())
    if not total:
        return None
    left = np.repeat(np.arange(len(counts)), counts)
    right = np.repeat(first - (np.cumsum(counts) - counts), counts) + np.arange(total)
    return _Spans(a.docs[left], a.start[left], np.maximum(a.end[left], b.end[right]))
