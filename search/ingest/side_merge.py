"""An incremental reindex's merge, written by a process of its own while the
reindex writes the day's documents, and committed with them.

Merging costs ~0.8 ms a document (search/index/merging.py), nearly all of
it in one process: merged within the commit, a 1,800-document merge took a
daily reindex from ~1.2 s to ~2.7 s. A small reindex writes its documents
in one process, so the machine's second core is idle meanwhile: the merge
planned on the segments as they are (after this reindex's deletions, which
the forked process inherits) is written there as a segment, and the commit
adds it and drops the segments it replaces (merging.MergedElsewhere). The
policy is merging.TieredMerge's, unchanged. If the process fails, the
commit goes on without the merge (the next reindex plans it again).
"""

import gc
import multiprocessing
import os

from ..index import merging
from ..index import whoosh_internals as internals
from .parallel import FastSegmentWriter, die_with_parent


class SideMerge:
    """Started on a writer after its deletions: plans the merge (of its
    segments but those excluded: a background merge's), forks the process
    that writes it. finish() gives (segments to commit with the writer's,
    the commit's mergetype)."""

    def __init__(self, ix, writer, policy=None, exclude=frozenset(), **writer_options):
        policy = policy or merging.TieredMerge()
        segments = [s for s in writer.segments if s.segment_id() not in exclude]
        merge, _ = policy.plan([(s.doc_count_all(), s.deleted_count()) for s in segments])
        self.merging = [segments[i] for i in merge]
        self.process = self.receive = None
        if not self.merging:
            return
        ctx = multiprocessing.get_context("fork")
        self.receive, send = ctx.Pipe(duplex=False)
        gc.freeze()  # the child's collector would copy every inherited page it walks
        try:
            self.process = ctx.Process(target=_merge, daemon=True, args=(
                ix, self.merging, send, os.getpid(), writer_options))
            self.process.start()
        finally:
            gc.unfreeze()
        send.close()

    def finish(self):
        """(the merged segment, or none; the commit's mergetype)."""
        if self.process is None:
            return [], merging.MergedElsewhere()
        try:
            kind, payload = self.receive.recv()
        except EOFError:  # died before sending
            kind, payload = "failed", None
        self.receive.close()
        self.process.join()
        if kind != "segment":
            return [], merging.MergedElsewhere()
        return [payload], merging.MergedElsewhere(frozenset(s.segment_id() for s in self.merging))

    def cancel(self):
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join()


def _merge(ix, segments, send, parent_pid, writer_options):
    die_with_parent(parent_pid)
    try:
        merged = internals.unlocked_writer(FastSegmentWriter, ix, **writer_options)
        merging.merge_segments(merged, segments)
        send.send(("segment", internals.finalize_segment(merged)))
    except Exception as e:  # noqa: BLE001 -- the commit goes on without the merge
        send.send(("failed", f"{type(e).__name__}: {e}"))
    send.close()
