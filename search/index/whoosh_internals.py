"""Every use of Whoosh's private internals, behind named functions.

The codec, the segment writer, the storage and the evaluation rely on
attributes of Whoosh 2.7.4 that are not its public API. They are reached
only through this module, which refuses to load with another Whoosh.
"""

import whoosh

WHOOSH_VERSION = (2, 7, 4)

if tuple(whoosh.__version__) != WHOOSH_VERSION:
    raise ImportError(
        f"search needs Whoosh {'.'.join(map(str, WHOOSH_VERSION))} (its index writer, codec "
        f"and evaluation rely on that version's internals), but Whoosh "
        f"{whoosh.versionstring()} is installed: `pip install whoosh=="
        f"{'.'.join(map(str, WHOOSH_VERSION))}`")


def latest_generation(searcher):
    """The newest committed generation of the searcher's index, on disk."""
    return searcher._ix.latest_generation()
