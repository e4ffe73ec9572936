"""The C heap's memory, given back to the system where the C library can
(glibc). Python frees its objects into glibc's heap, which keeps the pages
for later mallocs: after a phase that allocated much (a reindex's parsed
dumps, a query's arrays of the index's size) they would stay counted in
the process's RSS."""

import contextlib
import ctypes
import gc


def trim_malloc():
    """Hand the C heap's free pages back to the OS (glibc's malloc_trim);
    False where there is no such call (not glibc: the memory is reused by
    this process, not returned). ctypes releases the GIL meanwhile."""
    try:
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def kept_out_of_collection():
    """For what a run makes once and keeps to its end (an index's state read
    back, a merge's postings): the cyclic collector is paused while it is
    made, and the objects there are then frozen (gc.freeze), left out of
    the collector's later walks. Each walk of the old generation visits
    every object alive; the run's own garbage is freed by reference counts
    as before. (A cycle among the frozen objects stays until gc.unfreeze().)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@contextlib.contextmanager
def collected_again_after():
    """What kept_out_of_collection froze within is given back to the
    collector at the end (gc.unfreeze): a process that goes on (a test, a
    script reindexing more than once) collects its cycles as before."""
    try:
        yield
    finally:
        gc.unfreeze()
