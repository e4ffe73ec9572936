"""Sortable fields (source, date) as numpy arrays over every document of a
searcher, read once per index generation and shared by the threads: the
filters, the facet counts and the sort by date read them; and the sources
with their handles, which a source filter is resolved against."""

import numpy as np
from whoosh import query as Q

from .. import analysis
from . import language
from .errors import BadRequest


class Column:
    """A column as small integer codes per document (numpy) numbering its
    distinct values in their sort order, so a code is also the document's
    rank for sorting (by date) and counts by code come out sorted."""

    def __init__(self, reader):
        values = list(reader)
        self.values = sorted(set(values))
        index = {v: i for i, v in enumerate(self.values)}
        self.codes = np.array([index[v] for v in values], dtype=np.int64)
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
    """The columns of the newest generation asked for, and what is derived
    from them (the sources); older generations' are let go."""

    def __init__(self):
        self.columns = {}

    def get(self, searcher, field):
        return self._kept(searcher, field, lambda: Column(
            searcher.reader().column_reader(field, translate=True)))

    def sources(self, searcher):
        return self._kept(searcher, "sources", lambda: Sources(
            searcher, self.get(searcher, "source")))

    def live(self, searcher):
        """The document numbers of every item not deleted, in order."""
        return self._kept(searcher, "live", lambda: np.fromiter(
            searcher.reader().all_doc_ids(), dtype=np.int64))

    def tags(self, searcher):
        return self._kept(searcher, "tags", lambda: Tags(searcher))

    def _kept(self, searcher, name, make):
        key = (searcher.reader().generation(), name)
        found = self.columns.get(key)
        if found is None:
            found = make()
            self.columns = {k: v for k, v in self.columns.items() if k[0] == key[0]}
            self.columns[key] = found
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


class Tags:
    """Every document's tags (the folded keys of the tag field), as codes in
    two parallel arrays (document, tag), for the tag facet and the tag
    filter: a tag matches by its whole key or by its topic part."""

    def __init__(self, searcher):
        reader = searcher.reader()
        self.values, docs, codes = [], [], []
        for term in reader.lexicon("tag"):
            term = term.decode("utf-8") if isinstance(term, bytes) else term
            found = np.fromiter(searcher.docs_for_query(Q.Term("tag", term)), dtype=np.int64)
            codes.append(np.full(len(found), len(self.values), dtype=np.int64))
            docs.append(found)
            self.values.append(term)
        self.docs = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int64)
        self.codes = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
        self.value_array = np.array(self.values, dtype=object)
        self.size = searcher.doc_count_all()

    def mask(self, keys):
        """Which documents have a tag whose key, or topic part, is one of keys."""
        keys = set(keys)
        wanted = np.array([v in keys or tag_topic(v) in keys for v in self.values], dtype=bool)
        mask = np.zeros(self.size, dtype=bool)
        if len(self.values):
            mask[self.docs[wanted[self.codes]]] = True
        return mask

    def count(self, docnums):
        """{tag key: how many of docnums have it}."""
        selected = np.zeros(self.size, dtype=bool)
        selected[docnums] = True
        counts = np.bincount(self.codes[selected[self.docs]], minlength=len(self.values))
        found = np.flatnonzero(counts)
        return dict(zip(self.value_array[found].tolist(), counts[found].tolist()))
