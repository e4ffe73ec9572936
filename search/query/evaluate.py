"""Every match of a query and its score, computed over whole posting lists.

Whoosh answers a query by walking a tree of matchers one document at a time
in Python (~50 µs a matching document for our queries); a common word
matches thousands. Here each node of the same query tree is evaluated for a
whole segment at once, as numpy arrays over its documents: a match mask
and a score per document. Words are read as arrays
(search/index/posting_arrays.py), And/Or/AndMaybe/AndNot become mask and
score arithmetic, and the scores are the formulas of search/query/scoring.py
(BM25F as nodes.FieldsTerm computes it, Whoosh's BM25 for a single-field
Term), so the ranking is the one the matcher tree gives;
tests/test_evaluate.py holds them equal.

A query node may evaluate itself (a method ``evaluate(segment)``); nodes
neither it nor this module knows, such as phrases (span queries: they need
positions, read only for the documents that have every word), fall back to
Whoosh's matcher for that node alone.
"""

import numpy as np
from whoosh import query as Q
from whoosh import scoring as whoosh_scoring
from whoosh.reading import TermNotFound

from ..index import codec, posting_arrays
from ..index import whoosh_internals as internals
from . import scoring, shared
from .shared import segment_key
from .snippets import local_docnums, matcher_values


class Segment:
    """One segment of a searcher, as the evaluation sees it. The postings it
    reads are kept for the query: the snippets ask which hits hold a term."""

    def __init__(self, evaluation, leaf, offset):
        self.evaluation, self.leaf, self.offset = evaluation, leaf, offset
        self.searcher, self.context = evaluation.searcher, evaluation.context
        self.reader = leaf.reader()
        self.size = self.reader.doc_count_all()
        self.key = segment_key(self.reader)
        self.arrays = posting_arrays.open_arrays(self.reader)
        self.read = {}
        self.values = {}  # (field, text): values of the rare terms' postings, read with them
        self.filtered = set()  # (field, text) read through Whoosh's matcher: no deleted documents

    def postings(self, field, text):
        """(document numbers, weights) of a term in this segment, or None."""
        key = (field, text)
        if key not in self.read:
            self.read[key] = self._postings(field, text)
        return self.read[key]

    def _postings(self, field, text):
        if self.arrays is not None:
            found = self.arrays.lookup(field, text)
            if found is posting_arrays.ABSENT:
                return None
            if found is not None:
                ids, weights, values = found
                if values is not None:  # a rare term's, read with its postings
                    self.values[(field, text)] = values
                return ids, weights
        try:
            m = self.reader.postings(field, text)
        except TermNotFound:
            return None
        # A term the arrays do not keep is rare (search/postings.py): its
        # values are kept too, for the snippets, rather than found again.
        # (A segment without arrays, from before them, reads every term here.)
        keep = self.arrays is not None and self.reader.schema[field].format.supports("characters")
        ids, weights, values = codec.read_postings(m, keep)
        self.filtered.add((field, text))
        if keep:
            self.values[(field, text)] = values
        return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float64)

    def values_at(self, field, text, indexes):
        """The values (positions and characters) of the term's postings at
        these indexes of what postings() read: kept while reading them from
        Whoosh's postings, or read from the blocks the posting arrays point
        to; None when neither can give them."""
        kept = self.values.get((field, text))
        if kept is not None:
            return [kept[k] for k in indexes]
        return None if self.arrays is None else self.arrays.values(field, text, indexes)

    def doc_frequency(self, field, text):
        """Documents holding the term, deleted ones included (as Whoosh
        counts them): the length of its postings, which the evaluation reads
        anyway, unless Whoosh's left deleted documents out."""
        found = self.postings(field, text)
        if found is None:
            return 0
        if (field, text) in self.filtered and self.reader.has_deletions():
            return self.reader.doc_frequency(field, text)
        return len(found[0])

    def lengths(self, field):
        """Each document's length in field, as Whoosh scores it."""
        found = self.arrays.lengths(field) if self.arrays is not None else None
        if found is None:
            read = internals.reader_cache(self.reader).setdefault("lengths", {})
            found = read.get(field)
        if found is None:  # no arrays file: read Whoosh's lengths once per reader
            found = read[field] = np.array([self.reader.doc_field_length(d, field, 0) or 0
                                            for d in range(self.size)], dtype=np.float64)
        return found

    def lengths_at(self, field, docnums):
        """The lengths in field of docnums (sorted)."""
        return self.lengths(field)[docnums]

    def length_norm(self, field, b=scoring.B):
        """BM25's length normalization of every document in field (the
        average over the whole index), made once per segment and average for
        every thread of the process (search/query/shared.py)."""
        avg = self.evaluation.avg_field_length(field)
        return _kept_norms(self.reader, (self.key,), field, b, avg,
                           lambda: scoring.length_norm(self.lengths(field), avg, b))

    def leaves(self):
        yield self.leaf, self.context, 0

    def deleted(self):
        if not self.reader.has_deletions():
            return None
        return np.fromiter(self.reader.segment().deleted_docs(), dtype=np.int64)

    def empty(self):
        return np.zeros(self.size, dtype=bool), np.zeros(self.size, dtype=np.float64)


def _kept_norms(reader, segments, field, b, avg, make):
    """A field's length normalizations over segments (their keys), made
    (make()) once for the process's threads (shared.norms); kept on reader
    when a segment has no key, and made again there when b or the index's
    average length is not what they were made with."""
    if None not in segments:  # read-only: every thread of the process scores with them
        return shared.norms.get((field, b, avg, segments), lambda: _read_only(make()))
    norms = internals.reader_cache(reader).setdefault("length_norms", {})
    found = norms.get(field)
    if found is None or found[:2] != (b, avg):  # new: the index changed
        found = norms[field] = (b, avg, make())
    return found[2]


def _read_only(array):
    array.setflags(write=False)
    return array


class Combined:
    """A searcher's segments as one, its documents numbered as the index
    numbers them: each node of a query is evaluated once for the index, not
    once a segment. A node's cost is mostly numpy's per-call overhead
    (µs a call, a query's clauses making thousands of calls), so with
    segments it grew with their number: on a year of daily reindexes (23
    segments) a query took ~3 x what it takes on a fresh build (2). The
    postings are still read a segment at a time (each segment's reads are
    kept there, for the snippets), then put end to end."""

    def __init__(self, evaluation, parts):
        self.evaluation, self.parts = evaluation, parts
        self.searcher = self.leaf = evaluation.searcher
        self.context = evaluation.context
        self.size = sum(part.size for part in parts)
        self.keys = tuple(part.key for part in parts)
        self.read = {}

    def postings(self, field, text):
        """(document numbers, weights) of a term in the index, or None."""
        key = (field, text)
        if key not in self.read:
            ids, weights = [], []
            for part in self.parts:
                found = part.postings(field, text)
                if found is not None:  # (one pass: numbered from the part's offset, as int64)
                    ids.append(np.add(found[0], part.offset, dtype=np.int64))
                    weights.append(found[1])
            self.read[key] = (np.concatenate(ids), np.concatenate(weights)) if ids else None
        return self.read[key]

    def leaves(self):
        """(leaf searcher, its context, its first document number) a part."""
        for part in self.parts:
            yield part.leaf, part.context, part.offset

    def lengths_at(self, field, docnums):
        """The lengths in field of docnums (sorted), gathered a part at a
        time: the index's lengths put end to end cost a query 8 bytes a
        document and field (4.7 MB at x40), for the few thousand a word has."""
        bounds = np.searchsorted(docnums, [part.offset for part in self.parts[1:]])
        return np.concatenate([part.lengths(field)[ids - part.offset]
                               for part, ids in zip(self.parts, np.split(docnums, bounds))])

    def length_norm(self, field, b=scoring.B):
        """The parts' length normalizations end to end (8 bytes a document
        and field), made once per index and average for every thread of the
        process, from the parts' lengths: the parts' own normalizations are
        not kept beside them (the same floats: the formula is elementwise)."""
        avg = self.evaluation.avg_field_length(field)
        return _kept_norms(self.searcher.reader(), self.keys, field, b, avg, lambda: np.concatenate(
            [scoring.length_norm(part.lengths(field), avg, b) for part in self.parts]))

    def deleted(self):
        """Document numbers of the deleted documents, or None."""
        found = [(part.deleted(), part.offset) for part in self.parts]
        found = [docnums + offset for docnums, offset in found if docnums is not None]
        return np.concatenate(found) if found else None

    def empty(self):
        return np.zeros(self.size, dtype=bool), np.zeros(self.size, dtype=np.float64)


class Evaluation:
    """Evaluates queries over a searcher's segments; answers the corpus
    statistics scoring needs (document counts and frequencies) like the
    searcher, from the posting arrays where it can."""

    def __init__(self, searcher):
        self.searcher = searcher
        self.context = searcher.context()
        self.segments = [Segment(self, leaf, offset) for leaf, offset in searcher.leaf_searchers()]
        self.frequencies = {}
        self._last_split = None  # (docnums, _by_segment's answer)

    def doc_count_all(self):
        return self.searcher.doc_count_all()

    def avg_field_length(self, field):
        key = ("avg", field)
        if key not in self.frequencies:
            self.frequencies[key] = self.searcher.avg_field_length(field) or 1.0
        return self.frequencies[key]

    def doc_frequency(self, field, text):
        key = (field, text)
        if key not in self.frequencies:
            self.frequencies[key] = sum(s.doc_frequency(field, text) for s in self.segments)
        return self.frequencies[key]

    def matches(self, q):
        """(document numbers, scores) of every match of q, by document number."""
        if not self.segments:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        whole = self.segments[0] if len(self.segments) == 1 else Combined(self, self.segments)
        found = evaluate(q, whole)
        if found is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        deleted = whole.deleted()
        if isinstance(found, Sparse):
            if deleted is None:
                return found.ids, found.score
            kept = ~np.isin(found.ids, deleted)
            return found.ids[kept], found.score[kept]
        if deleted is not None:
            found.mask[deleted] = False
        docnums = np.flatnonzero(found.mask)
        return docnums, found.score[docnums]

    def values(self, field, text, docnums):
        """({docnum: value} of the term's postings in docnums (sorted) that
        were read while matching or that the posting arrays can read, [the
        docnums left, which may hold the term]): a hit that the term's
        postings, read while matching, show without the term is in neither,
        nor is a hit of a segment whose postings hold none of it (none, or
        only deleted documents' as Whoosh's postings read them)."""
        found, rest, key = {}, [], (field, text)
        for segment, local in self._by_segment(docnums):
            if key not in segment.read:  # not read while matching: the matcher will tell
                rest.extend(d + segment.offset for d in local)
                continue
            read = segment.read[key]
            if read is None or not len(read[0]):
                continue
            present = _present(read[0], local)
            values = segment.values_at(field, text, [k for _, k in present]) if present else []
            if values is None:
                rest.extend(d + segment.offset for d, _ in present)
                continue
            found.update((d + segment.offset, v) for (d, _), v in zip(present, values))
        return found, sorted(rest)

    def term_values(self, field, text, docnums):
        """{docnum: value} of the term's postings in docnums (sorted): read
        where matching read them (Evaluation.values), the rest with
        Whoosh's matcher."""
        found, rest = self.values(field, text, docnums)
        found.update(matcher_values(self.searcher, field, text, rest))
        return found

    def _by_segment(self, docnums):
        """[(segment, its document numbers among docnums)] for each segment
        holding any of them. The snippets ask this of the same page of hits
        once a term (dozens, over every segment): the last answer is kept,
        for the same list object (callers pass a list they do not change
        afterwards: load_spans' sorted page, a phrase's candidates)."""
        last = self._last_split
        if last is not None and last[0] is docnums:
            return last[1]
        found = []
        for segment in self.segments:
            local = local_docnums(docnums, segment.offset, segment.size)
            if local:
                found.append((segment, local))
        self._last_split = (docnums, found)
        return found


def _locate(ids, docnums):
    """(whether each of docnums is in ids (sorted, not empty), the index in
    ids where it is or would be, clipped to ids)."""
    at = np.minimum(np.searchsorted(ids, docnums), len(ids) - 1)
    return ids[at] == docnums, at


def _present(ids, local):
    """(docnum, its index in ids) for each of local found in ids (sorted, not
    empty)."""
    hit, at = _locate(ids, local)
    return [(d, k) for d, k, h in zip(local, at.tolist(), hit.tolist()) if h]


def matches(searcher, q):
    """(document numbers, scores) of every match of q, by document number."""
    return Evaluation(searcher).matches(q)


class Sparse:
    """The matches of a query node as the documents it matches (sorted,
    each once) and their scores: what a node matching few documents gives,
    so that its cost follows its matches, not the size of the index (on
    ×40, 295,000 documents, an array of the index's size took ~0.3 ms to
    make and 2.4 MB of a worker's heap, and a query made dozens)."""

    __slots__ = ("ids", "score")

    def __init__(self, ids, score):
        self.ids, self.score = ids, score

    def __len__(self):
        return len(self.ids)

    def at(self, docnums):
        """(whether each of docnums (sorted) matches, its score there or 0)."""
        if not len(self.ids):
            return np.zeros(len(docnums), dtype=bool), np.zeros(len(docnums))
        hit, k = _locate(self.ids, docnums)
        return hit, np.where(hit, self.score[k], 0.0)

    def dense(self, size):
        mask, score = np.zeros(size, dtype=bool), np.zeros(size, dtype=np.float64)
        mask[self.ids] = True
        score[self.ids] = self.score
        return Dense(mask, score)


class Dense:
    """The matches of a query node as a mask over the index's documents and
    a score for each (0 where the mask is False): what a node matching many
    documents gives, where numpy's arithmetic over whole arrays costs less
    than gathering and scattering."""

    __slots__ = ("mask", "score")

    def __init__(self, mask, score):
        self.mask, self.score = mask, score

    def at(self, docnums):
        return self.mask[docnums], self.score[docnums]

    def dense(self, size):
        return self


# A node whose matches are fewer than this share of the index's documents
# is kept sparse (Sparse); a commoner one dense (Dense).
SPARSE_SHARE = 0.05


def sparse_limit(segment):
    return SPARSE_SHARE * segment.size


def union(parts, combine=np.add):
    """(document numbers, values) of [(sorted document numbers, values)],
    each document once, its values combined (np.add, np.maximum) in the
    parts' order starting from 0, as the dense arithmetic combines them (the
    same floats). A stable sort of runs already sorted is a merge, and
    combine.at applies the values in the order given, so this costs about
    what the parts hold (np.unique and a search per part took 3x as long)."""
    ids = np.concatenate([p[0] for p in parts])
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    at = np.empty(len(ids), dtype=np.int64)
    at[order] = np.cumsum(first) - 1
    values = np.zeros(int(np.count_nonzero(first)))
    combine.at(values, at, np.concatenate([p[1] for p in parts]))
    return ordered[first], values


def evaluate(q, segment):
    """The matches of q over the segment's documents (Sparse or Dense), the
    score 0 where it does not match; None when nothing matches."""
    own = getattr(q, "evaluate", None)
    if own is not None:
        return own(segment)
    kind = type(q)
    if kind in (Q.And, Q.Or, Q.AndMaybe, Q.AndNot, Q.DisjunctionMax) and q.boost != 1.0:
        return whoosh_matches(q, segment)
    if kind is Q.AndNot:
        return _and_not(q, segment)
    if kind is Q.AndMaybe:
        return _and_maybe(q, segment)
    if kind is Q.And:
        return _and([evaluate(sub, segment) for sub in q.subqueries])
    if kind is Q.Or and not q.minmatch and q.scale is None:
        return _any(q.subqueries, segment, np.add)
    if kind is Q.DisjunctionMax and not q.tiebreak:  # the best (scores are never negative)
        return _any(q.subqueries, segment, np.maximum)
    if kind is Q.Term and isinstance(segment.searcher.weighting, whoosh_scoring.BM25F):
        return _term(q, segment)
    return whoosh_matches(q, segment)


def _and(found):
    """Documents every clause matches, their scores summed in the clauses'
    order (as the dense arithmetic sums them: the same floats)."""
    if not found or any(f is None for f in found):
        return None
    sparse = [f for f in found if isinstance(f, Sparse)]
    if not sparse:
        mask, score = found[0].mask.copy(), found[0].score.copy()
        for f in found[1:]:
            mask &= f.mask
            score += f.score
        score[~mask] = 0.0
        return Dense(mask, score)
    ids = min(sparse, key=len).ids  # the fewest: each other clause is asked about those
    answers = [f.at(ids) for f in found]
    keep = np.logical_and.reduce([hit for hit, _ in answers])
    score = answers[0][1][keep]
    for _, values in answers[1:]:
        score += values[keep]
    return Sparse(ids[keep], score)


def _any(subqueries, segment, combine):
    """The documents any of the clauses matches, their scores combined
    (np.add: summed; np.maximum: the best) in the clauses' order. Clauses
    matching few documents in all (a word's completions and readings are
    dozens of them) are combined sparse; once they match many, or one
    clause is dense, into one pair of arrays the size of the segment."""
    found = [f for f in (evaluate(sub, segment) for sub in subqueries) if f is not None]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    if all(isinstance(f, Sparse) for f in found) and \
            sum(len(f) for f in found) <= sparse_limit(segment):
        return Sparse(*union([(f.ids, f.score) for f in found], combine))
    mask, score = segment.empty()
    for f in found:
        if isinstance(f, Sparse):
            mask[f.ids] = True
            score[f.ids] = combine(score[f.ids], f.score)
        else:
            mask |= f.mask
            combine(score, f.score, out=score)
    return Dense(mask, score)


def _and_maybe(q, segment):
    required = evaluate(q.a, segment)
    if required is None:
        return None
    optional = evaluate(q.b, segment)
    if optional is None:
        return required
    if isinstance(required, Sparse):
        return Sparse(required.ids, required.score + optional.at(required.ids)[1])
    optional = optional.dense(segment.size)
    return Dense(required.mask, required.score + np.where(required.mask, optional.score, 0.0))


def _and_not(q, segment):
    kept = evaluate(q.a, segment)
    if kept is None:
        return None
    excluded = evaluate(q.b, segment)
    if excluded is None:
        return kept
    if isinstance(kept, Sparse):
        keep = ~excluded.at(kept.ids)[0]
        return Sparse(kept.ids[keep], kept.score[keep]) if keep.any() else None
    mask = kept.mask & ~excluded.dense(segment.size).mask
    return Dense(mask, np.where(mask, kept.score, 0.0))


def _term(q, segment):
    """A word in one field, with Whoosh's BM25 as the searcher's weighting
    scores it (scoring.SharedIdfBM25F sets the idf)."""
    text = q.text.decode("utf-8") if isinstance(q.text, bytes) else q.text
    found = segment.postings(q.fieldname, text)
    if found is None:
        return None
    ids, weights = found
    weighting = segment.searcher.weighting
    if isinstance(weighting, scoring.SharedIdfBM25F) and segment.searcher.schema[q.fieldname].scorable:
        (idf, avgfl, B, K1), qf = weighting.field_parameters(segment.evaluation, q.fieldname, text), 1
    else:
        scorer = weighting.scorer(segment.leaf, q.fieldname, text)
        idf, avgfl, B, K1, qf = scorer.idf, scorer.avgfl, scorer.B, scorer.K1, scorer.qf
    tf = weights.astype(np.float64) * qf
    fl = segment.lengths_at(q.fieldname, ids)
    # Whoosh's scoring.bm25, then the Term's boost, in the same order.
    return Sparse(ids, scoring.field_bm25(idf, tf, fl, avgfl, B, K1) * q.boost)


def whoosh_matches(q, segment):
    """Any other query: Whoosh's own matcher, for this node only (a matcher
    a segment)."""
    ids, scores = [], []
    for leaf, context, offset in segment.leaves():
        m = q.matcher(leaf, context)
        while m.is_active():
            ids.append(m.id() + offset)
            scores.append(m.score())
            m.next()
    if not ids:
        return None
    return Sparse(np.array(ids, dtype=np.int64), np.array(scores, dtype=np.float64))
