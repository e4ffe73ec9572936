"""An incremental reindex's merges: written by a process of its own after
the reindex has committed, and committed by the next reindex.

Merging costs ~0.8 ms a document (search/index/merging.py). Merged within a
daily reindex (first in its commit, then in a process of its own while the
reindex wrote the day's documents), a merge of 242 documents took the day
to 2.4-2.5 s and one of 727 to 2.5-2.8 s, while a server answered queries on
the other core; and a cap on those merges (1,500 documents) left 23
segments of ~1,450 documents after a year of daily dumps, where a fresh
build has 2 (a query pays for every segment). So a reindex merges nothing:
once it has committed, the merge the policy wants is started here, and the
reindex returns at once; the merge runs while the index serves (seconds;
hours before the next day's dump). The next reindex commits it with its own
documents (merging.MergedElsewhere): nothing else of the index (stories,
readings, manifest) depends on how documents are divided into segments.

- The merged segment is written to ``<index>/merging/``, out of Whoosh's
  sight: every commit deletes the segment files its table of contents does
  not name, and a reindex may commit while the merge runs.
- ``lock`` is held by the merge process, from before it starts until it
  exits (however it exits): a merge is running while it is held.
- ``running.json`` names the segments it merges; a large
  reindex (which merges its own segments, merging.TieredMerge) leaves
  those out.
- ``done.pickle`` is written last: the segment, and each source segment's
  deleted documents when the merge read it. A reindex commits the merge
  only if every source is still there with the same deletions (the merged
  segment holds their live documents as they were); otherwise, or if the
  process died, the merge is discarded and planned again (a dead one's
  output is kept as ``<index>/merge-failed.log``).
- A full reindex replaces every segment: a merge of the old ones is
  discarded when the next reindex finds its sources gone.

The policy is merging.TieredMerge's with a larger cap (BACKGROUND_MAX_DOCS:
about the segment a full build's writer makes at the default memory bound,
so a merge holds no more in memory than a full build's writer does) and a
higher floor (BACKGROUND_FLOOR_DOCS: the daily segments are merged sooner).
"""

import fcntl
import json
import os
import pickle
import shutil
import subprocess
import sys
import time

from ..index import merging, storage
from ..index import whoosh_internals as internals

STAGING = "merging"
RUNNING = "running.json"
DONE = "done.pickle"
LOG = "merge.log"
LOCK = "lock"
FAILED_LOG = "merge-failed.log"  # the last failed merge's output, beside the index's files
BACKGROUND_MAX_DOCS = 16000
_PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MERGE_NICENESS = 10


# Segments under this many documents are one tier, merged three at a time
# (Lucene's floorSegmentMB): a small segment costs every query a lookup of
# each word, as a large one does, and merging it costs little. One merge
# runs a day, so at the default floor a year of daily dumps kept 7
# segments (81 ... 13,079 documents) against a fresh build's 2, and query
# p95 1.28x the fresh one's; a simulation of the year's merges
# (TieredMerge.plan day by day) ends it with 5 at this floor, for 19 % more
# documents merged.
BACKGROUND_FLOOR_DOCS = 1000


def background_policy():
    return merging.TieredMerge(max_merge_docs=BACKGROUND_MAX_DOCS,
                               floor_docs=BACKGROUND_FLOOR_DOCS)


def staging_dir(index_dir):
    return os.path.join(index_dir, STAGING)


def _locked(index_dir):
    """Whether a merge process holds the staging folder's lock (it holds it
    from before it starts until it exits, however it exits)."""
    try:
        fd = os.open(os.path.join(staging_dir(index_dir), LOCK), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # and the lock with it, if this took it
    return False


def _read_running(index_dir):
    try:
        with open(os.path.join(staging_dir(index_dir), RUNNING), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _read_done(index_dir):
    try:
        with open(os.path.join(staging_dir(index_dir), DONE), "rb") as f:
            return pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError):
        return None


def state(index_dir):
    """"none", "running" (its process holds the lock), "done", or "dead"
    (a process that stopped before it was done)."""
    if not os.path.isdir(staging_dir(index_dir)):
        return "none"
    if _locked(index_dir):
        return "running"
    if os.path.exists(os.path.join(staging_dir(index_dir), DONE)):
        return "done"
    return "dead"


def in_flight(index_dir):
    """The ids of the segments a running merge is merging (set())."""
    if state(index_dir) != "running":
        return set()
    return set((_read_running(index_dir) or {}).get("sources", ()))


def discard(index_dir):
    shutil.rmtree(staging_dir(index_dir), ignore_errors=True)


def collect(index_dir, writer):
    """(the finished merge's segment in a list, or [], the ids of the
    segments it replaces) for writer's commit, its files linked into the
    index (discard() once committed); a merge whose sources changed, or
    whose process died, is discarded. A running merge is left running:
    ([], set())."""
    found = state(index_dir)
    if found in ("none", "running"):
        return [], set()
    done = _read_done(index_dir) if found == "done" else None
    current = {s.segment_id(): s.deleted_count() for s in writer.segments}
    if done is None or any(current.get(i) != n for i, n in done["sources"].items()):
        if done is None:  # the process stopped before it was done: why, kept for whoever looks
            try:
                os.replace(os.path.join(staging_dir(index_dir), LOG),
                           os.path.join(index_dir, FAILED_LOG))
            except OSError:
                pass
        discard(index_dir)
        return [], set()
    segment, folder = done["segment"], staging_dir(index_dir)
    prefix = segment.segment_id()
    # Linked, not moved: a reindex that fails before its commit leaves the
    # merge to the next one (the links it made are files no table of
    # contents names, which a commit deletes). The reindex removes the
    # staging folder once it has committed.
    for name in os.listdir(folder):
        if name.startswith(prefix):
            target = os.path.join(index_dir, name)
            if os.path.exists(target):
                os.remove(target)
            os.link(os.path.join(folder, name), target)
    return [segment], set(done["sources"])


def plan(segments, exclude=()):
    """The segments a background merge would merge now (two or more, or
    one rewritten to drop its deleted documents; [] for none)."""
    candidates = [s for s in segments if s.segment_id() not in exclude]
    chosen, _ = background_policy().plan(
        [(s.doc_count_all(), s.deleted_count()) for s in candidates])
    return [candidates[i] for i in chosen]


def start(index_dir, min_postings=None):
    """After a commit: start the merge the committed segments want, unless
    one is running or waits to be committed; True if one was started."""
    if state(index_dir) in ("running", "done"):
        return False
    discard(index_dir)  # a dead one's files
    ix = storage.open_index(index_dir)
    chosen = plan(internals.index_segments(ix))
    if not chosen:
        return False
    folder = staging_dir(index_dir)
    os.makedirs(folder, exist_ok=True)
    ids = [s.segment_id() for s in chosen]
    _write_atomic(os.path.join(folder, RUNNING), json.dumps({"sources": ids}).encode("utf-8"))
    # The lock is taken here and handed to the process (its open file), so
    # that the merge counts as running from now until the process exits.
    lock = os.open(os.path.join(folder, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        command = [sys.executable, "-m", "search.ingest.background_merge",
                   "--lock-fd", str(lock), os.path.abspath(index_dir), *ids]
        if min_postings is not None:
            command[3:3] = ["--min-postings", str(min_postings)]
        # This package, wherever the reindex was started from (`python -m`
        # puts the current folder first on the path).
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [_PROJECT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        with open(os.path.join(folder, LOG), "ab") as log:
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                             cwd=_PROJECT, start_new_session=True, pass_fds=(lock,))
    finally:
        os.close(lock)  # the process keeps its copy, and the lock
    return True


def wait(index_dir, timeout=None):
    """Wait while a merge runs; the state then."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while state(index_dir) == "running":
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return state(index_dir)


def last_merge(index_dir):
    """What the finished merge recorded ({seconds, cpu_seconds, docs}), or None."""
    done = _read_done(index_dir)
    return None if done is None else done.get("measured")


def _write_atomic(path, data):
    partial = path + ".partial"
    with open(partial, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def merge(index_dir, ids, min_postings=None):
    """The process: the segments named merged into one in the staging
    folder, then done.pickle. Exits without it if a source is gone."""
    # Behind the server's queries and the next reindex for the cores: a
    # merge may take a while, they should not.
    os.nice(MERGE_NICENESS)
    started, cpu = time.monotonic(), time.process_time()
    from .parallel import FastSegmentWriter

    ix = storage.open_index(index_dir)
    by_id = {s.segment_id(): s for s in internals.index_segments(ix)}
    if any(i not in by_id for i in ids):
        return 3
    sources = [by_id[i] for i in ids]
    staged = internals.staged_index(ix, storage.PreadStorage(staging_dir(index_dir)))
    options = {} if min_postings is None else {"min_postings": min_postings}
    writer = internals.unlocked_writer(FastSegmentWriter, staged, **options)
    merging.merge_segments(writer, sources, source_storage=ix.storage)
    segment = internals.finalize_segment(writer)
    measured = {"seconds": time.monotonic() - started, "cpu_seconds": time.process_time() - cpu,
                "docs": segment.doc_count_all()}
    _write_atomic(os.path.join(staging_dir(index_dir), DONE), pickle.dumps({
        "segment": segment, "sources": {s.segment_id(): s.deleted_count() for s in sources},
        "measured": measured}))
    return 0


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    options = {}
    while args and args[0] in ("--min-postings", "--lock-fd"):
        options[args[0]], args = int(args[1]), args[2:]
    # --lock-fd: the staging folder's lock, held (inherited) until this exits.
    return merge(args[0], args[1:], options.get("--min-postings"))


if __name__ == "__main__":
    sys.exit(main())
