"""Sortable fields (source, date) as numpy arrays over every document of a
searcher, read once per index generation and shared by the threads: the
filters, the facet counts and the sort by date read them; and the sources
with their handles, which a source filter is resolved against."""

import threading
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from whoosh import query as Q

from .. import analysis
from ..index import schema, story_table
from . import language
from .errors import BadRequest


# Codes and document numbers kept per document, in every worker: int32
# (2**31 documents is past what one index holds) halves what int64 took,
# ~7 MB a worker at x40. What they index or count comes out the same.
CODE = np.int32


class Column:
    """A column as small integer codes per document (numpy) numbering its
    distinct values in their sort order, so a code is also the document's
    rank for sorting (by date) and counts by code come out sorted."""

    def __init__(self, reader):
        values = list(reader) if reader is not None else []
        self.values = sorted(set(values))
        index = {v: i for i, v in enumerate(self.values)}
        self.codes = np.array([index[v] for v in values], dtype=CODE)
        self.rank = self.codes
        self.value_array = np.array(self.values, dtype=object)

    def mask(self, keep):
        """Which documents have a value for which keep(value) is true."""
        ok = np.array([bool(keep(v)) for v in self.values], dtype=bool)
        return ok[self.codes] if len(self.values) else np.zeros(0, dtype=bool)

    def count(self, docnums):
        """{value: how many of docnums have it}, in the values' order."""
        counts = np.bincount(self.codes[docnums], minlength=len(self.values))
        found = np.flatnonzero(counts)
        return dict(zip(self.value_array[found].tolist(), counts[found].tolist()))


class Columns:
    """The columns of the two newest generations asked for, and what is
    derived from them (sources, tags, ids, stories, labels); older
    generations' are let go. Thread-safe: a value is built outside the lock
    (two threads may build the same one; either is kept)."""

    KEEP = 2  # generations kept: threads refresh their searchers at different moments

    def __init__(self):
        self.by_generation = {}  # generation: {name: value}
        self.lock = threading.Lock()

    def get(self, searcher, field):
        return self._kept(searcher, field, lambda: Column(
            searcher.reader().column_reader(field, translate=True)
            if searcher.doc_count_all() else None))  # an empty index has no columns

    def sources(self, searcher):
        return self._kept(searcher, "sources", lambda: Sources(
            searcher, self.get(searcher, "source")))

    def live(self, searcher):
        """The document numbers of every item not deleted, in order."""
        return self._kept(searcher, "live", lambda: np.fromiter(
            searcher.reader().all_doc_ids(), dtype=np.int64))

    def tags(self, searcher):
        return self._kept(searcher, "tags", lambda: Tags(searcher))

    def ids(self, searcher):
        return self._kept(searcher, "ids", lambda: ItemIds(searcher))

    def stories(self, searcher, table):
        """table: the story table of the searcher's generation, read by the caller."""
        return self._kept(searcher, "stories", lambda: Stories(
            searcher, table(), self.ids(searcher), self.live(searcher), self.get(searcher, "source")))

    def labels(self, searcher, manifest, written):
        """manifest: a function reading the generation's manifest; written:
        when it was written (a reindex that changes no item rewrites it)."""
        return self._kept(searcher, ("labels", written), lambda: Labels(
            searcher, manifest(), self.ids(searcher)))

    def _kept(self, searcher, name, make):
        generation = searcher.reader().generation()
        with self.lock:
            found = self.by_generation.get(generation, {}).get(name)
        if found is not None:
            return found
        found = make()
        with self.lock:
            values = self.by_generation.setdefault(generation, {})
            found = values.setdefault(name, found)
            known = sorted(self.by_generation, key=lambda g: -1 if g is None else g)
            for old in known[:-self.KEEP]:
                del self.by_generation[old]
        return found


def source_key(text):
    """How a source is compared: width, case and a handle's '@' folded
    (ＮＨＫニュース = NHKニュース, ﾛｲﾀｰ = ロイター, @ReutersJapan = reutersjapan)."""
    return analysis.fold(language.clean(text)).strip().lstrip("@").strip()


class Sources:
    """The sources of an index generation, each with its handles, to resolve
    what a user typed for a source filter: a name or a handle, folded, or
    the unambiguous start of one."""

    def __init__(self, searcher, column):
        self.names = list(column.values)
        self.keys = {name: {source_key(name)} for name in self.names}
        reader = searcher.reader()
        for handle in reader.lexicon("handle"):
            handle = handle.decode("utf-8") if isinstance(handle, bytes) else handle
            docs = np.fromiter(searcher.docs_for_query(Q.Term("handle", handle)), dtype=np.int64)
            for code in np.unique(column.codes[docs]).tolist():
                self.keys[self.names[code]].add(source_key(handle))

    def resolve(self, typed):
        """The source names typed means; BadRequest when it names none, or
        starts several."""
        key = source_key(typed)
        exact = [n for n in self.names if key in self.keys[n]]
        if exact:
            return exact
        started = [n for n in self.names if key and any(k.startswith(key) for k in self.keys[n])]
        if len(started) == 1:
            return started
        listed = "、".join(started or self.names)
        if started:
            raise BadRequest("invalid_parameter",
                             f"source「{typed}」に当てはまる情報源が複数あります: {listed}")
        raise BadRequest("invalid_parameter",
                         f"source「{typed}」という情報源はありません。指定できる情報源: {listed}")


def tag_topic(key):
    """The topic part of a tag key: 米宇 of 米宇(鉱物資源協定)."""
    return key.split("(", 1)[0].strip()


class Keyed:
    """Documents with any number of keyed values (tags, dump labels), as
    codes in two parallel arrays (document, value), for a facet and a
    filter: a value matches by its whole key or by its topic part."""

    def __init__(self, searcher, values, docs_of_values):
        """values: the keys, in code order; docs_of_values: each one's
        document numbers."""
        self.values = list(values)
        docs = [np.asarray(d, dtype=np.int64) for d in docs_of_values]
        self.docs = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int64)
        self.codes = np.concatenate([np.full(len(d), k, dtype=np.int64)
                                     for k, d in enumerate(docs)]) if docs else self.docs.copy()
        self.value_array = np.array(self.values, dtype=object)
        self.size = searcher.doc_count_all()

    def mask(self, keys):
        """Which documents have a value whose key, or topic part, is one of keys."""
        keys = set(keys)
        wanted = np.array([v in keys or tag_topic(v) in keys for v in self.values], dtype=bool)
        mask = np.zeros(self.size, dtype=bool)
        if len(self.values):
            mask[self.docs[wanted[self.codes]]] = True
        return mask

    def count(self, docnums):
        """{key: how many of docnums have it}."""
        selected = np.zeros(self.size, dtype=bool)
        selected[docnums] = True
        counts = np.bincount(self.codes[selected[self.docs]], minlength=len(self.values))
        found = np.flatnonzero(counts)
        return dict(zip(self.value_array[found].tolist(), counts[found].tolist()))


class Tags(Keyed):
    """Every document's tags: the folded keys of the tag field."""

    def __init__(self, searcher):
        terms = [t.decode("utf-8") if isinstance(t, bytes) else t
                 for t in searcher.reader().lexicon("tag")]
        super().__init__(searcher, terms, [
            np.fromiter(searcher.docs_for_query(Q.Term("tag", t)), dtype=np.int64) for t in terms])


class ItemIds:
    """Every document's item id, as an array by document number, and the
    document numbers of given ids. Ids are 16 hex digits (dumps.item_id):
    kept as bytes, 16 to an id where numpy's str takes 64 (at x40, 9 MB a
    worker for both arrays instead of 38); an index holding any other id
    (longer, or not ASCII) keeps str."""

    def __init__(self, searcher):
        ids = searcher.reader().column_reader("id", translate=True) if searcher.doc_count_all() else []
        ids = list(ids)
        # the rule of the packed story table's ids (story_table.packable)
        self.ids = np.array(ids, dtype="S16" if story_table.packable(ids) else str)
        self.order = np.argsort(self.ids, kind="stable").astype(CODE)
        self.sorted = self.ids[self.order]

    def key(self, item_ids):
        """The ids as an array that compares with self.ids."""
        return _keys(item_ids, self.ids)

    def id_of(self, docnum):
        """The item id (text) of a document."""
        return _text(self.ids[docnum])

    def docnums(self, item_ids):
        """The document numbers holding these ids (ids not found left out;
        a deleted document may be among them: callers mask by live)."""
        wanted = self.key(sorted(item_ids))
        if not len(wanted) or not len(self.sorted):
            return np.zeros(0, dtype=np.int64)
        lo = np.searchsorted(self.sorted, wanted, side="left")
        hi = np.searchsorted(self.sorted, wanted, side="right")
        return np.concatenate([self.order[a:b] for a, b in zip(lo, hi)]) if len(lo) else lo


@dataclass(frozen=True)
class StoryInfo:
    id: str
    size: int
    sources: tuple


class Stories:
    """Each document's story (a number per document; -1 for an item the
    table does not know), read from the story table of the searcher's
    generation (search/index/story_table.py), with each story's size and
    sources over the items the index holds."""

    def __init__(self, searcher, table, ids, live, sources):
        n = searcher.doc_count_all()
        known, numbers, self.names = _story_arrays(table, ids)
        self.codes = np.full(n, -1, dtype=CODE)
        if len(known) and n:
            at = np.minimum(np.searchsorted(known, ids.ids), len(known) - 1)
            found = known[at] == ids.ids
            self.codes[found] = numbers[at[found]]
        self.live = np.zeros(n, dtype=bool)
        self.live[live] = True
        counted = self.codes[self.live & (self.codes >= 0)]
        self.sizes = np.bincount(counted, minlength=len(self.names))
        self.members_order = np.argsort(self.codes, kind="stable").astype(CODE)
        self.members_codes = self.codes[self.members_order]
        self.source_column, self.ids = sources, ids

    def code_of(self, name):
        """The number of the story named name, or None."""
        if not len(self.names):
            return None
        key = _keys([name], self.names)[0]
        k = int(np.searchsorted(self.names, key))
        return k if k < len(self.names) and self.names[k] == key else None

    def code(self, docnum):
        return int(self.codes[docnum])

    def members(self, code):
        """The live document numbers of a story, in document order."""
        # As the codes' own type: searchsorted casts the whole array to the
        # type of a Python int (int64) first, ~65 us a call at x40.
        code = CODE(code)
        lo = np.searchsorted(self.members_codes, code, side="left")
        hi = np.searchsorted(self.members_codes, code, side="right")
        found = np.sort(self.members_order[lo:hi])
        return found[self.live[found]]

    def info(self, docnum):
        """The StoryInfo of a document's story (an unknown item: its own)."""
        code = self.code(docnum)
        members = self.members(code) if code >= 0 else np.array([docnum])
        counts = self.source_column.count(members)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        name = _text(self.names[code]) if code >= 0 else self.ids.id_of(docnum)
        return StoryInfo(name, int(self.sizes[code]) if code >= 0 else 1,
                         tuple(n for n, _ in ranked))

    def docnums_of(self, name):
        """The live documents of the story named name (empty if none); an
        item the table does not know is a story of its own, named by its id."""
        code = self.code_of(name)
        if code is not None:
            return self.members(code)
        alone = self.ids.docnums([name])
        return alone[self.live[alone] & (self.codes[alone] < 0)]


def _story_arrays(table, ids):
    """(the table's item ids, comparable with ids.ids; their story numbers;
    the story names, sorted) as numpy arrays, from the table packed
    (story_table.ID_WIDTH bytes a record) or as lists."""
    if not table:
        return np.array([], dtype=ids.ids.dtype), np.zeros(0, dtype=np.int64), np.array([], dtype=str)
    if isinstance(table["ids"], bytes):
        kind = f"S{table['width']}"
        known, names = np.frombuffer(table["ids"], kind), np.frombuffer(table["names"], kind)
        numbers = np.frombuffer(table["stories"], np.int32)
        if ids.ids.dtype.kind == "U":
            known = known.astype(ids.ids.dtype)
        return known, numbers, names
    return ids.key(table["ids"]), np.array(table["stories"], dtype=np.int64), \
        np.array(table["names"], dtype=str)


def _keys(texts, like):
    """Texts as an array that compares with the array `like` (ids or story
    names): bytes in the same order as the text when `like` holds bytes
    (UTF-8 keeps code points in order; a text that cannot be one of them
    matches none), else str."""
    if like.dtype.kind == "U":
        return np.array(list(texts), dtype=str)
    return np.array([t.encode("utf-8", "surrogatepass") for t in texts], dtype=bytes)


def _text(found):
    """An element of such an array as text."""
    return found.decode("ascii") if isinstance(found, bytes) else str(found)


class Labels(Keyed):
    """The dump labels (#ロシア(250213)) of every document: an item has the
    labels of the dump files that hold it (the manifest says which file has
    which label and items)."""

    def __init__(self, searcher, manifest, ids):
        files = (manifest or {}).get("files", {})
        self.of_dump = {name: e["label"] for name, e in files.items() if e.get("label")}
        items = defaultdict(set)
        for name, label in self.of_dump.items():
            items[schema.tag_key(label)].update(files[name].get("items", ()))
        values = sorted(items)
        super().__init__(searcher, values, [ids.docnums(items[v]) for v in values])

    def of(self, dumps):
        """The labels of an item held in these dump files."""
        return tuple(sorted({self.of_dump[d] for d in dumps or () if d in self.of_dump}))
