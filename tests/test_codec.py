"""The array-block codec writes what W3 would, a term at a time, and its
reader gives back the same postings, skips to the same documents, and still
reads W3's own blocks (indexes written before it)."""

import pytest
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filestore import RamStorage

from search.index.codec import ArrayBlockCodec, ArrayBlockWriter, InliningPostingsWriter
from search.index.formats import PackedCharacters
from search.index.postings import Postings

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
        writer.add_postings(Postings.of(postings), lengths)
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
    ours = W3TermInfo.from_bytes(inlined_term_info(Postings.of(postings), lengths))
    theirs = W3TermInfo.from_bytes(w3.to_bytes())
    fields = ("weight", "doc_frequency", "min_length", "max_length", "max_weight", "min_id",
              "max_id", "inlined_postings")
    assert [getattr(ours, f)() for f in fields] == [getattr(theirs, f)() for f in fields]


def _index(codec_class, schema, storage=None):
    from whoosh.filedb.filestore import RamStorage

    ix = (storage or RamStorage()).create_index(schema)
    return ix, lambda: ix.writer(codec=codec_class())


def _contents(ix):
    """Postings (by each document's id, values decoded), stored fields and
    columns: what a reader sees, whatever the document numbers."""
    with ix.searcher() as s:
        r = s.reader()
        ids = {d: s.stored_fields(d)["id"] for d in r.all_doc_ids()}
        postings = {}
        for field in r.indexed_field_names():
            for btext in r.lexicon(field):
                m, out = r.postings(field, btext), []
                while m.is_active():
                    if m.id() in ids:  # not deleted
                        out.append((ids[m.id()], m.weight(), m.value()))
                    m.next()
                if out:
                    postings[(field, btext)] = sorted(out)
        stored = sorted(map(sorted, (s.stored_fields(d).items() for d in ids)))
        column = sorted((ids[d], v) for d, v in enumerate(r.column_reader("n")) if d in ids)
    return postings, stored, column


def test_merging_through_whooshs_own_writer_keeps_every_posting_and_value():
    """Segments of ours (text with packed characters, ids inlined without
    values, a sortable column, a deletion) merged by Whoosh's SegmentWriter:
    the same postings, values, stored fields and column afterwards, and
    ids' postings give None as values, as W3's blocks do (not '', which
    Whoosh's writer refuses)."""
    from whoosh import analysis, fields

    from search.index.formats import JapaneseText

    schema = fields.Schema(id=fields.ID(stored=True), n=fields.NUMERIC(sortable=True),
                           body=JapaneseText(analysis.StandardAnalyzer(), stored=True))
    ix, writer = _index(ArrayBlockCodec, schema)
    for segment in range(2):
        w = writer()
        for i in range(segment * 200, segment * 200 + 200):
            w.add_document(id=f"d{i}", n=i, body=f"common word{i % 7} common rare{i}")
        if segment:
            w.delete_by_term("id", "d3")
        w.commit(merge=False)
    with ix.searcher() as s:
        assert len(s.reader().leaf_readers()) == 2
        assert s.reader().leaf_readers()[0][0].postings("id", "d5").value() is None
    before = _contents(ix)
    w = writer()
    w.commit(optimize=True)
    with ix.searcher() as s:
        assert len(s.reader().leaf_readers()) == 1 and s.doc_count_all() == 399
    after = _contents(ix)
    assert after == before
    assert FORMAT.decode_characters(after[0][("body", b"common")][0][2]) == [(0, 0, 6), (2, 13, 19)]


def test_term_vectors_are_written_and_read_as_w3_does():
    """A vectored field: W3's per-document reader reads a vector only from
    the vector postings file, so a vector is never inlined in its term info."""
    from whoosh import fields
    from whoosh.codec.whoosh3 import W3Codec

    schema = fields.Schema(id=fields.ID(stored=True),
                           text=fields.TEXT(vector=fields.formats.Positions()))
    vectors = []
    for codec_class in (W3Codec, ArrayBlockCodec):
        ix, writer = _index(codec_class, schema)
        w = writer()
        w.add_document(id="a", text="alfa bravo alfa")
        w.add_document(id="b", text=" ".join(f"w{i}" for i in range(300)))
        w.commit()
        with ix.searcher() as s:
            vectors.append([list(s.vector_as("positions", d, "text")) for d in range(2)])
    assert vectors[0] == vectors[1]
    assert vectors[1][0] == [("alfa", [0, 2]), ("bravo", [1])]
