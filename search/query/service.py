"""The engine: a typed SearchRequest in, a SearchResult of hits with match
spans out; one item by id; counts of the whole index.

``SearchService(index_dir)`` is thread-safe: each thread keeps its own
Whoosh searcher (sharing one gives wrong results under load), refreshed
when a reindex commits a newer generation.
"""

import math
import os
import re
import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from .. import analysis, readings, userdict
from ..index import manifest as manifests
from ..index import schema, storage, story_table
from ..index import whoosh_internals as internals
from . import evaluate, grouping, language, related, rerank, timeline
from .builder import build_query, positive_terms
from .columns import Columns
from .errors import BadRequest, NotFound
from .results import Hit, Item, SearchResult
from .scoring import SharedIdfBM25F
from .snippets import load_spans, snippet
from .stats import index_stats
from .words import QueryWords

REFRESH_SECONDS = 1.0  # how often a searcher looks for a newer index, by default
MAX_TAGS = 20  # tags in the tag facet, the most frequent first
RERANK_TEXTS_KEPT = 5000  # op=or: folded item texts kept per searcher for the re-rank (~1 KB each)
_ID = re.compile(r"^[0-9a-f]{16}$")


class SearchService:
    """Searches one index directory. refresh_seconds: how long a thread's
    searcher is used before it looks for a newer index."""

    def __init__(self, index_dir, refresh_seconds=REFRESH_SECONDS):
        self.index_dir = index_dir
        self.refresh_seconds = refresh_seconds
        self.local = threading.local()
        self.ix = None
        self.columns = Columns()
        self.counted = (None, None)  # ((generation, manifest mtime), index_stats)
        self.weighting = SharedIdfBM25F()
        self.dictionary = (None, None)  # (generation, its user dictionary's path or None)

    def searcher(self):
        local = self.local
        now = time.monotonic()
        s = getattr(local, "searcher", None)
        if s is not None and now - local.checked < self.refresh_seconds:
            self._use_dictionary(s)
            return s
        for attempt in range(5):
            try:
                if s is None:
                    if self.ix is None:
                        self.ix = storage.open_index(self.index_dir)
                    s = self.ix.searcher(weighting=self.weighting)
                elif not s.up_to_date():
                    s = s.refresh()
                else:
                    break
                storage.pin_files(s)
                if s.up_to_date():  # no commit came while the files were opened
                    break
            except (OSError, EOFError):  # a commit removed files mid-open
                if attempt == 4:
                    raise
                s = None
                time.sleep(0.05 * (attempt + 1))
        local.searcher, local.checked = s, now
        self._use_dictionary(s)
        return s

    def readings(self, s, groups):
        """The readings table of the searcher's generation (search/readings.py)
        when a word is typed in hiragana; {} otherwise, or when it has none
        (yet: it is written just after the commit, so none is not kept)."""
        if not any(analysis.is_hiragana(u.text) for g in groups for u in g):
            return {}
        generation = s.reader().generation()
        known, table = getattr(self, "read_as", (None, None))
        if known != generation or not table:
            table = readings.read(self.index_dir, generation)
            self.read_as = (generation, table)
        return table

    def _use_dictionary(self, s):
        """Analyse queries with the user dictionary the searcher's generation
        was built with (search/userdict.py): a reindex with another one is
        followed without a restart."""
        generation = s.reader().generation()
        known, path = self.dictionary
        if generation != known:
            manifest = manifests.read_manifest(self.index_dir, generation) \
                if generation is not None else None
            path = userdict.of_manifest(self.index_dir, manifest)
            if path is not None and not os.path.exists(path):
                path = None  # a generation since replaced: the next refresh follows it
            else:
                self.dictionary = (generation, path)
        analysis.use_user_dictionary(path)

    def search(self, request):
        """The SearchResult of a SearchRequest (search/query/request.py)."""
        started = time.perf_counter()
        s = self.searcher()
        found = self.select(s, request)
        page, per_page = request.page, request.per_page
        total, hits, facets = 0, (), {"source": {}, "date": {}, "tag": {}, "label": {}}
        if found.docnums is not None:
            stories, others = self.stories(s), None
            start = (page - 1) * per_page
            if request.group == "story":
                order = self._order(s, found.docnums, found.scores, found.sort)
                total, top, others = grouping.collapse(
                    found.docnums[order], found.scores[order], stories, start, per_page)
            else:
                total = len(found.docnums)
                if request.op == "or" and found.sort == "relevance" and request.groups:
                    top = self._reranked(s, request, found, page * per_page)[start:]
                else:
                    top = self._top(s, found.docnums, found.scores, found.sort,
                                    page * per_page)[start:]
            hits = self._hits(s, top, found.terms, found.evaluation, stories, others)
            facets = self._facets(s, request, found)
        return SearchResult(
            request=request, total=total, pages=math.ceil(total / per_page),
            hits=hits, facets=facets,
            took_ms=round((time.perf_counter() - started) * 1000, 1), searchable=found.searchable,
            expanded=found.expanded)

    def select(self, s, request, query=None, evaluation=None):
        """Every item the request selects, with its score: the query's
        matches (or, with no query, every item) that the filters allow.
        (query, evaluation: a query tree and an evaluation to score it with,
        for a walk that keeps the ones it began with, search/query/walk.py.)"""
        if not request.groups:  # browsing: every item, newest first
            if not s.doc_count_all():
                return Selection(None, None, None)
            docnums = self.columns.live(s)
            scores = np.zeros(len(docnums))
            terms, evaluation, sort = (), None, _browse_sort(request.sort)
        else:
            expanded = {}
            # Every match and its score at once (search/query/evaluate.py):
            # the total and the facets count them all, the page shows the best.
            if evaluation is None and s.doc_count_all():  # an empty index has nothing to count
                evaluation = evaluate.Evaluation(s)
            q = build_query(s, request.groups, request.op, request.synonyms, expanded,
                            self.readings(s, request.groups), evaluation) if query is None else query
            if q is None or not s.doc_count_all():
                return Selection(None, None, None, searchable=q is not None, expanded=expanded)
            docnums, scores = evaluation.matches(q)
            terms, sort = positive_terms(q), request.sort
        expanded = expanded if request.groups and query is None else {}
        allowed = self._allowed(s, request.filters)
        if allowed is None:
            return Selection(docnums, scores, docnums, terms, evaluation, sort, expanded=expanded)
        keep = allowed[docnums]
        return Selection(docnums[keep], scores[keep], docnums, terms, evaluation, sort,
                         expanded=expanded)

    def _facets(self, s, request, found):
        if request.filters.sources:  # multi-select: count sources as if none were chosen
            others = self._allowed(s, _without_sources(request.filters))
            unfiltered = found.unfiltered
            by_source = self._count(s, "source", unfiltered if others is None
                                    else unfiltered[others[unfiltered]])
        else:
            by_source = self._count(s, "source", found.docnums)
        return {"source": _by_count(by_source),
                "date": dict(reversed(self._count(s, "date", found.docnums).items())),
                "tag": _by_count(self.columns.tags(s).count(found.docnums), MAX_TAGS),
                "label": _by_count(self.labels(s).count(found.docnums))}

    def stories(self, s):
        """The stories of the searcher's generation (search/query/columns.py)."""
        generation = s.reader().generation()
        return self.columns.stories(s, lambda: story_table.read_serving(self.index_dir, generation))

    def labels(self, s):
        """The dump labels of the searcher's generation, from its manifest."""
        generation = s.reader().generation()
        try:
            written = os.stat(manifests.manifest_path(self.index_dir, generation)).st_mtime_ns
        except OSError:
            written = None
        return self.columns.labels(
            s, lambda: manifests.read_manifest(self.index_dir, generation), written)

    def timeline(self, request, interval):
        """The Timeline of a request (search/query/timeline.py)."""
        return timeline.timeline(self, request, interval)

    def related(self, item_id, limit=10):
        """(StoryInfo, [RelatedItem]) of an item, or NotFound."""
        s = self.searcher()
        return related.related(self, s, self._docnum(s, item_id), limit)

    def _docnum(self, s, item_id):
        item_id = item_id.lower() if isinstance(item_id, str) else ""
        docnum = s.document_number(id=item_id) if _ID.match(item_id) else None
        if docnum is None:
            raise NotFound("not_found", "指定された記事は見つかりません")
        return docnum

    def _allowed(self, s, filters):
        """The documents the filters allow, as a mask over every document of
        the searcher; None when there is no filter."""
        masks = []
        if filters.sources:
            sources = self.columns.sources(s)
            wanted = {name for typed in filters.sources for name in sources.resolve(typed)}
            masks.append(self.columns.get(s, "source").mask(wanted.__contains__))
        if filters.tags:
            masks.append(self.columns.tags(s).mask(schema.tag_key(t) for t in filters.tags))
        if filters.date_from or filters.date_to:
            low = filters.date_from.isoformat() if filters.date_from else ""
            high = filters.date_to.isoformat() if filters.date_to else "\uffff"
            masks.append(self.columns.get(s, "date").mask(lambda day: low <= day <= high))
        if filters.labels:
            masks.append(self.labels(s).mask(schema.tag_key(v) for v in filters.labels))
        if filters.story:
            mask = np.zeros(s.doc_count_all(), dtype=bool)
            mask[self.stories(s).docnums_of(filters.story)] = True
            masks.append(mask)
        if not masks:
            return None
        return np.logical_and.reduce(masks)

    def _top(self, s, docnums, scores, sort, k):
        """The first k (docnum, score) in the order of sort."""
        if sort == "relevance" and len(scores) > k:  # only those that can be in the first k get sorted
            cut = np.partition(scores, len(scores) - k)[len(scores) - k]
            keep = scores >= cut
            docnums, scores = docnums[keep], scores[keep]
        order = self._order(s, docnums, scores, sort)[:k]
        return [(int(docnums[i]), float(scores[i])) for i in order]

    def _reranked(self, s, request, found, k):
        """op=or: the first k of the engine's candidates re-ranked by their
        best sentence's character bigrams (search/query/rerank.py)."""
        top = self._top(s, found.docnums, found.scores, "relevance", max(k, rerank.RERANK_DEPTH))
        question = " ".join(u.text for group in request.groups for u in group if not u.negated)

        # The folded texts are kept on the reader (a reindex makes a new
        # one), bounded: questions about one article share candidates.
        kept = internals.reader_cache(s.reader()).setdefault("rerank_texts", {})
        if len(kept) > RERANK_TEXTS_KEPT:
            kept.clear()

        def texts(docnum):
            text = kept.get(docnum)
            if text is None:
                doc = s.stored_fields(docnum)
                text = kept[docnum] = rerank.text_of(doc.get("headline", ""), doc.get("body", ""))
            return text

        return rerank.rerank(question, top, texts)[:k]

    def _order(self, s, docnums, scores, sort):
        """The indexes of docnums in the order of sort: by score, the earlier
        document first on ties (as Whoosh ranks); or by date, then score."""
        if sort == "relevance":
            return np.lexsort((docnums, -scores))
        days = self.columns.get(s, "date").rank[docnums]
        return np.lexsort((docnums, -scores, days if sort == "oldest" else -days))

    def _count(self, s, field, docnums):
        return self.columns.get(s, field).count(docnums)

    def _hits(self, s, hits, terms, evaluation, stories, others=None):
        spans = load_spans(s, [docnum for docnum, _ in hits], terms, evaluation)
        labels, ids = self.labels(s), self.columns.ids(s)
        out = []
        for k, (docnum, score) in enumerate(hits):
            doc = s.stored_fields(docnum)
            urls = doc.get("urls") or []
            out.append(Hit(
                id=doc["id"],
                headline=doc.get("headline", ""),
                headline_spans=tuple(spans.get((docnum, "headline"), ())),
                snippet=snippet(doc.get("body", ""), spans.get((docnum, "body"), [])),
                source=doc.get("source", ""),
                handle=doc.get("handle", ""),
                date=doc.get("date", ""),
                url=urls[0] if urls else "",
                tags=tuple(doc.get("tags") or ()),
                score=score,
                labels=labels.of(doc.get("dumps")),
                story=stories.info(docnum),
                story_items=None if others is None else tuple(ids.id_of(d) for d in others[k])))
        return tuple(out)

    def item(self, item_id, q=None, synonyms=True):
        """The whole stored item, or NotFound. With a query, also where the
        query's words are in its headline and body."""
        s = self.searcher()
        docnum = self._docnum(s, item_id)
        doc = s.stored_fields(docnum)
        doc.pop("tag", None)
        found = {"labels": self.labels(s).of(doc.get("dumps")), "story": self.stories(s).info(docnum)}
        if not (q and q.strip()):
            return Item(doc, **found)
        try:
            groups = language.parse(q)
            words = QueryWords(groups, synonyms, self.readings(s, groups))
        except language.QuerySyntaxError as e:
            raise BadRequest("invalid_query", str(e)) from None
        return Item(doc, {"headline": words.spans(doc.get("headline", "")),
                          "body": words.spans(doc.get("body", ""))}, **found)

    def stats(self):
        """index_stats, counted again only when the index or its manifest
        changes: counting reads every document's source and the manifest
        (~120 ms on x4), and the search page shows them on every visit
        without a query. (A reindex that adds no item rewrites the manifest
        of the same generation.)"""
        s = self.searcher()
        generation = s.reader().generation()  # None for an empty index: not kept
        try:
            written = os.stat(manifests.manifest_path(self.index_dir, generation)).st_mtime_ns
        except OSError:
            written = None
        key = (generation, written)
        cached, counted = self.counted
        if generation is None or key != cached:
            counted = index_stats(self.index_dir, s)
            self.counted = (key, counted)
        return dict(counted)


@dataclass(frozen=True)
class Selection:
    """What a request selects: document numbers and scores (None when
    nothing can match), the matches before the filters (for the source
    facet), the terms a hit may contain (for its spans), the evaluation that
    read them, and the sort to apply."""

    docnums: object
    scores: object
    unfiltered: object
    terms: tuple = ()
    evaluation: object = None
    sort: str = "relevance"
    searchable: bool = True
    expanded: dict = None  # {typed word: [synonyms searched too]}


def _browse_sort(sort):
    """With no query there is no relevance: newest first instead."""
    return "newest" if sort == "relevance" else sort


def _by_count(counts, limit=None):
    """{value: count}, the most frequent first (then by value), the first limit."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return dict(ranked[:limit] if limit else ranked)


def _without_sources(filters):
    return replace(filters, sources=())
