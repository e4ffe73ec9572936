"""Whoosh's W3 codec with small posting lists inlined in the term table and
posting blocks stored as flat arrays.

- W3 writes every term's postings as a pickled, zlib-compressed block in the
  postings file, even a term found in one document; most terms of a news
  archive are that rare, and the per-block work was the largest cost of
  writing a segment. W3 has an ``inlinelimit`` for this, but in Whoosh
  2.7.4 setting it above 1 fails (``set_inline`` is called, the term info
  has ``set_inlined``); InliningCodec fixes the call.
- A W3 block pickles a tuple of delta-encoded ids, a tuple of weights and a
  tuple of one bytes object per posting: writing it and reading it back
  make and pickle ~400 Python objects per block, and a reader that wants one
  posting's characters (a snippet) pays for all of them. ArrayBlockCodec
  writes the same block as four flat byte strings (ids, weights, the values
  joined, their lengths), uncompressed; a reader decodes a posting's value
  only when asked, and skips within a block by bisection. It also writes
  terms of a few postings straight into the term table, and stored fields
  without zlib.

Both are pickled into the index with its segments: keep them at this import
path. Segments written before ArrayBlockCodec keep InliningCodec.

The postings writers and the matcher subclass W3's and override its private
methods; the private attributes they rely on are listed in
search/index/whoosh_internals.py (PRIVATE_ATTRIBUTES), which every other use
of Whoosh's internals goes through.
"""

import io
import pickle
import zlib
from array import array
from bisect import bisect_left
from itertools import accumulate
from pickle import dumps

from whoosh import columns
from whoosh.codec.whoosh3 import (WHOOSH3_HEADER_MAGIC, W3Codec, W3LeafMatcher, W3PerDocReader,
                                  W3PerDocWriter, W3PostingsWriter)
from whoosh.matching import ListMatcher, ReadTooFar
from whoosh.util.numeric import length_to_byte

from . import whoosh_internals as internals

INLINE_LIMIT = 4  # postings per term kept in the term table
COMPRESSION = 1  # InliningCodec's zlib level: 3 cost ~2× more for ~5 % less disk
# ArrayBlockCodec's: none. zlib was ~8 % of the CPU of a full reindex and most
# of a snippet's cost of reading a posting; the index is ~40 % larger (x1:
# 96 MB instead of 69 MB), read through the page cache, not held in memory.
ARRAY_COMPRESSION = 0
_ARRAYS = "arrays"  # marks a block of ArrayBlockCodec


class InliningPostingsWriter(W3PostingsWriter):
    def finish_postings(self):
        terminfo = self._terminfo
        if not self.written() and len(self) < self._inlinelimit:
            terminfo.add_block(self)
            terminfo.set_inlined(self._ids, self._weights, self._values)
            self._terminfo = None
            return terminfo
        return super().finish_postings()


class InliningCodec(W3Codec):
    def __init__(self, blocklimit=128, compression=COMPRESSION, inlinelimit=INLINE_LIMIT + 1):
        super().__init__(blocklimit=blocklimit, compression=compression, inlinelimit=inlinelimit)

    def postings_writer(self, dbfile, byteids=False):
        settings = internals.codec_settings(self)
        return InliningPostingsWriter(dbfile, blocklimit=settings.blocklimit, byteids=byteids,
                                      compression=settings.compression,
                                      inlinelimit=_inline_limit(settings, byteids))

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if not terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        ids, weights, values = terminfo.inlined_postings()
        if not values:
            # A posting writer keeps no empty value, and W3's ListMatcher
            # then gives '' (a str) for every posting: give what W3's blocks
            # give, None for a format without values (Existence), else b''.
            values = (None if format_.fixed_value_size() == 0 else b"",) * len(ids)
        return ListMatcher(ids, weights, values, format_, scorer=scorer, term=term,
                           terminfo=terminfo)


def _inline_limit(settings, byteids):
    """Postings of a term vector (byteids: a document's terms) are never
    inlined: W3's per-document reader reads a vector from the vector postings
    file only, at the offset its term info gives."""
    return 1 if byteids else settings.inlinelimit


class ArrayBlockWriter(InliningPostingsWriter):
    """Writes a block's data as ("arrays", ids, weights, values joined, value
    lengths), pickled with a protocol that has bytes (W3's protocol 2 pickles
    each bytes object as a call to codecs.encode); the block's info header
    is W3's, so W3's block skipping works unchanged."""

    def _write_block(self, last=False):
        if not self._writes_arrays():
            return super()._write_block(last)
        postfile = self._postfile
        if not self._blockcount:
            postfile.write(WHOOSH3_HEADER_MAGIC)
            self.block_offsets = []
        self.block_offsets.append(postfile.tell())  # the posting arrays keep them (snippets)
        self._terminfo.add_block(self)
        ids, values = self._ids, self._values
        joined, lengths = values if isinstance(values, tuple) else \
            (b"".join(values), array("I", map(len, values)))
        data = dumps((_ARRAYS, ids.tobytes(), self._weights.tobytes(), joined,
                      lengths.tobytes()), 4)
        comp = self._compression
        if comp:
            data = zlib.compress(data, comp)
        info = dumps((len(ids), ids[-1], self._maxweight, comp,
                      length_to_byte(self._minlength), length_to_byte(self._maxlength)), 2)
        size = len(info) + len(data)
        postfile.write_int(-size if last else size)
        postfile.write(info)
        postfile.write(data)
        self._blockcount += 1
        self._new_block()

    def block_ends(self):
        """Where each block of the term just finished starts in the postings
        file, and where its last one ends (the posting arrays keep them)."""
        return self.block_offsets + [self._postfile.tell()]

    def _writes_arrays(self):
        """Whether _write_block writes this writer's blocks as arrays (else
        W3's layout: document ids as bytes, or values of a fixed size)."""
        fixedsize = self._format.fixed_value_size()
        return not self._byteids and (fixedsize is None or fixedsize < 0)

    def add_postings(self, postings, lengths=None):
        """A whole term's postings (search.index.postings.Postings), with
        the documents' field lengths (a list by docnum, or None): what
        add_posting does one posting at a time (about half of the cost of
        writing a segment), done a block at a time, each block's arrays
        sliced from the term's and its values joined once."""
        limit = self._blocklimit
        # finish_postings inlines a term of fewer than the inline limit, and
        # takes its values as a list; a block written out takes them joined.
        joined = self._writes_arrays() and len(postings) >= self._inlinelimit
        for start in range(0, len(postings), limit):
            if self._ids:
                self._write_block()
            stop = start + limit
            self._ids = postings.ids[start:stop]
            self._weights = weights = postings.weights[start:stop]
            self._values = postings.value_slices(start, stop) if joined else \
                postings.values_list(start, stop)
            self._maxweight = max(0, max(weights))
            if lengths is not None:
                known = [n for n in (lengths[d] for d in self._ids) if n]
                if known:
                    self._minlength, self._maxlength = min(known), max(known)


def block_values(data):
    """The values of one ArrayBlockWriter block, from its bytes in the
    postings file (header included), as a sequence cut on demand."""
    f = io.BytesIO(data)
    f.seek(4)  # the block's length
    compression = pickle.load(f)[3]  # W3's block info
    body = f.read()
    _, _, _, joined, lengths = pickle.loads(zlib.decompress(body) if compression else body)
    a = array("I")
    a.frombytes(lengths)
    return _Slices(joined, a)


def inlined_term_info(postings, lengths=None):
    """The term-table entry of a term whose few postings are inlined in it:
    what W3's start_postings, add_posting, finish_postings (InliningPostings-
    Writer) and W3TermInfo.to_bytes make of them, in one step: most terms of
    a segment are that rare, and the writer objects cost more than the
    postings. The postings (search.index.postings.Postings) are pickled
    with protocol 4 (W3 reads any)."""
    if len(postings.ids) == 1:  # most of them: a word one document of the segment has
        return _single_term_info(postings, lengths)
    ids, weights, values = postings.ids, postings.weights, tuple(postings.values_list())
    known = [n for n in (lengths[d] for d in ids) if n] if lengths is not None else []
    header = internals.pack_term_info_header(
        True, sum(weights), len(ids),
        length_to_byte(min(known)) if known else 0, length_to_byte(max(known, default=0)),
        max(0, max(weights)), ids[0], ids[-1])
    return header + dumps((tuple(ids), tuple(weights), values), 4)


def _single_term_info(postings, lengths):
    """inlined_term_info of a term with one posting, without the slicing."""
    docnum, weight = postings.ids[0], postings.weights[0]
    n = lengths[docnum] if lengths is not None else 0
    length = length_to_byte(n) if n else 0
    header = internals.pack_term_info_header(True, weight, 1, length, length, max(0, weight),
                                             docnum, docnum)
    values = (bytes(postings.values),) if postings.values else ()
    return header + dumps(((docnum,), (weight,), values), 4)


class ArrayBlockMatcher(W3LeafMatcher):
    """Reads blocks of either layout: ArrayBlockWriter's and W3's."""

    def _arrays(self):
        if self._data is None:
            self._read_data()
        return self._data[0] == _ARRAYS

    def _read_ids(self):
        if not self._arrays():
            return super()._read_ids()
        self._ids = array("I")
        self._ids.frombytes(self._data[1])

    def _read_weights(self):
        if not self._arrays():
            return super()._read_weights()
        self._weights = array("f")
        self._weights.frombytes(self._data[2])

    def _read_values(self):
        if not self._arrays():
            return super()._read_values()
        lengths = array("I")
        lengths.frombytes(self._data[4])
        self._values = _Slices(self._data[3], lengths)

    def read_rest(self, with_values=False):
        """(ids, weights, values or None) of the postings from the current
        one on, as lists, a block at a time: what id(), weight(), value()
        and next() give, without four calls a posting (a query reads a rare
        term in every segment that way: most of a query's time on an index
        of many segments)."""
        ids, weights, values = [], [], [] if with_values else None
        while self.is_active():
            if self._ids is None:
                self._read_ids()
            if self._weights is None:
                self._read_weights()
            i, n = self._i, self._blocklength
            ids.extend(self._ids[i:n])
            weights.extend(self._weights[i:n])
            if with_values:
                if self._values is None:
                    self._read_values()
                values.extend(self._values[k] for k in range(i, n))
            self._i = n  # as next() leaves it at the block's end
            self._next_block()
        return ids, weights, values

    def skip_to(self, targetid):
        if not self.is_active():
            raise ReadTooFar
        if targetid <= self.id():
            return
        if targetid > self._maxid:
            self._skip_to_block(lambda: targetid > self._maxid)
            if not self.is_active():
                return
        if self._ids is None:
            self._read_ids()
        self._i = bisect_left(self._ids, targetid, self._i)  # within the block: targetid <= maxid


def read_postings(matcher, with_values=False):
    """(ids, weights, values or None) of every posting a matcher gives from
    where it is, as lists: an ArrayBlockMatcher's a block at a time, any
    other's (inlined postings, deletions filtered out) one at a time."""
    if type(matcher) is ArrayBlockMatcher:
        return matcher.read_rest(with_values)
    ids, weights, values = [], [], [] if with_values else None
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        if with_values:
            values.append(matcher.value())
        matcher.next()
    return ids, weights, values


class _Slices:
    """The values of a block, cut from their joined bytes when asked for."""

    def __init__(self, joined, lengths):
        self.joined = joined
        self.ends = list(accumulate(lengths))

    def __len__(self):
        return len(self.ends)

    def __getitem__(self, i):
        return self.joined[self.ends[i - 1] if i else 0:self.ends[i]]


# Stored fields pickled as they are: W3 compresses each document's with zlib
# level 3, which cost ~2 % of a reindex and 10-20 µs for every hit shown.
STORED_PLAIN = columns.PickleColumn(columns.VarBytesColumn())


class PlainStoredWriter(W3PerDocWriter):
    def __init__(self, codec, storage, segment):
        super().__init__(codec, storage, segment)
        internals.use_stored_column(self, STORED_PLAIN)  # nothing written yet


class PlainStoredReader(W3PerDocReader):
    def stored_fields(self, docnum):
        stored = internals.cached_column_reader(self, "_stored", STORED_PLAIN)[docnum]
        return {} if stored is None else stored


class ArrayBlockCodec(InliningCodec):
    def __init__(self, blocklimit=128, compression=ARRAY_COMPRESSION,
                 inlinelimit=INLINE_LIMIT + 1):
        super().__init__(blocklimit=blocklimit, compression=compression, inlinelimit=inlinelimit)

    def postings_writer(self, dbfile, byteids=False):
        settings = internals.codec_settings(self)
        return ArrayBlockWriter(dbfile, blocklimit=settings.blocklimit, byteids=byteids,
                                compression=settings.compression,
                                inlinelimit=_inline_limit(settings, byteids))

    def per_document_writer(self, storage, segment):
        return PlainStoredWriter(self, storage, segment)

    def per_document_reader(self, storage, segment):
        return PlainStoredReader(storage, segment)

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        offset, length = terminfo.extent()
        return ArrayBlockMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)

