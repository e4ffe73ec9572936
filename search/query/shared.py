"""What a process's threads share of an index's segments instead of each
computing and holding its own.

Each server thread keeps its own Whoosh searcher (search/query/service.py),
and with it its own segment readers, so what was kept on a reader was kept
once a thread: at x40 the BM25 length normalizations (a float a document,
twice: a segment's and the index's end to end, ~9 MB a thread) and the
words each prefix completes (each new prefix costs a thread ~4 ms a field
over 20 segments' term tables). What only depends on the segments' files
(a segment's lengths and terms never change once written; deletions change
neither) is kept here instead, under the segments it was made from: a
thread reading the same segments finds it made.
"""

import threading
from collections import OrderedDict


def segment_key(reader):
    """What names a segment reader's files (its index folder and segment
    id), or None for a reader without a segment (an empty index)."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    if segment is None:
        return None
    return getattr(reader.storage(), "folder", None), segment.segment_id()


def segments_key(reader):
    """The keys of a reader's segments, in its order (None if one has none)."""
    keys = tuple(segment_key(leaf) for leaf, _ in reader.leaf_readers())
    return None if any(k is None for k in keys) else keys


class Kept:
    """The `size` values asked for last, by key, made (make()) outside the
    lock when missing: two threads may make the same one, and the first
    kept is what both get."""

    def __init__(self, size):
        self.size = size
        self.values = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, make):
        if key is None:  # nothing names what it is made from: not kept
            return make()
        with self.lock:
            found = self.values.get(key)
            if found is not None:
                self.values.move_to_end(key)
                return found
        made = make()
        with self.lock:
            found = self.values.setdefault(key, made)
            self.values.move_to_end(key)
            while len(self.values) > self.size:
                self.values.popitem(last=False)
        return found


# Two text fields over the two newest generations a server's threads may
# be reading (one refreshes while another still has the one before), and
# room for walks (search/query/walk.py: a walk freezes the average lengths
# it began with, so after a reindex its normalizations are its own).
NORMS_KEPT = 8
COMPLETIONS_KEPT = 2  # generations

norms = Kept(NORMS_KEPT)  # (field, b, average, segments): the length normalizations
completions = Kept(COMPLETIONS_KEPT)  # segments: {prefix: [(form, documents)]}
