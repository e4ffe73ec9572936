"""The C heap's memory, given back to the system where the C library can
(glibc). Python frees its objects into glibc's heap, which keeps the pages
for later mallocs: after a phase that allocated much (a reindex's parsed
dumps, a query's arrays of the index's size) they would stay counted in
the process's RSS."""

import ctypes


def trim_malloc():
    """Hand the C heap's free pages back to the OS (glibc's malloc_trim);
    False where there is no such call (not glibc: the memory is reused by
    this process, not returned). ctypes releases the GIL meanwhile."""
    try:
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):
        return False
