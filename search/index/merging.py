"""How an incremental reindex merges segments: tiered, capped, purging
deleted documents.

Every incremental reindex adds a segment (a day's dump: ~80 documents).
Without merging they pile up, and each one costs every query a term lookup
(and a small segment keeps none of its terms in the posting arrays, so it
is read through Whoosh's slow path). Whoosh's own policy, MERGE_SMALL,
bounds their number, but now and then merges nearly the whole index in one
commit: replayed over a year of daily dumps it merged 5,200 documents on
days 65, 130, 195 and 260 and 25,120 on day 314 (11.2 s for a reindex that
takes 0.6 s on the other days).

``TieredMerge`` (the mergetype of an incremental reindex):

- segments are put in tiers by their live documents, a factor of
  ``segments_per_tier`` apart from ``floor_docs`` up (everything under
  floor_docs is one tier); when a tier holds ``segments_per_tier``
  segments, the smallest of them are merged into one (which lands in the
  tier above), so there are at most segments_per_tier - 1 per tier;
- a merge never holds more than ``max_merge_docs`` live documents: what
  a merge costs grows with the documents it rewrites, and this bounds the
  time it adds to a daily reindex (segments above the cap are left alone
  until a ``--full`` rebuild);
- a segment whose deleted documents are ``purge_ratio`` of it or more is
  rewritten (with the merge, or alone) when it fits under the cap, which
  drops its deleted documents; a segment with no live document left is
  dropped without any rewriting;
- one merge a commit at most, so one reindex rewrites at most
  max_merge_docs documents.

Where merges run: merging costs ~0.8 ms a document on this machine (read
back, written again: the per-document files, the postings, the posting
arrays; mostly per term, ~45,000 terms in 1,800 documents), 0.15 s more a
merge, and more a document for small segments (each holds more distinct
terms a document). A daily reindex has 2 s: it merges nothing itself, and
the merge this policy wants is written in the background once it has
committed, with a cap of 16,000 documents (search/ingest/background_merge.py),
and committed by the next reindex. The default cap here, MAX_MERGE_DOCS,
bounds what a large incremental reindex (thousands of new documents,
written by the parallel writers) merges in its own commit. Three segments a
tier: fewer segments cost queries less (a year of daily dumps ends with ~7,
where a 1,500-document cap on every merge left 23).

``plan`` is the decision alone, on (documents, deleted) pairs; ``merge_into``
does the merging itself, faster than Whoosh's ``add_reader``: a segment's
postings are read from its term table in order, each term's postings in
one read, instead of one lookup and one matcher a term (which was ~60 % of
the cost of a merge).
"""

import io
import math
import pickle
import struct
from array import array
from dataclasses import dataclass

from whoosh.reading import SegmentReader

from .. import memory
from . import whoosh_internals as internals

SEGMENTS_PER_TIER = 3
FLOOR_DOCS = 80
MAX_MERGE_DOCS = 1500
PURGE_RATIO = 0.15

_INT = struct.Struct("!i")  # a W3 block's length (negative: the term's last block)
_ARRAYS = "arrays"  # search.index.codec.ArrayBlockWriter's blocks


@dataclass(frozen=True)
class TieredMerge:
    """A Whoosh mergetype: ``writer.commit(mergetype=TieredMerge())``, or
    ``commit_with_segments(writer, segments, TieredMerge())``."""

    segments_per_tier: int = SEGMENTS_PER_TIER
    floor_docs: int = FLOOR_DOCS
    max_merge_docs: int = MAX_MERGE_DOCS
    purge_ratio: float = PURGE_RATIO
    exclude: frozenset = frozenset()  # ids of segments a background merge is merging: kept
    replaced: frozenset = frozenset()  # ids of segments a background merge has replaced: gone

    def tier(self, live):
        """The tier of a segment of `live` documents (0: under floor_docs)."""
        if live < self.floor_docs:
            return 0
        return 1 + int(math.log(live / self.floor_docs, self.segments_per_tier) + 1e-9)

    def plan(self, sizes):
        """(indexes of the segments to merge, indexes of those to drop) for
        segments of sizes [(documents, deleted)]: the merge is [] or two
        segments or more, or one that is rewritten to drop its deletions."""
        live = [docs - deleted for docs, deleted in sizes]
        drop = [i for i, n in enumerate(live) if n <= 0]
        alive = [i for i, n in enumerate(live) if n > 0]
        cap = self.max_merge_docs
        merge = []
        tiers = {}
        for i in sorted(alive, key=lambda i: (live[i], i)):
            tiers.setdefault(self.tier(live[i]), []).append(i)
        for t in sorted(tiers):
            members = tiers[t]
            if len(members) < self.segments_per_tier:
                continue
            chosen, total = [], 0
            for i in members[:self.segments_per_tier]:  # the smallest first
                if total + live[i] > cap:
                    break
                chosen.append(i)
                total += live[i]
            if len(chosen) >= 2:
                merge = chosen
                break
        total = sum(live[i] for i in merge)
        for i in sorted(alive, key=lambda i: (live[i], i)):
            docs, deleted = sizes[i]
            if i in merge or not deleted or deleted < self.purge_ratio * docs:
                continue
            if total + live[i] <= cap:
                merge.append(i)
                total += live[i]
        return sorted(merge), drop

    def __call__(self, writer, segments):
        """Merge the planned segments into writer's new segment; return the
        segments kept as they are."""
        segments = [s for s in segments if s.segment_id() not in self.replaced]
        mergeable = [i for i, s in enumerate(segments) if s.segment_id() not in self.exclude]
        merge, drop = self.plan([(segments[i].doc_count_all(), segments[i].deleted_count())
                                 for i in mergeable])
        merge, drop = [mergeable[i] for i in merge], [mergeable[i] for i in drop]
        merge_segments(writer, [segments[i] for i in merge])
        gone = set(merge) | set(drop)
        return [s for i, s in enumerate(segments) if i not in gone]


def merge_segments(writer, segments, source_storage=None):
    """The live documents of segments (in source_storage: by default the
    writer's) appended to writer's new segment."""
    if not segments:
        return
    source_storage = source_storage or writer.storage
    # Millions of posting tuples, none of them in a cycle: the collector
    # would walk them again and again while the segment is written (a third
    # of a merge's time).
    with memory.kept_out_of_collection():
        for segment in segments:
            reader = SegmentReader(source_storage, writer.schema, segment)
            try:
                merge_into(writer, reader)
            finally:
                reader.close()


@dataclass(frozen=True)
class MergedElsewhere:
    """A Whoosh mergetype for a commit whose merge was written by another
    process (search/ingest/background_merge.py): the segments it merged
    (their ids) and those without a live document leave; nothing is merged
    here."""

    merged: frozenset = frozenset()

    def __call__(self, writer, segments):
        return [s for s in segments if s.segment_id() not in self.merged
                and s.doc_count_all() - s.deleted_count() > 0]


def merge_into(writer, reader):
    """What SegmentWriter.add_reader does (the reader's live documents
    appended to the writer's segment: stored fields, lengths and columns,
    then postings), with the postings read a term at a time in the order of
    the reader's term table."""
    schema = writer.schema
    base = writer.docnum
    indexed = {name for name in reader.indexed_field_names() if name in schema}
    docmap = writer.write_per_doc(set(schema.names()) | indexed, reader)
    pool = writer.pool
    fields = getattr(pool, "fields", None)
    text_fields = getattr(pool, "text_fields", None)
    fast = isinstance(fields, dict) and isinstance(text_fields, set)  # FastSegmentWriter's pool
    for fieldname, btext, postings in iter_term_postings(reader):
        if fieldname not in schema:
            continue
        if docmap is None:
            moved = [(d + base, w, v) for d, w, v in postings]
        else:
            moved = [(docmap[d], w, v) for d, w, v in postings if d in docmap]
        if not moved:
            continue
        if not fast:
            for d, w, v in moved:
                pool.add((fieldname, btext, d, w, v))
            continue
        term = btext.decode("utf-8") if fieldname in text_fields else btext
        pool.extend(fieldname, term, moved)
    internals.mark_added(writer)


def iter_term_postings(reader):
    """(fieldname, btext, [(docnum, weight, value)]) for every term of a
    segment reader, in the order of its term table, deleted documents
    included. Inlined postings come from the term info; others from one
    read of the term's postings (ArrayBlockWriter's blocks decoded here,
    any other layout through Whoosh's matcher)."""
    postfile = reader.segment().open_file(reader.storage(), ".pst")
    try:
        for (fieldname, btext), info in internals.segment_term_infos(reader):
            if info.is_inlined():
                ids, weights, values = info.inlined_postings()
                if not values:
                    values = (b"",) * len(ids)
                yield fieldname, btext, list(zip(ids, weights, values))
                continue
            offset, length = info.extent()
            if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves it unpacked
                length = length[0]
            postings = _block_postings(postfile.get(offset, length))
            if postings is None:  # not ArrayBlockWriter's: as Whoosh reads it
                m = reader.postings(fieldname, btext)
                postings = []
                while m.is_active():
                    postings.append((m.id(), m.weight(), m.value() or b""))
                    m.next()
            yield fieldname, btext, postings
    finally:
        postfile.close()


def _block_postings(data):
    """The postings of one term from its bytes in the postings file (the
    W3 header tag, then its blocks), or None when a block is not one of
    ArrayBlockWriter's."""
    out = []
    pos = 4  # the header tag
    end = len(data)
    while pos < end:
        (size,) = _INT.unpack_from(data, pos)
        last = size < 0
        size = -size if last else size
        f = io.BytesIO(data[pos + 4:pos + 4 + size])
        info = pickle.load(f)
        body = f.read()
        if info[3]:  # compressed: not ours
            return None
        block = pickle.loads(body)
        if not (isinstance(block, tuple) and block and block[0] == _ARRAYS):
            return None
        _, id_bytes, weight_bytes, joined, length_bytes = block
        ids, weights, lengths = array("I"), array("f"), array("I")
        ids.frombytes(id_bytes)
        weights.frombytes(weight_bytes)
        lengths.frombytes(length_bytes)
        if len(lengths) == len(ids):
            at, values = 0, []
            for n in lengths:
                values.append(joined[at:at + n])
                at += n
        elif not lengths:
            values = [b""] * len(ids)
        else:  # some postings without a value: as Whoosh reads it
            return None
        out.extend(zip(ids, weights, values))
        pos += 4 + size
        if last:
            break
    return out
