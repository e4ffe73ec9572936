"""A term's postings in memory, packed: what a segment writer holds
(search/ingest/parallel.py) and what the codec and the posting arrays
write a term from (codec.py, posting_arrays.py)."""

from array import array


class Postings:
    """One term's postings held by a pool, packed: document numbers,
    weights, the values joined and where each one ends. As a list of
    (docnum, weight, value) tuples a posting took ~250 bytes (the tuple, a
    float, a bytes object, a list slot); packed it takes 12 bytes and its
    value's, so a writer's segment holds five times the documents in the
    same memory (fewer, larger segments for the same bound)."""

    __slots__ = ("ids", "weights", "values", "ends")

    def __init__(self):
        self.ids, self.weights, self.ends = array("I"), array("f"), array("I")
        self.values = bytearray()

    def __len__(self):
        return len(self.ids)

    def append(self, docnum, weight, value):
        self.ids.append(docnum)
        self.weights.append(weight)
        if value:
            self.values += value
        self.ends.append(len(self.values))

    def extend(self, postings):
        for docnum, weight, value in postings:
            self.append(docnum, weight, value)

    @classmethod
    def of(cls, postings):
        """Packed from (docnum, weight, value) tuples."""
        packed = cls()
        packed.extend(postings)
        return packed

    def value_slices(self, start=0, stop=None):
        """(the values of postings [start:stop] joined, the lengths of the
        non-empty ones): what a block of ArrayBlockWriter stores."""
        ends = self.ends
        stop = len(ends) if stop is None else min(stop, len(ends))
        if stop <= start:
            return b"", array("I")
        first = ends[start - 1] if start else 0
        block = ends[start:stop]
        lengths = [block[0] - first] + [b - a for a, b in zip(block, block[1:])]
        return bytes(self.values[first:block[-1]]), array("I", [n for n in lengths if n])

    def values_list(self, start=0, stop=None):
        """The non-empty values of postings [start:stop], as bytes."""
        joined, lengths = self.value_slices(start, stop)
        out, at = [], 0
        for n in lengths:
            out.append(joined[at:at + n])
            at += n
        return out

    def __iter__(self):
        values, at = self.values, 0
        for docnum, weight, end in zip(self.ids, self.weights, self.ends):
            yield docnum, weight, bytes(values[at:end])
            at = end
