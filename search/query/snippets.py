"""Match spans from the character offsets stored in the postings, and the
snippet window of a text around them.

Whoosh's default highlighter re-tokenizes every hit's stored text: with
Sudachi that is most of the cost of a naive query (~20 ms a page). The
index stores each token's characters (``chars=True``), so the matched
spans of a hit are read from the postings of the query's terms, one pass
per term over the page's hits, and no text is analyzed again.
"""

from bisect import bisect_left
from dataclasses import dataclass

from whoosh.reading import TermNotFound

SNIPPET_CHARS = 180  # the issue asks for about 160–200 characters
LEAD_CHARS = 30  # context kept before the first match of a window
BREAKS = "。！？!?\n"


def load_spans(searcher, docnums, terms, evaluation=None, fields=("headline", "body")):
    """{(docnum, field): [(start, end), ...]}: where the query's terms occur
    in the page's hits. With the evaluation that found the hits
    (search/query/evaluate.py), a term's values are read straight from the blocks
    that hold the hits, and hits it knows lack a term are skipped; the rest
    is read with one pass per term and segment over the sorted docnums.
    (Asking the search which terms each match contained would cost for
    every match, not only for the hits shown.)"""
    docnums = sorted(docnums)
    spans = {}
    for field, text in terms:
        if field not in fields:
            continue
        decode = searcher.schema[field].format.decode_characters
        found = evaluation.term_values(field, text, docnums) if evaluation is not None \
            else dict(matcher_values(searcher, field, text, docnums))
        for docnum, value in found.items():
            spans.setdefault((docnum, field), []).extend((s, e) for _, s, e in decode(value))
    return {key: merge(value) for key, value in spans.items()}


def matcher_values(searcher, field, text, docnums):
    """(docnum, value) of the term's postings in the sorted docnums, read
    with Whoosh's matcher (one pass a segment)."""
    for reader, offset in searcher.reader().leaf_readers() if docnums else ():
        here = local_docnums(docnums, offset, reader.doc_count_all())
        if not here:
            continue
        try:
            matcher = reader.postings(field, text)
        except TermNotFound:
            continue
        for local in here:
            if not matcher.is_active():
                break
            matcher.skip_to(local)
            if matcher.is_active() and matcher.id() == local:
                yield local + offset, matcher.value()


def local_docnums(docnums, offset, size):
    """The sorted docnums of the segment numbered from offset (size
    documents), as its own numbers: a slice, found by bisection."""
    lo = bisect_left(docnums, offset)
    hi = bisect_left(docnums, offset + size, lo)
    return [d - offset for d in docnums[lo:hi]]


def merge(spans):
    """Sorted, overlapping spans joined: a compound and its parts mark once."""
    merged = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1][1] = end
        else:
            merged.append([start, end])
    return [tuple(s) for s in merged]


@dataclass(frozen=True)
class Snippet:
    """A window of a text around its best cluster of matches: the window's
    text, the matches within it (character ranges into it), and whether
    text was cut before or after it."""

    text: str
    spans: tuple = ()
    cut_before: bool = False
    cut_after: bool = False


def snippet(text, spans, size=SNIPPET_CHARS):
    """About `size` characters of text around its best cluster of matches
    (spans: sorted, merged); the start of the text when nothing matched."""
    if len(text) <= size:
        return Snippet(text, clip(spans, 0, len(text)))
    start = _best_window(text, spans, size) if spans else 0
    end = min(len(text), start + size)
    return Snippet(text[start:end], clip(spans, start, end), start > 0, end < len(text))


def clip(spans, start, end):
    """The parts of sorted, merged spans within [start, end), counted from start."""
    out = []
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s < e:
            out.append((s - start, e - start))
    return tuple(out)


def _best_window(text, spans, size):
    """Start of the window holding the most matches (earliest on ties),
    moved back to a sentence start when one is near."""
    best, best_count, j = 0, -1, 0
    for i, (s, _) in enumerate(spans):
        while j < len(spans) and spans[j][1] <= s + size - LEAD_CHARS:
            j += 1
        if j - i > best_count:
            best, best_count = s, j - i
    start = max(0, best - LEAD_CHARS)
    brk = max(text.rfind(c, start, best) for c in BREAKS)
    if brk >= 0:
        start = brk + 1
    return min(start, max(0, len(text) - size))
