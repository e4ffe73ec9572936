"""The stories beside the index: ``stories-<generation>.pickle``, written
before the Whoosh commit that makes the generation (like the manifest), so
a reader of a committed generation finds its stories.

The file holds three pickles one after the other: where the grouping
state's entries are, the serving table (each item's story: what the server
reads), and the state's counts (the document frequencies). The entries (every
item's vector: what the next reindex reads, search/ingest/stories.py) are
in a log, ``stories-<base>.log``: records of (ids removed, entries added),
the first of them every entry of generation `base`; each generation after
it appends what it changed and notes the log's length then. Rewriting the
entries whole every day cost a daily reindex more than its own items did
(half a second at a year's 30,000).

A generation reads its log up to its own length: what a reindex killed
before its commit appended past it is cut off by the next one. A log is
started afresh by a full rebuild, by an older file (VERSION 4 held the
entries whole), and once most of what it holds is entries removed since.
The previous generation's files are kept too, for a server still reading
them.
"""

import io
import os
import pickle
import re
from array import array
from itertools import islice

VERSION = 7  # 2: per-source term frequencies (boilerplate); 3: no SimHash; 4: compact entries;
# 6: the entries in a log (5 was its first layout, never released); 7: the
# serving table packed (an older reader must not take its bytes for lists)
LOG_VERSIONS = (6, 7)  # read: 6's serving table is lists
WHOLE_VERSION = 4  # the entries whole in the second pickle, terms as tuples: still read
_NAME = re.compile(r"^stories-(\d+)\.pickle$")
_LOG = re.compile(r"^stories-(\d+)\.log$")
# A log is started afresh when it holds this many times the live entries
# (and more than a day's worth): reading it back costs what it holds.
RESTART_RATIO = 2
RESTART_MIN = 1000
# Joins an entry's terms into one string (search/ingest/stories.py's entries):
# a year's entries are read and written as 30,000 strings, not as 1.2
# million (5x faster to read back).
TERM_SEPARATOR = "\x1f"
LOG_RECORD = 10_000  # entries a record of the log holds at most (_records)


# The serving table's ids and story names, 16 hex digits each (item ids,
# search/ingest/dumps.py), packed: one bytes string of ID_WIDTH-byte
# records (NUL-padded, sorted), the story numbers an int32 array's bytes. A
# server makes numpy arrays of them without a Python object per item (at
# x40 the table as lists took 37 MB of a worker, kept by the allocator).
# A table whose ids do not fit stays lists (ids, stories, names).
ID_WIDTH = 16


def packable(values):
    # No NUL: the padding (a padded "ab" would be "ab\0", and numpy drops it).
    return all(v.isascii() and len(v) <= ID_WIDTH and "\0" not in v for v in values)


def pack_key(value):
    return value.encode("ascii").ljust(ID_WIDTH, b"\0")


class Records:
    """The records of a packed string as a sequence (for bisect)."""

    def __init__(self, blob, width=ID_WIDTH):
        self.blob, self.width = blob, width

    def __len__(self):
        return len(self.blob) // self.width

    def __getitem__(self, k):
        if k < 0 or k >= len(self):
            raise IndexError(k)
        return self.blob[k * self.width:(k + 1) * self.width]


def unpacked(serving):
    """A serving table as lists (ids, story numbers, names), packed or not
    (for tests and inspection; the server reads the packed bytes)."""
    if serving is None or not isinstance(serving.get("ids"), bytes):
        return serving
    numbers = array("i")
    numbers.frombytes(serving["stories"])

    def text(record):
        return record.rstrip(b"\0").decode("ascii")

    return {"ids": [text(r) for r in Records(serving["ids"], serving["width"])],
            "stories": numbers.tolist(),
            "names": [text(r) for r in Records(serving["names"], serving["width"])]}


def path(index_dir, generation):
    return os.path.join(index_dir, f"stories-{generation}.pickle")


def log_path(index_dir, base):
    return os.path.join(index_dir, f"stories-{base}.log")


def write(index_dir, generation, serving, state):
    """Write the stories of a generation: the serving table, and the state
    (stories.to_plain's): its changes appended to its log (or a log
    started afresh), its counts whole."""
    log = _append(index_dir, generation, state)
    counts = {"df": state["df"], "source_df": state["source_df"], "source_n": state["source_n"]}
    target = path(index_dir, generation)
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        for part in ((VERSION, log), serving, counts):
            pickle.dump(part, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def _append(index_dir, generation, state):
    """The log of the generation's entries ({"base", "length", "logged":
    entries written in it}), with the state's changes appended."""
    log = state.get("log")
    restart = log is None or log["logged"] > max(RESTART_RATIO * state["live"], RESTART_MIN)
    if restart:
        log, removed, added, mode = {"base": generation, "length": 0, "logged": 0}, (), \
            state["entries"](), "wb"
    elif state["removed"] or state["added"]:
        removed, added, mode = state["removed"], state["added"], "r+b"
    else:
        return log
    with open(log_path(index_dir, log["base"]), mode) as f:
        f.truncate(log["length"])  # what a reindex killed before its commit left
        f.seek(log["length"])
        for record in _records(removed, added):
            pickle.dump(record, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
        length = f.tell()
    return {"base": log["base"], "length": length, "logged": log["logged"] + len(added)}


def _records(removed, added):
    """The log's records of ids removed and entries added: LOG_RECORD
    entries each, their joined terms as fresh strings. Pickle leaves a
    UTF-8 copy inside every str it writes (CPython's cached form), which
    in the live state's strings stayed for the rest of the reindex, and
    one pickle of every entry held a memo of all of them: writing a full
    build's log at x40 took +224 MB at its peak and left +134 MB (now
    +18 MB)."""
    entries = iter(added.items())
    yield tuple(removed), _fresh(entries)
    while batch := _fresh(entries):
        yield (), batch


def _fresh(entries):
    """The next LOG_RECORD (id, entry) of an iterator, as a dict; each
    entry's joined terms a copy of the string (see _records)."""
    return {i: (day, story, joined.encode().decode(), weights, source)
            for i, (day, story, joined, weights, source) in islice(entries, LOG_RECORD)}


def read_serving(index_dir, generation):
    """The serving table of a generation, or None."""
    found = _read(index_dir, generation, "serving")
    return None if found is None else found[1]


def read_state(index_dir, generation):
    """The grouping state of a generation ({"entries": {item id: (date,
    story, joined terms, weights, source)}, "df", "source_df", "source_n",
    "log", "serving": its serving table}), or None."""
    found = _read(index_dir, generation, "counts")
    if found is None:
        return None
    log, serving, counts = found
    if log is None:  # VERSION 4: the entries whole
        entries = {i: (day, story, TERM_SEPARATOR.join(terms), weights, source)
                   for i, (day, story, terms, weights, source) in counts["entries"].items()}
        return dict(counts, entries=entries, log=None, serving=serving)
    entries = _read_log(index_dir, log)
    return None if entries is None else dict(counts, entries=entries, log=log, serving=serving)


def _read_log(index_dir, log):
    """The entries of a log up to its length, or None."""
    try:
        with open(log_path(index_dir, log["base"]), "rb") as f:
            data = f.read(log["length"])
        if len(data) != log["length"]:
            return None
        entries, f = {}, io.BytesIO(data)
        while f.tell() < len(data):
            removed, added = pickle.load(f)
            for item_id in removed:
                entries.pop(item_id, None)
            entries.update(added)
        return entries
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError):
        return None


def readable(index_dir, generation):
    """Whether a generation's stories can be read (its file, and its log
    as long as it says), without reading them."""
    found = _read(index_dir, generation, "log")
    if found is None:
        return False
    log = found[0]
    try:
        return log is None or os.path.getsize(log_path(index_dir, log["base"])) >= log["length"]
    except (OSError, KeyError, TypeError):
        return False


_PARTS = ("log", "serving", "counts")
_LOG_KEYS = {"base", "length", "logged"}


def _read(index_dir, generation, upto):
    """(log pointer, serving table, counts) of a generation's file, read up
    to the part `upto` (those after it None); None when it cannot be read.
    A VERSION 4 file has no log: (None, serving, its whole state)."""
    wanted = _PARTS.index(upto) + 1
    try:
        with open(path(index_dir, generation), "rb") as f:
            version, first = pickle.load(f)
            if version == WHOLE_VERSION:
                parts = [None, first] + ([pickle.load(f)] if wanted == 3 else [])
                if wanted == 3 and "entries" not in parts[2]:
                    return None
            elif version in LOG_VERSIONS and isinstance(first, dict) and _LOG_KEYS <= first.keys():
                parts = [first] + [pickle.load(f) for _ in range(wanted - 1)]
            else:
                return None
            return tuple(parts + [None] * (3 - len(parts)))
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError):
        return None


def drop_old(index_dir, keep):
    """Remove the files of generations before keep's predecessor, and the
    logs neither of them reads."""
    names = os.listdir(index_dir)
    for name in names:
        m = _NAME.match(name)
        stale_tmp = name.startswith("stories-") and name.endswith(".tmp")
        if (m and int(m.group(1)) < keep - 1) or stale_tmp:
            _remove(index_dir, name)
    bases = [_log_base(index_dir, g) for g in (keep, keep - 1)]
    if any(b is False for b in bases):
        return  # a generation's log not known: none is removed
    for name in names:
        m = _LOG.match(name)
        if m and int(m.group(1)) not in bases and int(m.group(1)) < keep:
            _remove(index_dir, name)


def _log_base(index_dir, generation):
    """The base of the log a generation reads; None: none (no file, or the
    entries whole); False: its file cannot be read."""
    if not os.path.exists(path(index_dir, generation)):
        return None
    found = _read(index_dir, generation, "log")
    if found is None:
        return False
    return None if found[0] is None else found[0]["base"]


def _remove(index_dir, name):
    try:
        os.remove(os.path.join(index_dir, name))
    except OSError:
        pass
