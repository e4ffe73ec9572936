"""The stories beside the index: ``stories-<generation>.pickle``, written
before the Whoosh commit that makes the generation (like the manifest), so
a reader of a committed generation finds its stories.

The file holds two pickles one after the other: the serving table (each
item's story: what the server reads) and the grouping state (every item's
vector: what the next reindex reads, search/ingest/stories.py). The
previous generation's file is kept too, for a server still reading it.
"""

import os
import pickle
import re

VERSION = 4  # 2: per-source term frequencies (boilerplate); 3: no SimHash; 4: compact entries
_NAME = re.compile(r"^stories-(\d+)\.pickle$")


def path(index_dir, generation):
    return os.path.join(index_dir, f"stories-{generation}.pickle")


def write(index_dir, generation, serving, state):
    target = path(index_dir, generation)
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump((VERSION, serving), f, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def read_serving(index_dir, generation):
    """The serving table of a generation, or None."""
    found = _read(index_dir, generation, state=False)
    return None if found is None else found[0]


def read_state(index_dir, generation):
    """The grouping state of a generation, or None."""
    found = _read(index_dir, generation, state=True)
    return None if found is None else found[1]


def _read(index_dir, generation, state):
    try:
        with open(path(index_dir, generation), "rb") as f:
            version, serving = pickle.load(f)
            if version != VERSION:
                return None
            return serving, (pickle.load(f) if state else None)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError):
        return None


def drop_old(index_dir, keep):
    """Remove the files of generations before keep's predecessor."""
    for name in os.listdir(index_dir):
        m = _NAME.match(name)
        stale_tmp = name.startswith("stories-") and name.endswith(".tmp")
        if (m and int(m.group(1)) < keep - 1) or stale_tmp:
            try:
                os.remove(os.path.join(index_dir, name))
            except OSError:
                pass
