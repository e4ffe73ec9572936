"""Posting arrays: a segment's frequent text terms as flat arrays, for scoring
whole posting lists at once (search/evaluate.py).

Whoosh keeps a term's postings in blocks of 128, each a zlib-compressed
pickle of document numbers, weights *and* the positions and characters of
every posting; a query that only scores must unpickle all of it, one block
at a time, and then walks its matcher tree one document at a time in
Python. So each segment also gets a file beside Whoosh's, written from the
same in-memory postings when the segment is written:

- per text field, each document's length (as Whoosh stores it, quantized);
- per text field, every term found in at least MIN_POSTINGS documents, with
  its document numbers (uint32) and frequencies (float32) as two arrays.

Rarer terms are read from Whoosh's own postings (one block or inlined in
the term table: cheap). A segment without the file (an index written before
it existed) is searched the same way, only slower. The file is named like
the segment's other files, so Whoosh deletes it with the segment.
"""

import json
import os
import struct
import threading
import weakref
from array import array

import numpy as np

MIN_POSTINGS = 64  # rarer terms fit in one Whoosh block; fewer kept terms, smaller header in every worker
EXTENSION = ".arr"
MAGIC = b"WPARR1\n\0"  # 8 bytes
_HEADER_SIZE = struct.Struct("<Q")


def filename(segment):
    return segment.segment_id() + EXTENSION


class ArraysWriter:
    """Collects one segment's fields, then writes them to one file."""

    def __init__(self, doc_count):
        self.doc_count = doc_count
        self.fields = {}

    def add_field(self, fieldname, lengths, terms):
        """lengths: each document's field length; terms: (btext, postings)
        sorted by btext, postings a list of (docnum, weight, value)."""
        kept, starts = [], array("Q", [0])
        ids, weights = array("I"), array("f")
        for btext, postings in terms:
            if len(postings) < MIN_POSTINGS:
                continue
            kept.append(btext.decode("utf-8"))
            ids.extend([p[0] for p in postings])
            weights.extend([p[1] for p in postings])
            starts.append(len(ids))
        lengths = array("I", (n or 0 for n in lengths))
        self.fields[fieldname] = (kept, starts, ids, weights, lengths)

    def write(self, storage, segment):
        header = {"doc_count": self.doc_count, "fields": {}}
        chunks, at = [], 0
        for fieldname, (terms, starts, ids, weights, lengths) in self.fields.items():
            entry = {"terms": terms}
            for name, a in (("starts", starts), ("ids", ids), ("weights", weights),
                            ("lengths", lengths)):
                data = a.tobytes()
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


_DTYPES = {"Q": np.uint64, "I": np.uint32, "f": np.float32}


class SegmentArrays:
    """One segment's posting arrays, read with pread from a file held open
    (it stays readable after a commit deletes it, as Whoosh's own files do
    for an open searcher). Thread-safe: reads do not share a file offset."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY)
        try:
            start = os.pread(self.fd, len(MAGIC) + _HEADER_SIZE.size, 0)
            if start[:len(MAGIC)] != MAGIC:
                raise ValueError(f"{path}: not a posting arrays file")
            (size,) = _HEADER_SIZE.unpack(start[len(MAGIC):])
            header = json.loads(os.pread(self.fd, size, len(start)))
        except BaseException:
            os.close(self.fd)
            raise
        self.base = len(start) + size
        self.doc_count = header["doc_count"]
        self.fields = {}
        for fieldname, entry in header["fields"].items():
            self.fields[fieldname] = (
                {t: i for i, t in enumerate(entry["terms"])},
                self._array(entry["starts"]), entry["ids"], entry["weights"],
                self._array(entry["lengths"]).astype(np.float64))

    def _array(self, spec, first=0, count=None):
        offset, typecode, length = spec
        dtype = np.dtype(_DTYPES[typecode])
        count = length - first if count is None else count
        data = os.pread(self.fd, count * dtype.itemsize, self.base + offset + first * dtype.itemsize)
        return np.frombuffer(data, dtype=dtype)

    def lengths(self, fieldname):
        """Every document's length in the field (float64), or None."""
        entry = self.fields.get(fieldname)
        return None if entry is None else entry[4]

    def count(self, fieldname, text):
        """How many documents hold a kept term; None when it is not kept."""
        entry = self.fields.get(fieldname)
        i = None if entry is None else entry[0].get(text)
        return None if i is None else int(entry[1][i + 1] - entry[1][i])

    def postings(self, fieldname, text):
        """(document numbers, weights) of a term, or None when the term is
        not kept here (absent, or rarer than MIN_POSTINGS)."""
        entry = self.fields.get(fieldname)
        if entry is None:
            return None
        terms, starts, ids, weights, _ = entry
        i = terms.get(text)
        if i is None:
            return None
        first, count = int(starts[i]), int(starts[i + 1] - starts[i])
        return self._array(ids, first, count), self._array(weights, first, count)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        self.close()


_opened = weakref.WeakValueDictionary()  # path: SegmentArrays, shared by the threads
_opening = threading.Lock()


def open_arrays(reader):
    """The posting arrays of a Whoosh segment reader, opened when first asked
    for (store.pin_files asks when a searcher is made) and kept on the
    reader; None when the segment has none."""
    arrays = getattr(reader, "_posting_arrays", False)
    if arrays is False:
        arrays = None
        storage = reader.storage()
        folder = getattr(storage, "folder", None)
        name = filename(reader.segment())
        if folder is not None and storage.file_exists(name):
            path = os.path.join(folder, name)
            with _opening:
                arrays = _opened.get(path)
                if arrays is None:
                    try:
                        arrays = _opened[path] = SegmentArrays(path)
                    except (OSError, ValueError):
                        arrays = None  # deleted by a commit meanwhile, or damaged: Whoosh's postings serve
        reader._posting_arrays = arrays
    return arrays
