"""The array-block codec writes what W3 would, a term at a time, and its
reader gives back the same postings, skips to the same documents, and still
reads W3's own blocks (indexes written before it)."""

import pytest
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filestore import RamStorage

from search.index.codec import ArrayBlockCodec, ArrayBlockWriter, InliningPostingsWriter
from search.index.formats import PackedCharacters

FORMAT = PackedCharacters()


def _postings(n):
    """n postings of a term: every third document, 1-3 occurrences each."""
    out = []
    for i in range(n):
        docnum = 3 * i + 1
        occurrences = [(p, 10 * p, 10 * p + 2) for p in range(1 + i % 3)]
        out.append((docnum, float(len(occurrences)), FORMAT.encode(occurrences)))
    return out


def _write(writer_class, postings, lengths, bulk):
    storage = RamStorage()
    f = storage.create_file("postings")
    writer = writer_class(f, blocklimit=4, compression=1, inlinelimit=5)
    writer.start_postings(FORMAT, W3TermInfo())
    if bulk:
        writer.add_postings(postings, lengths)
    else:
        for docnum, weight, value in postings:
            writer.add_posting(docnum, weight, value, lengths[docnum])
    terminfo = writer.finish_postings()
    f.close()
    return storage, terminfo


def _read(storage, terminfo):
    m = ArrayBlockCodec().postings_reader(storage.open_file("postings"), terminfo, FORMAT)
    out = []
    while m.is_active():
        out.append((m.id(), m.weight(), m.value()))
        m.next()
    return out


@pytest.mark.parametrize("n", [1, 4, 5, 9, 40])
def test_bulk_blocks_hold_what_w3_writes_posting_by_posting(n):
    postings = _postings(n)
    lengths = [d % 7 + 1 for d in range(3 * n + 2)]
    w3 = _write(InliningPostingsWriter, postings, lengths, bulk=False)
    ours = _write(ArrayBlockWriter, postings, lengths, bulk=True)
    assert _read(*ours) == _read(*w3) == [(d, w, v) for d, w, v in postings]
    a, b = w3[1], ours[1]
    assert (a.weight(), a.doc_frequency(), a.min_length(), a.max_length(), a.max_weight(),
            a.min_id(), a.max_id(), a.is_inlined()) == \
           (b.weight(), b.doc_frequency(), b.min_length(), b.max_length(), b.max_weight(),
            b.min_id(), b.max_id(), b.is_inlined())


@pytest.mark.parametrize("target", [0, 1, 2, 11, 12, 13, 50, 118, 119])
def test_skip_to_lands_where_w3s_would(target):
    postings = _postings(40)  # documents 1, 4, ..., 118 in blocks of 4
    lengths = [1] * 130
    landed = []
    for writer_class in (InliningPostingsWriter, ArrayBlockWriter):
        storage, terminfo = _write(writer_class, postings, lengths, bulk=False)
        m = ArrayBlockCodec().postings_reader(storage.open_file("postings"), terminfo, FORMAT)
        m.skip_to(target)
        landed.append((m.id(), m.value_as("characters")) if m.is_active() else None)
    expected = next(((d, FORMAT.decode_characters(v)) for d, _, v in postings if d >= target),
                    None)
    assert landed == [expected, expected]


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("with_lengths", [True, False])
def test_inlined_term_info_is_the_entry_w3_writes(n, with_lengths):
    from search.index.codec import inlined_term_info

    postings = _postings(n)
    lengths = [d % 7 + 1 for d in range(3 * n + 2)] if with_lengths else None
    _, w3 = _write(InliningPostingsWriter, postings, lengths or [0] * (3 * n + 2), bulk=False)
    assert w3.is_inlined()
    ours = W3TermInfo.from_bytes(inlined_term_info(postings, lengths))
    theirs = W3TermInfo.from_bytes(w3.to_bytes())
    fields = ("weight", "doc_frequency", "min_length", "max_length", "max_weight", "min_id",
              "max_id", "inlined_postings")
    assert [getattr(ours, f)() for f in fields] == [getattr(theirs, f)() for f in fields]
