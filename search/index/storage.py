"""The index directory on disk: create, open, and the files Whoosh reads and
writes through (one pread per random read, written files that count their
own position).
"""

import os
import pickle

from whoosh import index
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile

from . import whoosh_internals as internals
from .schema import make_schema

INDEX_NAME = "MAIN"


class IndexMissing(Exception):
    """There is no index where one was expected."""


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
        self.filename = name
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
            raise OSError(f"{self.filename}: written {self.file.tell()} bytes, counted {self._position}")
        super().close()


class PreadStorage(FileStorage):
    """The index directory, its files opened as PreadFile for reading and
    as WrittenFile for writing."""

    def open_file(self, name, **kwargs):
        path = os.path.abspath(os.path.join(self.folder, name))  # FileStorage's path
        return PreadFile(open(path, "rb"), name=name, **kwargs)

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
    they are gone (whoosh_internals.pin_column_files)."""
    from . import posting_arrays  # numpy: not loaded by the processes that never search

    for reader, _ in searcher.reader().leaf_readers():
        if reader.segment() is None:  # an empty index has no files to pin
            continue
        posting_arrays.open_arrays(reader)
        internals.pin_column_files(reader)
