"""Whoosh's W3 codec with small posting lists inlined in the term table.

W3 writes every term's postings as a pickled, zlib-compressed block in the
postings file, even a term found in one document; most terms of a news
archive are that rare, and the per-block work was the largest cost of
writing a segment. W3 has an ``inlinelimit`` for this, but in Whoosh 2.7.4
setting it above 1 fails (``set_inline`` is called, the term info has
``set_inlined``); this codec fixes the call. Readers already handle inlined
postings (a ListMatcher), so nothing changes for searching.

Pickled into the index with each segment: keep it at this import path.
"""

from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter

INLINE_LIMIT = 4  # postings per term kept in the term table
COMPRESSION = 1  # zlib level for the remaining blocks: 3 cost ~2× more for ~5 % less disk


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
        return InliningPostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                                      compression=self._compression,
                                      inlinelimit=self._inlinelimit)
