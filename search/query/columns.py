"""Sortable fields (source, date) as numpy arrays over every document of a
searcher, read once per index generation and shared by the threads: the
filters, the facet counts and the sort by date read them."""

import numpy as np


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
    """The columns of the newest generation asked for; older ones are let go."""

    def __init__(self):
        self.columns = {}

    def get(self, searcher, field):
        key = (searcher.reader().generation(), field)
        column = self.columns.get(key)
        if column is None:
            column = Column(searcher.reader().column_reader(field, translate=True))
            self.columns = {k: v for k, v in self.columns.items() if k[0] == key[0]}
            self.columns[key] = column
        return column
