"""The query nodes the builder makes besides Whoosh's own: a word scored by
BM25F over the headline and the body, a constant bonus, and a span query
that can sit inside Or/And. Each scores through search/query/scoring.py,
both as a Whoosh matcher (one document at a time) and for a whole segment
at once (``evaluate(segment)``, search/query/evaluate.py and phrases.py).
"""

import numpy as np
from whoosh import matching
from whoosh import query as Q
from whoosh.query.spans import SpanNear

from . import evaluate, phrases, scoring


class FieldsTerm(Q.Query):
    """A word in the headline or the body, scored once, as BM25F does: its
    frequency in each field, length-normalized and weighted (headline
    HEADLINE_BOOST, body 1), is summed before the saturation, with one idf.
    A word in both the headline and the body of an item so counts a little
    more than in one of them, not twice; and a headline shared by many items
    (the article title of every passage) does not outweigh their texts."""

    def __init__(self, text, boost=1.0):
        self.text = text
        self.boost = boost

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and other.text == self.text
                and other.boost == self.boost)

    def __hash__(self):
        return hash((self.__class__.__name__, self.text, self.boost))

    def __repr__(self):
        return f"{self.__class__.__name__}({self.text!r}, boost={self.boost})"

    def has_terms(self):
        return True

    def terms(self, phrases=False):
        for field, _ in scoring.FIELD_WEIGHTS:
            yield field, self.text

    def estimate_size(self, ixreader):
        return max(ixreader.doc_frequency(f, self.text) for f, _ in scoring.FIELD_WEIGHTS)

    def matcher(self, searcher, context=None):
        reader, parent = searcher.reader(), searcher.get_parent()  # a segment, the index
        leaves = []
        for field, weight in scoring.FIELD_WEIGHTS:
            if (field, self.text) in reader:
                avg = parent.avg_field_length(field) or 1.0
                leaves.append((reader.postings(field, self.text), field, weight, avg))
        if not leaves:
            return matching.NullMatcher()
        return FieldsMatcher(leaves, reader, scoring.searcher_idf(searcher, self.text) * self.boost)

    def _postings_by_field(self, segment):
        """[(document numbers, weights, field, its weight)] of the fields
        holding the word in the segment, in FIELD_WEIGHTS' order."""
        found = []
        for field, weight in scoring.FIELD_WEIGHTS:
            postings = segment.postings(field, self.text)
            if postings is not None:
                found.append((*postings, field, weight))
        return found

    def evaluate(self, segment):
        """The same scores for a whole segment at once (search/query/evaluate.py),
        with the same formulas as FieldsMatcher.score (search/query/scoring.py);
        computed only where the word occurs. A word in few documents is
        answered sparse; one in many, over arrays of the segment's size. The
        fields' weighted frequencies are summed in FIELD_WEIGHTS' order
        either way (the same floats)."""
        found = self._postings_by_field(segment)
        if not found:
            return None
        factor = self._factor(segment)
        if all(len(ids) <= evaluate.sparse_limit(segment) for ids, *_ in found):
            if len(found) == 1:
                ids, weights, field, weight = found[0]
                tf = _field_tf(segment, ids, weights, field, weight)
            else:
                ids, tf = evaluate.union([(at, _field_tf(segment, at, weights, field, weight))
                                          for at, weights, field, weight in found])
            return evaluate.Sparse(ids, scoring.saturate(factor, tf))
        # The fields' frequencies are summed in the score array itself (no
        # third array of the segment's size), then saturated where the word
        # occurs: a document in both fields comes twice, and is scored twice
        # to the same value (read before either is written), which costs
        # less than a union.
        mask, score = segment.empty()
        for ids, weights, field, weight in found:
            score[ids] += _field_tf(segment, ids, weights, field, weight)
        where = found[0][0] if len(found) == 1 else np.concatenate((found[0][0], found[1][0]))
        mask[where] = True
        score[where] = scoring.saturate(factor, score[where])
        return evaluate.Dense(mask, score)

    def _factor(self, segment):
        return scoring.idf(segment.evaluation, self.text) * self.boost


def _field_tf(segment, ids, weights, field, weight):
    """A field's weighted, length-normalized frequencies of a word, at ids."""
    return weight * weights.astype(np.float64) / segment.length_norm(field)[ids]


class FieldsMatcher(matching.WrappingMatcher):
    def __init__(self, leaves, reader, factor):
        child = leaves[0][0] if len(leaves) == 1 else matching.UnionMatcher(
            leaves[0][0], leaves[1][0])
        super().__init__(child)
        self.leaves, self.reader, self.factor = leaves, reader, factor

    def copy(self):
        return FieldsMatcher([(m.copy(), *rest) for m, *rest in self.leaves],
                              self.reader, self.factor)

    def replace(self, minquality=0):
        return self if self.is_active() else matching.NullMatcher()

    def supports_block_quality(self):
        return False

    def max_quality(self):
        return scoring.max_saturated(self.factor)

    def score(self):
        docnum = self.child.id()
        tf = 0.0
        for m, field, weight, avg in self.leaves:
            if m.is_active() and m.id() == docnum:
                length = self.reader.doc_field_length(docnum, field, 1)
                tf += weight * m.weight() / scoring.length_norm(length, avg)
        return scoring.saturate(self.factor, tf)


class Constant(Q.WrappingQuery):
    """The documents of a query, each with the same score (a bonus)."""

    def __init__(self, child, score):
        super().__init__(child)
        self.score = score

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and other.child == self.child
                and other.score == self.score)

    def __hash__(self):
        return hash(self.child) ^ hash(self.score)

    def _rewrap(self, child):
        return self.__class__(child, self.score)

    def matcher(self, searcher, context=None):
        m = self.child.matcher(searcher, context)
        if isinstance(m, matching.NullMatcherClass):
            return m
        return ConstantMatcher(m, self.score)

    def evaluate(self, segment):
        found = evaluate.evaluate(self.child, segment)
        if found is None:
            return None
        if isinstance(found, evaluate.Sparse):
            return evaluate.Sparse(found.ids, np.full(len(found.ids), float(self.score)))
        return evaluate.Dense(found.mask, np.where(found.mask, self.score, 0.0))


class ConstantMatcher(matching.WrappingMatcher):
    def __init__(self, child, score):
        super().__init__(child)
        self.value = score

    def _replacement(self, newchild):
        return ConstantMatcher(newchild, self.value)

    def copy(self):
        return ConstantMatcher(self.child.copy(), self.value)

    def supports_block_quality(self):
        return False

    def max_quality(self):
        return self.value

    def score(self):
        return self.value


class Tier(Q.WrappingQuery):
    """The documents of a query, each scored its own score plus a constant:
    the offset that puts a tier of matches above the ones below it
    (search/query/builder.py, with a DisjunctionMax over the tiers)."""

    def __init__(self, child, offset):
        super().__init__(child)
        self.offset = offset

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and other.child == self.child
                and other.offset == self.offset)

    def __hash__(self):
        return hash(self.child) ^ hash(("tier", self.offset))

    def __repr__(self):
        return f"{self.__class__.__name__}({self.child!r}, +{self.offset})"

    def _rewrap(self, child):
        return self.__class__(child, self.offset)

    def matcher(self, searcher, context=None):
        m = self.child.matcher(searcher, context)
        if isinstance(m, matching.NullMatcherClass):
            return m
        return TierMatcher(m, self.offset)

    def evaluate(self, segment):
        found = evaluate.evaluate(self.child, segment)
        if found is None:
            return None
        if isinstance(found, evaluate.Sparse):
            return evaluate.Sparse(found.ids, found.score + self.offset)
        return evaluate.Dense(found.mask, np.where(found.mask, found.score + self.offset, 0.0))


class TierMatcher(matching.WrappingMatcher):
    def __init__(self, child, offset):
        super().__init__(child)
        self.offset = offset

    def _replacement(self, newchild):
        return TierMatcher(newchild, self.offset)

    def copy(self):
        return TierMatcher(self.child.copy(), self.offset)

    def supports_block_quality(self):
        return False

    def max_quality(self):
        return self.child.max_quality() + self.offset

    def score(self):
        return self.child.score() + self.offset


class Near(SpanNear):
    """SpanNear that can sit inside Or/And (Whoosh asks it for a size
    estimate to order matchers, which SpanNear lacks), evaluated for a
    whole segment at once (search/query/phrases.py)."""

    def evaluate(self, segment):
        return phrases.evaluate_near(self, segment)

    def estimate_size(self, ixreader):
        return min(self.a.estimate_size(ixreader), self.b.estimate_size(ixreader))
