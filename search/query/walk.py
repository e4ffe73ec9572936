"""Walks through every item a request selects, in one order, past the
10,000 results paging reaches: cursor pages (``page``), the feed's newest
items, and the export of every item (``export``).

The walk's order is the request's sort with the item id as the last key:
relevance is (score ↓, id), newest (date ↓, score ↓, id), oldest (date ↑,
score ↓, id); browsing (no query) has no scores, so date and id. Ids and
dates are an item's own, so the order of two items never changes; and a
query's scores are computed with the query tree and the collection
statistics the walk began with (search/query/cursor.py), through a searcher
that answers those statistics (``FrozenSearcher``) over the live segments:
an item present throughout keeps its score, so a page continues exactly
after the last item given, however the index was reindexed or merged
meanwhile.
"""

import bisect
import math
import time
from dataclasses import dataclass, replace

import numpy as np
from whoosh.searching import Searcher

from ..index.schema import TEXT_FIELDS
from . import cursor as cursors
from . import evaluate
from .builder import build_query
from .results import Item, SearchResult

FEED_ITEMS = 50
CHUNK = 256  # stored items read at a time by an export


class FrozenSearcher(Searcher):
    """A Whoosh searcher over a live reader that scores with given
    collection statistics (cursor.Statistics): the document count, the
    average field lengths and the frozen words' document frequencies are
    those; anything else is the reader's. Its leaf searchers (Whoosh makes
    them of this class, without statistics) take these from it, as scorers
    ask the top searcher for them."""

    def __init__(self, reader, *args, statistics=None, **kwargs):
        kwargs.setdefault("closereader", False)  # the reader is the service's
        super().__init__(reader, *args, **kwargs)
        self.statistics = statistics
        if statistics is not None:
            live = self.doc_frequency  # Whoosh copies the reader's method onto the searcher

            def doc_frequency(fieldname, text):
                found = statistics.doc_frequency(fieldname, text)
                return live(fieldname, text) if found is None else found

            self.doc_frequency = doc_frequency

    def doc_count_all(self):
        if self.statistics is None:
            return super().doc_count_all()
        return self.statistics.doc_count

    def avg_field_length(self, fieldname, default=None):
        if self.statistics is None or fieldname not in self.statistics.avg_lengths:
            return super().avg_field_length(fieldname, default)
        return self.statistics.avg_lengths[fieldname]


def frozen_evaluation(service, searcher, statistics):
    """An Evaluation (search/query/evaluate.py) over the searcher's segments
    that scores with the statistics."""
    frozen = FrozenSearcher(searcher.reader(), weighting=service.weighting,
                            statistics=statistics)
    evaluation = evaluate.Evaluation(frozen)
    for text, counts in statistics.frequencies.items():
        for field, n in zip(TEXT_FIELDS, counts):
            evaluation.frequencies[(field, text)] = n
    for field, avg in statistics.avg_lengths.items():
        evaluation.frequencies[("avg", field)] = avg
    return evaluation


def select(service, searcher, request, state=cursors.START_CURSOR):
    """(Selection, query tree, statistics) of the request: with a query,
    scored with the cursor's tree and statistics (at the start, those of
    now); browsing, as the service selects."""
    if not request.groups:
        return service.select(searcher, request), None, None
    q, statistics = state.query, state.statistics
    if q is None:
        q = build_query(searcher, request.groups, request.op, request.synonyms,
                        read_as=service.readings(searcher, request.groups))
        if q is None or not searcher.doc_count_all():
            return service.select(searcher, request), None, None
        statistics = cursors.Statistics.of(searcher, q)
    found = service.select(searcher, request, query=q,
                           evaluation=frozen_evaluation(service, searcher, statistics))
    return found, q, statistics


class Order:
    """The walk's order over a selection: sort keys per selected item, and
    which items come after a cursor's position."""

    def __init__(self, service, searcher, found):
        self.found, self.sort = found, found.sort
        self.docnums, self.scores = found.docnums, found.scores
        ids = service.columns.ids(searcher)
        self.item_ids, self.key_of = ids.ids[self.docnums], ids.key
        self.dates = None
        if self.sort != "relevance":
            self.dates = service.columns.get(searcher, "date")
            rank = self.dates.rank[self.docnums]
            self.date_key = -rank if self.sort == "newest" else rank

    def after(self, key):
        """Which selected items come strictly after the sort key (date,
        score, id): a mask over the selection."""
        date, score, item_id = key
        later_id = self.item_ids > self.key_of([item_id])[0]
        later = (self.scores < score) | ((self.scores == score) & later_id)
        if self.dates is None:
            return later
        low = bisect.bisect_left(self.dates.values, date)
        high = bisect.bisect_right(self.dates.values, date)
        rank = self.dates.rank[self.docnums]
        same = (rank >= low) & (rank < high)
        beyond = rank < low if self.sort == "newest" else rank >= high
        return beyond | (same & later)

    def first(self, mask=None, k=None):
        """Indexes into the selection of the first k items (all without k)
        among mask, in the walk's order."""
        at = np.arange(len(self.docnums)) if mask is None else np.flatnonzero(mask)
        primary = -self.scores[at] if self.dates is None else self.date_key[at]
        if k is not None and len(at) > k:  # only those that can be in the first k are sorted
            cut = np.partition(primary, k - 1)[k - 1]
            at = at[primary <= cut]
            primary = -self.scores[at] if self.dates is None else self.date_key[at]
        keys = (self.item_ids[at], -self.scores[at]) + (() if self.dates is None else (primary,))
        order = at[np.lexsort(keys)]
        return order if k is None else order[:k]


@dataclass(frozen=True)
class Page:
    result: SearchResult  # the page, as a search answers it (request.page: the walk's page)
    next_cursor: str | None  # None: nothing after this page


def page(service, request, state=None):
    """One page of the walk of request (request.per_page items) after the
    cursor state (cursor.Cursor; the request's own by default), with the
    cursor of the next page."""
    started = time.perf_counter()
    state = state if state is not None else (request.cursor or cursors.START_CURSOR)
    s = service.searcher()
    found, q, statistics = select(service, s, request, state)
    request = replace(request, page=state.page)
    if found.docnums is None:
        empty = {"source": {}, "date": {}, "tag": {}, "label": {}}
        return Page(_result(request, 0, (), empty, started, found), None)
    order = Order(service, s, found)
    mask = order.after(state.key) if state.started else None
    rest = len(found.docnums) if mask is None else int(mask.sum())
    chosen = order.first(mask, request.per_page) if rest else ()
    top = [(int(found.docnums[i]), float(found.scores[i])) for i in chosen]
    hits = service._hits(s, top, found.terms, found.evaluation, service.stories(s))
    next_cursor = None
    if rest > len(hits) and hits:
        last = hits[-1]
        next_cursor = cursors.encode(request, state.page + 1, (last.date, last.score, last.id),
                                     q, statistics)
    result = _result(request, len(found.docnums), hits, service._facets(s, request, found),
                     started, found)
    return Page(result, next_cursor)


def _result(request, total, hits, facets, started, found):
    return SearchResult(request=request, total=total,
                        pages=math.ceil(total / request.per_page), hits=tuple(hits),
                        facets=facets, took_ms=round((time.perf_counter() - started) * 1000, 1),
                        searchable=found.searchable)


def newest(service, request, limit=FEED_ITEMS):
    """The SearchResult of the limit newest items the request selects,
    newest first (the feed)."""
    return page(service, replace(request, sort="newest", per_page=limit, page=1),
                cursors.START_CURSOR).result


@dataclass
class Export:
    """Every item a request selects, in the walk's order: how many, and
    the items (results.Item, as /api/items/<id> gives them) read CHUNK at a
    time from one searcher, whatever is committed meanwhile."""

    total: int
    service: object
    searcher: object
    docnums: object  # in order

    def chunks(self, size=CHUNK):
        """Lists of results.Item, in order."""
        s = self.searcher
        labels, stories = self.service.labels(s), self.service.stories(s)
        for start in range(0, self.total, size):
            docnums = self.docnums[start:start + size].tolist()
            stored = {d: s.stored_fields(d) for d in sorted(docnums)}  # in the files' order
            out = []
            for d in docnums:
                doc = stored[d]
                doc.pop("tag", None)
                out.append(Item(doc, labels=labels.of(doc.get("dumps")), story=stories.info(d)))
            yield out

    def items(self):
        for chunk in self.chunks():
            yield from chunk


def export(service, request):
    """The Export of every item the request selects (no page, no cap; a
    story grouping is not applied: every item is given)."""
    s = service.searcher()
    found = service.select(s, request)
    if found.docnums is None or not len(found.docnums):
        return Export(0, service, s, np.zeros(0, dtype=np.int64))
    order = Order(service, s, found)
    return Export(len(found.docnums), service, s, found.docnums[order.first()])
