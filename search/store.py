"""The index on disk: the Whoosh schema and the manifest beside it.

The manifest records which dump files (size, mtime, sha1) and which items the
index holds, so a reindex only reads what changed. It is written as
``manifest-<generation>.json`` *before* the Whoosh commit that creates that
generation, so the manifest a reader picks is always the one matching the
committed index: a reindex killed between the two leaves a manifest for a
generation that never came, which is ignored and overwritten next time.
"""

import json
import os
import pickle
import re

from whoosh import fields, index
from whoosh.analysis import LowercaseFilter, RegexTokenizer
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile

from .analysis import fold, japanese_analyzer
from .formats import JapaneseText

SCHEMA_VERSION = 3  # 3: segments with posting arrays and array blocks (a reindex rebuilds older ones)
INDEX_NAME = "MAIN"
_MANIFEST = re.compile(r"^manifest-(\d+)\.json$")


class IndexMissing(Exception):
    """There is no index where one was expected."""


def make_schema():
    ja = japanese_analyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        headline=JapaneseText(analyzer=ja, stored=True),
        body=JapaneseText(analyzer=ja, stored=True),
        source=fields.ID(stored=True, sortable=True),
        handle=fields.ID(stored=True),
        date=fields.ID(stored=True, sortable=True),  # YYYY-MM-DD sorts as text
        urls=fields.STORED(),
        tags=fields.STORED(),
        # One tag per line, folded, '#' dropped: what the tag filter matches.
        # (KEYWORD would split on spaces, which tags may hold.)
        tag=fields.TEXT(analyzer=RegexTokenizer(r"[^\n]+") | LowercaseFilter(),
                        phrase=False),
        dumps=fields.STORED(),
    )


def tag_key(tag):
    """#米宇(鉱物資源協定), 米宇(鉱物資源協定) and ＃米宇（鉱物資源協定） are one tag."""
    return fold(tag).strip().lstrip("#").strip()


def tag_field(tags):
    """The indexed tag field: one folded tag per line; None (left out) when
    there are none."""
    return "\n".join(tag_key(t) for t in tags) or None


def document(item, dumps):
    """The Whoosh document of a parsed item present in the given dump files."""
    return dict(
        id=item.id,
        headline=item.headline,
        body=item.body,
        source=item.source,
        handle=item.handle,
        date=item.date.isoformat(),
        urls=list(item.urls),
        tags=list(item.tags),
        tag=tag_field(item.tags),
        dumps=sorted(dumps),
    )


def create(index_dir):
    os.makedirs(index_dir, exist_ok=True)
    return PreadStorage(index_dir).create_index(make_schema(), indexname=INDEX_NAME)


def exists(index_dir):
    return os.path.isdir(index_dir) and index.exists_in(index_dir, indexname=INDEX_NAME)


def open_index(index_dir):
    if not exists(index_dir):
        raise IndexMissing(f"no index in {index_dir}")
    return index.FileIndex(PreadStorage(index_dir), indexname=INDEX_NAME)


class PreadFile(StructFile):
    """A Whoosh file whose random reads are one ``pread`` each. Whoosh's
    ``get(position, length)``, behind every term-table lookup, stored-field
    and column read, is a seek and a buffered read, which fetches 8 KB for a
    few bytes and leaves the position moved; none of its callers reads on
    from there, and sequential reads (seek, read) keep the buffered file."""

    def get(self, position, length):
        # fileno() each time: a closed file raises rather than reading
        # whatever file has since been given its descriptor number.
        return os.pread(self.file.fileno(), length, position)


class WrittenFile(StructFile):
    """A Whoosh file being written (mode "wb": write only) that counts its
    own position. A buffered file's tell() is an lseek each time, and
    writing a segment asks it several times a term (~3 % of a reindex's CPU
    in the profile). Every write goes through write(); close() checks the
    count against the file."""

    def __init__(self, fileobj, name=None, onclose=None):
        super().__init__(fileobj, name=name, onclose=onclose)
        self._position = fileobj.tell()
        # StructFile writes arrays straight to a real file; as if not real,
        # its write_array goes through write() and is counted.
        self.is_real = False

    def write(self, data):
        self._position += len(data)
        return self.file.write(data)

    def tell(self):
        return self._position

    def seek(self, *args):
        self._position = self.file.seek(*args)
        return self._position

    def write_pickle(self, obj, protocol=-1):
        self.write(pickle.dumps(obj, protocol))

    def close(self):
        if not self.is_closed and self.file.tell() != self._position:
            raise OSError(f"{self._name}: written {self.file.tell()} bytes, counted {self._position}")
        super().close()


class PreadStorage(FileStorage):
    """The index directory, its files opened as PreadFile for reading and
    as WrittenFile for writing."""

    def open_file(self, name, **kwargs):
        return PreadFile(open(self._fpath(name), "rb"), name=name, **kwargs)

    def create_file(self, name, excl=False, mode="wb", **kwargs):
        f = super().create_file(name, excl=excl, mode=mode, **kwargs)
        if mode != "wb":  # read back as well (Whoosh's compound files): as it was
            return f
        return WrittenFile(f.file, name=name, **kwargs)


def pin_files(searcher):
    """Open every per-document file (stored fields, lengths, columns) and the
    posting arrays of the searcher's segments now. Segments are written as
    separate files; a commit deletes those of merged-away segments, and while
    a file already open stays readable, Whoosh would open these lazily, after
    they are gone.
    (Relies on W3PerDocReader's file cache, Whoosh 2.7.4 being pinned.)"""
    from . import postings  # numpy: not loaded by the processes that never search

    for reader, _ in searcher.reader().leaf_readers():
        if reader.segment() is None:  # an empty index has no files to pin
            continue
        postings.open_arrays(reader)
        perdoc = reader._perdoc
        prefix = reader.segment().segment_id() + "."
        opened = perdoc._colfiles
        for name in reader.storage().list():
            if name.startswith(prefix) and name.endswith(".col"):
                field = name[len(prefix):-len(".col")]
                if field not in opened:
                    opened[field] = perdoc._get_column_file(field)
        if "_has_column" not in perdoc.__dict__:
            # Whoosh asks the directory whether a column exists before using
            # it; an opened column exists for this reader even once deleted.
            perdoc._has_column = perdoc.has_column
            perdoc.has_column = lambda field, p=perdoc: field in p._colfiles or p._has_column(field)


def manifest_path(index_dir, generation):
    return os.path.join(index_dir, f"manifest-{generation}.json")


def read_manifest(index_dir, generation):
    """The manifest of a committed generation, or None (no manifest, or one of
    another schema version: the caller rebuilds)."""
    try:
        with open(manifest_path(index_dir, generation), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    if manifest.get("schema") != SCHEMA_VERSION:
        return None
    return manifest


def write_manifest(index_dir, generation, manifest):
    """Atomically write the manifest of a generation and drop older ones."""
    manifest = dict(manifest, schema=SCHEMA_VERSION, generation=generation)
    path = manifest_path(index_dir, generation)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def drop_old_manifests(index_dir, keep):
    for name in os.listdir(index_dir):
        m = _MANIFEST.match(name)
        stale_tmp = name.startswith("manifest-") and name.endswith(".tmp")
        if (m and int(m.group(1)) != keep) or stale_tmp:
            try:
                os.remove(os.path.join(index_dir, name))
            except OSError:
                pass
