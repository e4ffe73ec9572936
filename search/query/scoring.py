"""Scoring, in one place: BM25F over the headline and the body with one
shared idf, and Whoosh's per-field BM25 with that idf.

Each formula is written once and serves both paths of the engine: the
matchers, one document at a time (Python floats), and the evaluation, a
whole segment at once (numpy arrays). The operations run in the same order
on both, so the scores are exactly equal (tests/test_evaluate.py).
docs/quality.md measures each choice (`make eval` reproduces it).
"""

import math

from whoosh import scoring

from ..index import whoosh_internals as internals
from ..index.schema import TEXT_FIELDS

HEADLINE_BOOST = 2.0  # BM25F field weight: a headline occurrence counts as two body ones
FIELD_WEIGHTS = tuple(zip(TEXT_FIELDS, (HEADLINE_BOOST, 1.0)))  # (field, weight)
K1, B = 0.9, 0.75  # BM25 saturation of repeated words and length normalization


def idf(reader, text):
    """BM25's probabilistic idf of a word, one for both text fields: n is its
    largest document frequency over them. (reader: anything with
    doc_frequency and doc_count_all: a Whoosh reader or the evaluation.)"""
    return idf_of(reader, max(reader.doc_frequency(f, text) for f in TEXT_FIELDS))


IDF_KEPT = 100_000  # words whose idf a searcher keeps (a float each)


def searcher_idf(searcher, text):
    """idf(), kept on the top searcher (one a generation, or a walk's:
    search/query/walk.py): a phrase's or completion's matcher asks it once
    per segment, and each answer costs a term lookup in every segment (23
    segments: 2 x 23 lookups a segment, most of such a query's time)."""
    parent = searcher.get_parent()
    kept = internals.searcher_cache(parent).setdefault("idf", {})
    found = kept.get(text)
    if found is None:
        if len(kept) >= IDF_KEPT:
            kept.clear()
        found = kept[text] = idf(parent, text)
    return found


def idf_of(reader, n):
    """idf of a word of document frequency n."""
    return math.log(1 + (reader.doc_count_all() - n + 0.5) / (n + 0.5))


def length_norm(length, average, b=B):
    """BM25's length normalization of a field length (or an array of them)."""
    return 1 - b + b * length / average


def saturate(factor, tf):
    """BM25F: the weighted, length-normalized frequency tf (summed over the
    fields) saturated, times factor (idf × boost)."""
    return factor * tf * (K1 + 1) / (tf + K1)


def max_saturated(factor):
    """The bound of saturate(factor, tf) for any tf (tf / (tf + K1) < 1)."""
    return factor * (K1 + 1)


def field_bm25(idf_value, tf, length, average, b, k1):
    """Whoosh's per-field BM25 (whoosh.scoring.bm25 itself, which takes
    floats and arrays alike)."""
    return scoring.bm25(idf_value, tf, length, average, b, k1)


class SharedIdfBM25F(scoring.BM25F):
    """Whoosh's per-field BM25, for what is scored per field (phrases and
    words completed from a prefix), with the idf above: Whoosh's own,
    log(N / (n + 1)) + 1, never falls below 1, so the commonest words still
    weigh; and per field it makes a headline word rare, and heavy, in every
    passage of an article that shares the headline."""

    def __init__(self):
        super().__init__(B=B, K1=K1)

    def field_parameters(self, statistics, fieldname, text):
        """(idf, average field length, B, K1) of a word in one field, as
        scorer() gives them to BM25FScorer (one B for every field here),
        read from statistics (the evaluation: the frequencies of the words
        whose postings it reads). A scorer would find its idf with a term
        lookup in every segment, cold in each thread, and look the term up
        in every segment twice more for a bound the evaluation never uses
        (~1 ms a word at x40)."""
        average = statistics.avg_field_length(fieldname) or 1
        return idf(statistics, text), average, self.B, self.K1

    def scorer(self, searcher, fieldname, text, qf=1):
        scorer = super().scorer(searcher, fieldname, text, qf=qf)
        if isinstance(scorer, scoring.BM25FScorer):
            scorer.idf = searcher_idf(searcher, text)
            scorer.setup(searcher, fieldname, text)
        return scorer
