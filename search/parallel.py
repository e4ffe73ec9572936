"""Whoosh's multiprocessing writer, made safe to rely on.

``whoosh.multiproc.MpWriter`` analyses documents in worker processes, each
writing its own segment: the analyzer (Sudachi) is most of the cost of
indexing, so this uses both cores. As shipped it has two failure modes we
cannot accept:

- a worker that dies (an exception, the OOM killer) is noticed only as a
  missing result after a one-second wait, and the commit goes ahead without
  its documents: items silently lost. ``CheckedMpWriter`` refuses to commit
  unless every worker exited cleanly and the segments hold every document.
- workers outlive a parent killed with ``kill -9``, blocked on the job queue
  forever and holding the inherited index lock. Workers here ask the kernel
  to kill them when their parent dies.
"""

import ctypes
import os
import signal

from whoosh.multiproc import MpWriter, SubWriterTask

PR_SET_PDEATHSIG = 1


class WorkerFailed(Exception):
    """A writer process failed; nothing was committed."""


def _die_with_parent(parent_pid):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the workers still end when their queue closes
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


class _Worker(SubWriterTask):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent_pid = os.getpid()

    def run(self):
        _die_with_parent(self.parent_pid)
        super().run()


class CheckedMpWriter(MpWriter):
    def __init__(self, ix, **kwargs):
        super().__init__(ix, **kwargs)
        self.sent = 0

    def _new_task(self):
        task = _Worker(self.storage, self.indexname, self.jobqueue,
                       self.resultqueue, self.subargs, self.multisegment)
        self.tasks.append(task)
        task.start()
        return task

    def add_document(self, **fields):
        self.sent += 1
        super().add_document(**fields)

    def _merge_segments(self, mergetype, optimize, merge):
        # Remember which segments existed before, to count only the workers'.
        self._old_ids = {s.segment_id() for s in self.segments}
        return super()._merge_segments(mergetype, optimize, merge)

    def _commit_toc(self, segments):
        # Called by MpWriter._commit after the workers were joined and their
        # segments collected, just before the new TOC makes them visible.
        own = self.newsegment.segment_id()
        failed = [t.exitcode for t in self.tasks if t.exitcode != 0]
        written = sum(s.doc_count_all() for s in segments
                      if s.segment_id() not in self._old_ids and s.segment_id() != own)
        if failed or written != self.sent:
            raise WorkerFailed(
                f"index writer processes failed (exit codes {failed}); "
                f"{written} of {self.sent} documents written; nothing was committed")
        super()._commit_toc(segments)
