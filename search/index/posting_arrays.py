"""Posting arrays: a segment's frequent text terms as flat arrays, for scoring
whole posting lists at once (search/query/evaluate.py).

Whoosh keeps a term's postings in blocks of 128, each a zlib-compressed
pickle of document numbers, weights *and* the positions and characters of
every posting; a query that only scores must unpickle all of it, one block
at a time, and then walks its matcher tree one document at a time in
Python. So each segment also gets a file beside Whoosh's, written from the
same in-memory postings when the segment is written:

- per text field, each document's length (as Whoosh stores it, quantized);
- per text field, every term found in at least MIN_POSTINGS documents, with
  its document numbers (uint32) and frequencies (float32) as two arrays,
  and where each of its blocks starts in Whoosh's postings file (a
  snippet reads a hit's posting from that one block);
- per text field, the CRC-32 of every term's bytes, sorted: a term whose
  hash is not there is not in the segment, which a query learns without
  looking it up in Whoosh's term table (a hash table read through several
  small reads, ~30 µs). On an index of many segments most (word, segment)
  pairs of a query are of a word the segment does not hold.

- per text field, a record for each of those hashes, in their order: the
  term's bytes and, for a term rarer than MIN_POSTINGS, its postings
  (document numbers, frequencies, values): a rare term is read in two
  preads, where Whoosh's term table and postings take ~50 µs (several small
  reads, a matcher, a block). A query reads its words in every segment, and
  on an index of many small segments most of what it reads is rare there:
  on a year of daily segments (23) that was 40 % of a query's time.

A segment without the file (an index written before it existed), or whose
file has no records, is searched through Whoosh's postings, only slower. The file is named like
the segment's other files, so Whoosh deletes it with the segment.
"""

import json
import os
import struct
import threading
import weakref
import zlib
from array import array
from bisect import bisect_left

from . import whoosh_internals as internals
from .codec import block_values

MIN_POSTINGS = 64  # rarer terms fit in one Whoosh block; fewer kept terms, smaller header in every worker
EXTENSION = ".arr"
MAGIC = b"WPARR1\n\0"  # 8 bytes
_HEADER_SIZE = struct.Struct("<Q")


def filename(segment):
    return segment.segment_id() + EXTENSION


class ArraysWriter:
    """Collects one segment's fields, then writes them to one file."""

    def __init__(self, doc_count, min_postings=MIN_POSTINGS):
        self.doc_count = doc_count
        self.min_postings = min_postings
        self.fields = {}

    def add_field(self, fieldname, lengths, terms, blocks=None, block_postings=0):
        """lengths: each document's field length; terms: (btext, postings)
        sorted by btext, postings search.index.postings.Postings; blocks:
        btext -> offsets of its blocks in the postings file and their end,
        each block of block_postings postings (the last one fewer)."""
        kept, starts = [], array("Q", [0])
        ids, weights = array("I"), array("f")
        block_starts, offsets = array("Q", [0]), array("Q")
        minimum = self.min_postings
        for btext, postings in terms:
            if len(postings) < minimum:
                continue
            kept.append(btext.decode("utf-8"))
            ids.extend(postings.ids)
            weights.extend(postings.weights)
            starts.append(len(ids))
            offsets.extend((blocks or {}).get(btext, ()))
            block_starts.append(len(offsets))
        lengths = array("I", (n or 0 for n in lengths))
        hashes, records, index = self._records(terms)
        self.fields[fieldname] = (kept, block_postings, starts, ids, weights, lengths,
                                  block_starts, offsets, hashes, records, index)

    def _records(self, terms):
        """(the sorted hashes of terms, their records in that order, and
        for each one where its record starts, its key's length and its
        postings' count, then the records' end)."""
        crc32, minimum = zlib.crc32, self.min_postings
        # The terms' order by hash as one list of ints (a stable sort: equal
        # hashes in the terms' order), not a (hash, k) tuple a term: a
        # segment has ~10^5 terms, and the tuples were most of this step.
        crcs = array("I", (crc32(btext) for btext, _ in terms))
        keyed = sorted(range(len(terms)), key=crcs.__getitem__)
        # Built as the array it is written from, not a bytearray converted
        # at the end: a second copy of a segment's rare postings, at once.
        records, index = array("B"), array("Q")
        append = records.frombytes
        for k in keyed:
            btext, postings = terms[k]
            n = len(postings)
            index.extend((len(records), len(btext), n if n < minimum else 0))
            append(btext)
            if n < minimum:  # frombytes takes the typed arrays as their bytes
                append(memoryview(postings.ids).cast("B"))
                append(memoryview(postings.weights).cast("B"))
                append(memoryview(postings.ends).cast("B"))
                append(postings.values)
        index.extend((len(records), 0, 0))
        return array("I", map(crcs.__getitem__, keyed)), records, index

    def write(self, storage, segment):
        header = {"doc_count": self.doc_count, "fields": {}}
        # The arrays are written from their own memory (a byte view of
        # each), not from a bytes copy: copies of them all, held together,
        # were a writer's largest allocation while it wrote a segment out.
        chunks, at = [], 0
        for fieldname, (terms, block_postings, *arrays) in self.fields.items():
            entry = {"terms": terms, "block_postings": block_postings}
            for name, a in zip(_ARRAYS, arrays):
                data = memoryview(a).cast("B")
                entry[name] = [at, a.typecode, len(a)]
                chunks.append(data)
                at += len(data)
            header["fields"][fieldname] = entry
        head = json.dumps(header, ensure_ascii=False).encode("utf-8")
        f = storage.create_file(filename(segment))
        try:
            f.write(MAGIC + _HEADER_SIZE.pack(len(head)) + head)
            for data in chunks:
                f.write(data)
        finally:
            f.close()


_ARRAYS = ("starts", "ids", "weights", "lengths", "block_starts", "blocks", "hashes",
           "records", "record_index")
_DTYPES = {"Q": "uint64", "I": "uint32", "f": "float32", "B": "uint8"}  # numpy's names (numpy is imported
# where the arrays are read, not by the writers: a reindex imports no numpy)


ABSENT = "absent"  # SegmentArrays.lookup, rare_postings: the segment does not hold the term
_INDEX_ENTRY = struct.Struct("<6Q")  # two entries of the record index: one record's bounds


class KeptTerms:
    """A field's kept terms, each to its index in the field's arrays, held
    as their UTF-8 bytes end to end and their CRC-32s sorted: every worker
    holds every segment's, and a dict of str cost ~19 MB a worker at x40
    (~140,000 kept terms), this ~3 MB. A lookup is ~1 µs, against a dict's
    ~0.05: a query asks a few hundred at most."""

    __slots__ = ("hashes", "order", "joined", "bounds")

    def __init__(self, terms):
        encoded = [t.encode("utf-8") for t in terms]
        keyed = sorted((zlib.crc32(b), i) for i, b in enumerate(encoded))
        self.hashes = array("I", (h for h, _ in keyed))
        self.order = array("I", (i for _, i in keyed))
        self.joined = b"".join(encoded)
        self.bounds = array("Q", [0])  # term k's bytes: joined[bounds[k]:bounds[k + 1]]
        for b in encoded:
            self.bounds.append(self.bounds[-1] + len(b))

    def get(self, text):
        """The term's index, or None when it is not kept."""
        key = text.encode("utf-8")
        return self.find(key, zlib.crc32(key))

    def find(self, key, h):
        """get() of a term's UTF-8 bytes and their CRC-32."""
        hashes = self.hashes
        i = bisect_left(hashes, h)
        while i < len(hashes) and hashes[i] == h:  # two terms may share a hash: their bytes tell
            k = self.order[i]
            if self.joined[self.bounds[k]:self.bounds[k + 1]] == key:
                return k
            i += 1
        return None


class _Field:
    def __init__(self, terms, starts, ids, weights, lengths, block_postings, block_starts, blocks,
                 hashes=None, records=None, record_index=None):
        self.terms = KeptTerms(terms)
        self.hashes = hashes  # sorted CRC-32s of every term (None: a file from before them)
        self.records, self.record_index = records, record_index  # specs, read with pread
        self.starts, self.ids, self.weights, self.lengths = starts, ids, weights, lengths
        self.block_postings, self.block_starts, self.blocks = block_postings, block_starts, blocks


class SegmentArrays:
    """One segment's posting arrays, read with pread from a file held open
    (it stays readable after a commit deletes it, as Whoosh's own files do
    for an open searcher), and the segment's postings file, held open the
    same way, to read single postings' values. Thread-safe: reads do not
    share a file offset."""

    def __init__(self, path, postings_path=None):
        self.fd = os.open(path, os.O_RDONLY)
        self.postings_fd = None
        try:
            start = os.pread(self.fd, len(MAGIC) + _HEADER_SIZE.size, 0)
            if start[:len(MAGIC)] != MAGIC:
                raise ValueError(f"{path}: not a posting arrays file")
            (size,) = _HEADER_SIZE.unpack(start[len(MAGIC):])
            header = json.loads(os.pread(self.fd, size, len(start)))
            if postings_path is not None:
                self.postings_fd = os.open(postings_path, os.O_RDONLY)
        except BaseException:
            self.close()
            raise
        self.base = len(start) + size
        self.doc_count = header["doc_count"]
        self.fields = {}
        for fieldname, entry in header["fields"].items():
            self.fields[fieldname] = _Field(
                entry["terms"], self._hashes(entry["starts"]), self._spec(entry["ids"]),
                self._spec(entry["weights"]),
                self._array(self._spec(entry["lengths"])).astype("float64"), entry["block_postings"],
                self._hashes(entry["block_starts"]), self._spec(entry["blocks"]),
                self._hashes(entry["hashes"]) if "hashes" in entry else None,
                entry.get("records"), entry.get("record_index"))

    def _hashes(self, spec):
        """An array of the file as an array.array: bisect searches it in C
        (a numpy searchsorted for one value costs ~5 µs of overhead), and
        an index gives a Python int, not a numpy scalar to convert (the
        sorted term hashes, where each kept term's postings and blocks start)."""
        offset, typecode, length = spec
        found = array(typecode)
        found.frombytes(os.pread(self.fd, length * found.itemsize, self.base + offset))
        return found

    def _array(self, spec, first=0, count=None):
        """Elements [first:first + count] of an array of the file (spec:
        _spec's), as numpy's view of the bytes read."""
        offset, dtype, length = spec
        import numpy as np

        count = length - first if count is None else count
        data = os.pread(self.fd, count * dtype.itemsize, self.base + offset + first * dtype.itemsize)
        return np.frombuffer(data, dtype=dtype)

    def _spec(self, spec):
        """An array's (offset, numpy dtype, length), its dtype made once:
        a term's postings are two reads of a few µs each."""
        import numpy as np

        offset, typecode, length = spec
        return offset, np.dtype(_DTYPES[typecode]), length

    def _find(self, fieldname, text):
        field = self.fields.get(fieldname)
        i = None if field is None else field.terms.get(text)
        return (None, None) if i is None else (field, i)

    def rare_postings(self, fieldname, text):
        """(document numbers, weights, values) of a term rarer than
        MIN_POSTINGS, deleted documents included; ABSENT when the segment
        does not hold it; None when this file cannot tell (a kept term, or
        a file without records)."""
        field = self.fields.get(fieldname)
        if field is None or field.records is None:  # (a kept term's record says n = 0: None)
            return None
        key = text.encode("utf-8")
        h = zlib.crc32(key)
        return self._record(field, key, h, bisect_left(field.hashes, h))

    def lookup(self, fieldname, text):
        """(document numbers, weights, values) of a term, deleted documents
        included (values: those of a rare term's postings, read with them;
        None for a kept term's, read from its blocks when asked); ABSENT
        when the segment does not hold it; None when this file cannot tell.
        postings() and rare_postings() in one: the term hashed once, and a
        term the segment lacks (most of a query's, on many segments) told
        by its hash alone."""
        field = self.fields.get(fieldname)
        if field is None:
            return None
        key = text.encode("utf-8")
        h = zlib.crc32(key)
        hashes, i = field.hashes, None
        if hashes is not None:  # (a kept term's hash is among them)
            i = bisect_left(hashes, h)
            if i == len(hashes) or hashes[i] != h:
                return ABSENT
        k = field.terms.find(key, h)
        if k is not None:
            return (*self._kept_postings(field, k), None)
        if field.records is None or i is None:  # (records come with the hashes)
            return None
        return self._record(field, key, h, i)

    def _record(self, field, key, h, i):
        """The parsed record of key (CRC-32 h) from index i of the hashes on:
        rare_postings' answer."""
        hashes = field.hashes
        at, records = self.base + field.record_index[0], self.base + field.records[0]
        while i < len(hashes) and hashes[i] == h:  # a collision: the next one
            start, key_length, n, end, _, _ = _INDEX_ENTRY.unpack(
                os.pread(self.fd, _INDEX_ENTRY.size, at + 24 * i))
            record = os.pread(self.fd, end - start, records + start)
            if record[:key_length] == key:
                return None if not n else _parse_record(record, key_length, n)
            i += 1
        return ABSENT

    def lengths(self, fieldname):
        """Every document's length in the field (float64), or None."""
        field = self.fields.get(fieldname)
        return None if field is None else field.lengths

    def count(self, fieldname, text):
        """How many documents hold a kept term; None when it is not kept."""
        field, i = self._find(fieldname, text)
        return None if field is None else field.starts[i + 1] - field.starts[i]

    def postings(self, fieldname, text):
        """(document numbers, weights) of a term, or None when the term is
        not kept here (absent, or rarer than MIN_POSTINGS)."""
        field, i = self._find(fieldname, text)
        return None if field is None else self._kept_postings(field, i)

    def _kept_postings(self, field, k):
        """(document numbers, weights) of the field's kept term k."""
        first = field.starts[k]
        count = field.starts[k + 1] - first
        return self._array(field.ids, first, count), self._array(field.weights, first, count)

    def values(self, fieldname, text, indexes):
        """The values (positions and characters) of a kept term's postings
        at these indexes of its posting list, one block read for each block
        they fall in; None when they cannot be read here."""
        field, i = self._find(fieldname, text)
        if field is None or self.postings_fd is None or not field.block_postings:
            return None
        first = field.block_starts[i]
        count = field.block_starts[i + 1] - first
        if count < 2:
            return None
        offsets = self._array(field.blocks, first, count).tolist()
        # One block decoded at a time: the indexes come in order (a phrase
        # asks for thousands, over most of a common word's blocks).
        current, block, out = None, None, []
        for k in indexes:
            b, j = divmod(k, field.block_postings)
            if b != current:
                start, end = offsets[b], offsets[b + 1]
                current, block = b, block_values(os.pread(self.postings_fd, end - start, start))
            out.append(block[j])
        return out

    def close(self):
        for name in ("fd", "postings_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def __del__(self):
        self.close()


def _parse_record(record, key_length, n):
    import numpy as np

    ids = np.frombuffer(record, dtype=np.uint32, count=n, offset=key_length)
    # float32, as the kept terms' weights are read: the scoring makes them
    # float64 where it multiplies them (the same values either way).
    weights = np.frombuffer(record, dtype=np.float32, count=n, offset=key_length + 4 * n)
    ends = array("I")
    ends.frombytes(record[key_length + 8 * n:key_length + 12 * n])
    return ids.astype(np.int64), weights, RecordValues(record[key_length + 12 * n:], ends)


class RecordValues:
    """A rare term's posting values, cut from their joined bytes when asked
    for (a query asks for those of its hits, a few of them)."""

    __slots__ = ("joined", "ends")

    def __init__(self, joined, ends):
        self.joined, self.ends = joined, ends

    def __len__(self):
        return len(self.ends)

    def __getitem__(self, i):
        return self.joined[self.ends[i - 1] if i else 0:self.ends[i]]


_opened = weakref.WeakValueDictionary()  # path: SegmentArrays, shared by the threads
_opening = threading.Lock()


def open_arrays(reader):
    """The posting arrays of a Whoosh segment reader, opened when first asked
    for (store.pin_files asks when a searcher is made) and kept on the
    reader; None when the segment has none."""
    cache = internals.reader_cache(reader)
    arrays = cache.get("posting_arrays", False)
    if arrays is False:
        arrays = None
        if reader.segment() is None:  # an empty index
            return None
        storage = reader.storage()
        folder = getattr(storage, "folder", None)
        name = filename(reader.segment())
        if folder is not None and storage.file_exists(name):
            path = os.path.join(folder, name)
            with _opening:
                arrays = _opened.get(path)
                if arrays is None:
                    postings_path = os.path.join(folder, reader.segment().make_filename(".pst"))
                    try:
                        arrays = _opened[path] = SegmentArrays(path, postings_path)
                    except (OSError, ValueError):
                        arrays = None  # deleted by a commit meanwhile, or damaged: Whoosh's postings serve
        cache["posting_arrays"] = arrays
    return arrays
