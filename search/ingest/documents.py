"""The documents a reindex writes, as tasks the writer processes take in turn.

A reindex must not hold the archive in memory: at a decade's dumps the
parsed text alone is gigabytes. So the scan keeps a changed file's parsed
dump only while the kept dumps stay within a budget (``keep_bytes``, of
file bytes); the others are read and parsed again by the writer process that
takes them, which checks that the file still has the bytes the scan hashed.
A task is a slice of one dump's items (a kept dump is cut into slices of
CHUNK_ITEMS, so that one big file still keeps every writer busy; a dump read
again is one task, parsed once) or documents read back from the index's
stored fields (an item whose list of dumps changed, in a dump not read).

An item present in several changed dumps is written once, from the first of
them by name; each document lists every dump holding it (``members``).
"""

import hashlib
from dataclasses import dataclass

from ..index import schema
from .dumps import DumpError, parse_bytes

CHUNK_ITEMS = 16  # items of a kept dump a writer takes at a time


class DumpChanged(Exception):
    """A dump file changed between the scan and the writing."""


@dataclass
class ChangedDump:
    """A changed dump as the scan leaves it: parsed (dump), or to be read
    again from path (dump None), with the item ids it holds."""

    name: str
    path: str
    sha1: str
    size: int
    ids: list
    dump: object = None


@dataclass(frozen=True)
class Task:
    size: int  # how much work (bytes of text): the largest tasks go first
    source: ChangedDump = None
    ids: frozenset = frozenset()  # the items this task writes
    start: int = 0  # a kept dump's items [start:stop]
    stop: int = None
    stored: tuple = ()  # documents made from stored fields


def plan(changed, wanted, stored_docs=()):
    """The tasks that write each wanted id once (changed: ChangedDump by
    name), and the documents of stored_docs, largest first; and how many
    documents they write."""
    remaining, tasks, count = set(wanted), [], 0
    for name in sorted(changed):
        source = changed[name]
        ids = [i for i in dict.fromkeys(source.ids) if i in remaining]
        if not ids:
            continue
        remaining.difference_update(ids)
        count += len(ids)
        if source.dump is None:
            tasks.append(Task(source.size, source, frozenset(ids)))
            continue
        todo, items = set(ids), source.dump.items
        for start in range(0, len(items), CHUNK_ITEMS):
            chunk = [i for i in items[start:start + CHUNK_ITEMS] if i.id in todo]
            if chunk:
                todo.difference_update(i.id for i in chunk)
                tasks.append(Task(sum(len(i.body) + len(i.headline) for i in chunk), source,
                                  frozenset(i.id for i in chunk), start, start + CHUNK_ITEMS))
    stored_docs = list(stored_docs)
    for start in range(0, len(stored_docs), CHUNK_ITEMS):
        chunk = tuple(stored_docs[start:start + CHUNK_ITEMS])
        tasks.append(Task(sum(len(d.get("body") or "") for d in chunk), stored=chunk))
    tasks.sort(key=lambda t: -t.size)
    return tasks, count + len(stored_docs)


def documents(task, members):
    """Yield the Whoosh documents of a task; members: item id -> the dump
    files holding it. Raises DumpChanged when a dump read again is not the
    one the scan read."""
    yield from task.stored
    source = task.source
    if source is None:
        return
    dump = source.dump
    if dump is None:
        dump = _read_again(source)
        items = dump.items
    else:
        items = dump.items[task.start:task.stop]
    written = set()
    for item in items:
        if item.id in task.ids and item.id not in written:
            written.add(item.id)
            yield schema.document(item, members[item.id])


def _read_again(source):
    try:
        with open(source.path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DumpChanged(f"{source.name}: cannot be read again ({e.strerror}); "
                          f"run reindex again") from None
    if hashlib.sha1(data).hexdigest() != source.sha1:
        raise DumpChanged(f"{source.name} changed while the index was written; "
                          f"nothing was committed: run reindex again")
    try:
        return parse_bytes(data, source.name)
    except DumpError as e:  # the same bytes parsed before: cannot happen
        raise DumpChanged(f"{source.name}: {e}") from None
