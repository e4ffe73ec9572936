"""Every use of Whoosh's private internals, behind named functions.

The codec, the segment writer, the storage and the evaluation rely on
attributes of Whoosh 2.7.4 that are not its public API. Other modules reach
them only through the functions here, which refuse to load with another
Whoosh. A few of our classes must subclass Whoosh's and override its private
methods (the codec's block writer and matcher, the segment writer's flush):
they stay beside their codec or writer, and what they rely on is listed in
PRIVATE_ATTRIBUTES with the rest. tests/test_whoosh_internals.py checks that
every attribute listed exists on the installed Whoosh, and that no other
module of the package uses a private name of Whoosh's that is not listed.
"""

import struct
from collections import namedtuple

import whoosh

WHOOSH_VERSION = (2, 7, 4)

if tuple(whoosh.__version__) != WHOOSH_VERSION:
    raise ImportError(
        f"search needs Whoosh {'.'.join(map(str, WHOOSH_VERSION))} (its index writer, codec "
        f"and evaluation rely on that version's internals), but Whoosh "
        f"{whoosh.versionstring()} is installed: `pip install whoosh=="
        f"{'.'.join(map(str, WHOOSH_VERSION))}`")

from whoosh.codec.whoosh3 import W3TermInfo  # noqa: E402 (after the version check)
from whoosh.system import pack_ushort  # noqa: E402

_USHORT = struct.Struct("!H")  # whoosh.system's ushort: a term key's field number

_W3_POSTINGS = "whoosh.codec.whoosh3:W3PostingsWriter"
_INLINING = "search.index.codec.InliningPostingsWriter"
_ARRAY_BLOCKS = "search.index.codec.ArrayBlockWriter"
_BOTH = f"{_INLINING}, {_ARRAY_BLOCKS}"

# (owner, attribute, what of ours relies on it). The owner is where Whoosh
# defines it: a class (its instances may set the attribute in __init__ or
# later), or a function whose parameter it is. Names without an underscore are public-looking
# attributes that Whoosh does not document and that we rely on all the same.
PRIVATE_ATTRIBUTES = (
    # commit_segments, finalize_segment, check_document, mark_added
    ("whoosh.writing:SegmentWriter", "_merge_segments", "commit_segments"),
    ("whoosh.writing:SegmentWriter", "_added", "commit_segments, mark_added"),
    ("whoosh.writing:SegmentWriter", "_finalize_segment", "commit_segments, finalize_segment"),
    ("whoosh.writing:SegmentWriter", "_close_segment", "commit_segments"),
    ("whoosh.writing:SegmentWriter", "_commit_toc", "commit_segments"),
    ("whoosh.writing:SegmentWriter", "_finish", "commit_segments"),
    ("whoosh.writing:SegmentWriter", "_check_state", "check_document"),
    ("whoosh.writing:SegmentWriter", "_check_fields", "check_document"),
    ("whoosh.writing:SegmentWriter.__init__", "_lk", "unlocked_writer"),  # a parameter
    # search.ingest.parallel.FastSegmentWriter: overrides _flush_segment
    # (called by _finalize_segment), replaces the pool, writes through the
    # field writer
    ("whoosh.writing:SegmentWriter", "_flush_segment", "search.ingest.parallel.FastSegmentWriter"),
    ("whoosh.writing:SegmentWriter", "pool", "search.ingest.parallel.FastSegmentWriter"),
    ("whoosh.writing:SegmentWriter", "perdocwriter", "search.ingest.parallel.FastSegmentWriter"),
    ("whoosh.writing:SegmentWriter", "fieldwriter", "search.ingest.parallel.FastSegmentWriter"),
    ("whoosh.writing:SegmentWriter", "newsegment", "search.ingest.parallel.FastSegmentWriter"),
    ("whoosh.writing:SegmentWriter", "docnum", "search.ingest.parallel.FastSegmentWriter"),
    # term_table_add, field_postings_writer
    ("whoosh.codec.whoosh3:W3FieldWriter", "_tindex", "term_table_add"),
    ("whoosh.codec.whoosh3:W3FieldWriter", "_fieldid", "term_table_add"),
    ("whoosh.codec.whoosh3:W3FieldWriter", "_postwriter", "field_postings_writer"),
    # codec_settings
    ("whoosh.codec.whoosh3:W3Codec", "_blocklimit", "codec_settings"),
    ("whoosh.codec.whoosh3:W3Codec", "_compression", "codec_settings"),
    ("whoosh.codec.whoosh3:W3Codec", "_inlinelimit", "codec_settings"),
    # pack_term_info_header
    ("whoosh.codec.whoosh3:W3TermInfo", "_struct", "pack_term_info_header"),
    # use_stored_column, cached_column_reader
    ("whoosh.codec.whoosh3:W3PerDocWriter", "_colwriters", "use_stored_column"),
    ("whoosh.columns:WrappedColumnWriter", "_child", "use_stored_column"),
    ("whoosh.columns:VarBytesColumn.Writer", "_dbfile", "use_stored_column"),
    ("whoosh.codec.whoosh3:W3PerDocReader", "_cached_reader", "cached_column_reader"),
    # pin_column_files
    ("whoosh.reading:SegmentReader", "_perdoc", "pin_column_files"),
    ("whoosh.codec.whoosh3:W3PerDocReader", "_colfiles", "pin_column_files"),
    ("whoosh.codec.whoosh3:W3PerDocReader", "_get_column_file", "pin_column_files"),
    ("whoosh.codec.whoosh3:W3PerDocReader", "has_column", "pin_column_files"),
    # segment_term_infos (search.index.merging)
    ("whoosh.reading:SegmentReader", "_terms", "segment_term_infos"),
    ("whoosh.codec.whoosh3:W3TermsReader", "_tindex", "segment_term_infos"),
    ("whoosh.codec.whoosh3:W3TermsReader", "_fieldunmap", "segment_term_infos"),
    # latest_generation
    ("whoosh.searching:Searcher", "_ix", "latest_generation"),
    # index_segments, staged_index
    ("whoosh.index:FileIndex", "_segments", "index_segments"),
    ("whoosh.index:FileIndex", "_read_toc", "staged_index"),
    # search.index.codec.InliningPostingsWriter and ArrayBlockWriter: they
    # override W3's finish_postings and _write_block and fill its block buffer
    *((_W3_POSTINGS, name, _BOTH) for name in ("_terminfo", "_ids", "_weights", "_values")),
    (_W3_POSTINGS, "_inlinelimit", _BOTH),
    *((_W3_POSTINGS, name, _ARRAY_BLOCKS) for name in (
        "_write_block", "_new_block", "_postfile", "_blocklimit", "_byteids", "_compression",
        "_blockcount", "_format", "_maxweight", "_minlength", "_maxlength")),
    # search.index.codec.ArrayBlockMatcher: overrides W3's block readers and
    # skip_to
    *(("whoosh.codec.whoosh3:W3LeafMatcher", name, "search.index.codec.ArrayBlockMatcher")
      for name in ("_data", "_read_data", "_read_ids", "_read_weights", "_read_values", "_ids",
                   "_weights", "_values", "_maxid", "_skip_to_block", "_i", "_blocklength",
                   "_next_block")),
)

# What our caches on a Whoosh reader are kept under (reader_cache): a name
# Whoosh's readers must not use themselves.
READER_CACHE = "_search_caches"


# -- the index and its searchers --------------------------------------------

def latest_generation(searcher):
    """The newest committed generation of the searcher's index, on disk."""
    return searcher._ix.latest_generation()


# -- writing segments (search.ingest.parallel) --------------------------------

def index_segments(ix):
    """The segments of the index's newest generation."""
    return ix._segments()


class _StagedIndex:
    """What a segment writer reads of an index (its table of contents, its
    name and schema), with another storage for the files it writes."""

    def __init__(self, ix, storage):
        self.ix, self.storage = ix, storage
        self.indexname, self.schema = ix.indexname, ix.schema

    def _read_toc(self):
        return self.ix._read_toc()


def staged_index(ix, storage):
    """ix, as a writer sees it, writing its segment's files to storage (an
    unlocked_writer's: it commits nothing)."""
    return _StagedIndex(ix, storage)


def unlocked_writer(writer_class, ix, **kwargs):
    """A segment writer that does not take the index's write lock: one of the
    processes writing segments for a writer that holds it."""
    return writer_class(ix, _lk=False, **kwargs)


def check_document(writer, fieldnames):
    """What SegmentWriter.add_document checks first: the writer is open and
    every field name is in the schema."""
    writer._check_state()
    writer._check_fields(writer.schema, fieldnames)


def mark_added(writer):
    """Tell the writer that it holds documents (its commit writes a segment)."""
    writer._added = True


def finalize_segment(writer):
    """Write the writer's documents as a segment, uncommitted; return it."""
    return writer._finalize_segment()


def commit_segments(writer, segments, mergetype=None):
    """Commit writer (its deletions and documents) together with segments
    written by other processes, as MpWriter does for multisegment writes."""
    final = writer._merge_segments(mergetype, None, None)
    final += segments
    if writer._added:
        final.append(writer._finalize_segment())
    else:
        writer._close_segment()
    writer._commit_toc(final)
    writer._finish()


_HASH_LENGTHS = struct.Struct("!ii")  # whoosh.filedb.filetables: key and value lengths


def segment_term_infos(reader):
    """((fieldname, btext), W3TermInfo) of every term of a segment reader,
    in the order of its term table: its key/value region read at once (what
    W3TermsReader.items() gives, with two reads an entry)."""
    terms = reader._terms
    table = terms._tindex
    unmap = terms._fieldunmap
    data = table.dbfile.get(table.startofdata, table.endofdata - table.startofdata)
    pos, end, lengths = 0, len(data), _HASH_LENGTHS
    from_bytes = W3TermInfo.from_bytes
    while pos < end:
        keylen, datalen = lengths.unpack_from(data, pos)
        key = pos + lengths.size
        value = key + keylen
        (fieldid,) = _USHORT.unpack_from(data, key)
        yield (unmap[fieldid], data[key + 2:value]), from_bytes(data[value:value + datalen])
        pos = value + datalen


def term_table_add(fieldwriter, btext, info):
    """Add a term of the field being written (W3FieldWriter.start_field) to
    the segment's term table, with its term info as bytes, without going
    through start_term/finish_term."""
    fieldwriter._tindex.add(pack_ushort(fieldwriter._fieldid) + btext, info)


def field_postings_writer(fieldwriter):
    """The postings writer of the field being written (after start_term, the
    one holding the term's postings)."""
    return fieldwriter._postwriter


CodecSettings = namedtuple("CodecSettings", "blocklimit compression inlinelimit")


def codec_settings(codec):
    """A W3 codec's postings per block, zlib level, and the number of postings
    under which a term is inlined in the term table."""
    return CodecSettings(codec._blocklimit, codec._compression, codec._inlinelimit)


def pack_term_info_header(inlined, weight, doc_frequency, min_length_byte, max_length_byte,
                          max_weight, min_id, max_id):
    """The fixed-size head of a W3 term info's bytes (W3TermInfo.to_bytes)."""
    return W3TermInfo._struct.pack(inlined, weight, doc_frequency, min_length_byte,
                                   max_length_byte, max_weight, min_id, max_id)


# -- per-document files (search.index.codec, search.index.storage) -----------

def use_stored_column(perdocwriter, column):
    """Write a new W3 per-document writer's stored fields with column instead
    of W3's (zlib-compressed pickles), into the file W3 made for them. Call it
    before anything is written."""
    w3 = perdocwriter._colwriters["_stored"]
    perdocwriter._colwriters["_stored"] = column.writer(w3._child._dbfile)


def cached_column_reader(perdocreader, name, column):
    """A W3 per-document reader's reader of a column, made once and kept."""
    return perdocreader._cached_reader(name, column)


def pin_column_files(reader):
    """Open every column file (stored fields, lengths, columns) of a segment
    reader now, and have its per-document reader answer that a column it
    opened exists even once a commit has deleted the file (Whoosh asks the
    directory before it uses a column). Whoosh would otherwise open them
    lazily, maybe after a commit has deleted them."""
    perdoc = reader._perdoc
    prefix = reader.segment().segment_id() + "."
    opened = perdoc._colfiles
    for name in reader.storage().list():
        if name.startswith(prefix) and name.endswith(".col"):
            field = name[len(prefix):-len(".col")]
            if field not in opened:
                opened[field] = perdoc._get_column_file(field)
    if not isinstance(perdoc.__dict__.get("has_column"), _PinnedHasColumn):
        perdoc.has_column = _PinnedHasColumn(perdoc)


class _PinnedHasColumn:
    """W3PerDocReader.has_column, true as well for a column already open."""

    def __init__(self, perdoc):
        self.perdoc, self.has_column = perdoc, type(perdoc).has_column.__get__(perdoc)

    def __call__(self, fieldname):
        return fieldname in self.perdoc._colfiles or self.has_column(fieldname)


# -- our caches on Whoosh's readers (search.index.posting_arrays, evaluation) --

def searcher_cache(searcher):
    """A dict kept on a Whoosh searcher, for what we compute once per
    searcher (a searcher that answers other statistics over the same
    reader, search/query/walk.py, keeps its own)."""
    return reader_cache(searcher)


def reader_cache(reader):
    """A dict kept on a Whoosh reader, for what we compute once per segment
    reader (it lives as long as the reader: a searcher's refresh keeps the
    readers of unchanged segments, and with them their caches)."""
    caches = reader.__dict__.get(READER_CACHE)
    if caches is None:
        caches = reader.__dict__.setdefault(READER_CACHE, {})
    return caches
