"""Writing Whoosh segments fast, on both cores.

Two things make Whoosh's own writers slow or unsafe for us:

- ``SegmentWriter`` puts every posting through a sorting pool of tuples and
  looks each posting's field length up again when it writes it out. For our
  text that is most of the cost of indexing after Sudachi itself.
  ``FastSegmentWriter`` groups postings by term in memory (one segment's
  worth), sorts only the terms, and reads field lengths once per document.
- ``MpWriter`` lets a worker die unnoticed (its documents are silently left
  out of the commit) and leaves workers blocked forever, holding the inherited
  index lock, when the parent is killed. ``write_segments`` forks workers
  that inherit the documents (nothing is pickled on the way in), checks that
  each exits cleanly and that the segments hold every document, and has the
  kernel kill the workers when their parent dies.

These rely on SegmentWriter internals of Whoosh 2.7.4, which is pinned:
they are reached through search/index/whoosh_internals.py, which lists what
FastSegmentWriter's override of ``_flush_segment`` relies on.
"""

import ctypes
import multiprocessing
import os
import signal
from operator import itemgetter

from whoosh.writing import SegmentWriter

from ..index import posting_arrays
from ..index import whoosh_internals as internals
from ..index.codec import ArrayBlockCodec, inlined_term_info
from ..index.formats import PackedCharacters

PR_SET_PDEATHSIG = 1
STORED = "_stored_"  # a field's stored value, when it differs from the indexed one
SEGMENT_DOCS = 25000  # bounds a worker's memory: postings of one segment are held in RAM
CHUNK_DOCS = 16  # documents a worker takes at a time


class WorkerFailed(Exception):
    """A writer process failed; nothing was committed."""


class _TermPool:
    """Stands in for Whoosh's PostingPool: postings grouped by field, then by
    term. Documents arrive in docnum order, so each term's list is already
    sorted. The Japanese text fields' terms are kept as the analyzer's str
    forms and encoded once per term when written (not once per posting);
    other fields' as Whoosh gives them, bytes."""

    def __init__(self, schema):
        self.fields = {}
        self.text_fields = {name for name, field in schema.items()
                            if isinstance(field.format, PackedCharacters)}

    @property
    def fieldnames(self):
        return set(self.fields)

    def add(self, item):
        """One posting, as Whoosh's own paths give it (merges, add_reader)."""
        fieldname, btext, docnum, weight, vbytes = item
        term = btext.decode("utf-8") if fieldname in self.text_fields else btext
        terms = self.fields.setdefault(fieldname, {})
        postings = terms.get(term)
        if postings is None:
            terms[term] = [(docnum, weight, vbytes)]
        else:
            postings.append((docnum, weight, vbytes))

    def add_field(self, fieldname, field, value, docnum):
        """Every posting of one field of a document; returns the field's
        length (0 unless scorable) and, for a Japanese text field, the
        analyzer's postings of it ({form: array of (position, start, end)}),
        else None. The Japanese text fields take their postings straight
        from the analyzer (what PackedCharacters.word_values would yield,
        without a tuple per posting through three generators)."""
        terms, length = self.fields.setdefault(fieldname, {}), 0
        fast = getattr(field.analyzer, "postings", None) if isinstance(
            field.format, PackedCharacters) and isinstance(value, str) else None
        by_word = None
        if fast is not None:
            boost = field.format.field_boost
            by_word = fast(value)
            for word, a in by_word.items():
                freq = len(a) // 3
                length += freq
                postings = terms.get(word)
                if postings is None:
                    terms[word] = [(docnum, boost * freq, a.tobytes())]
                else:
                    postings.append((docnum, boost * freq, a.tobytes()))
        else:
            text = fieldname in self.text_fields
            for btext, freq, weight, vbytes in field.index(value):
                length += freq
                term = btext.decode("utf-8") if text else btext
                postings = terms.get(term)
                if postings is None:
                    terms[term] = [(docnum, weight, vbytes)]
                else:
                    postings.append((docnum, weight, vbytes))
        return (length if field.scorable else 0), by_word

    def terms(self, fieldname):
        """[(btext, postings)] of a field, in the order of their bytes (a str's
        code point order is its UTF-8 bytes' order)."""
        terms = sorted(self.fields.get(fieldname, {}).items(), key=itemgetter(0))
        if fieldname in self.text_fields:
            return [(term.encode("utf-8"), postings) for term, postings in terms]
        return terms

    def iter_postings(self):
        for fieldname in sorted(self.fields):
            for btext, postings in self.terms(fieldname):
                for docnum, weight, vbytes in postings:
                    yield fieldname, btext, docnum, weight, vbytes

    def cleanup(self):
        self.fields = {}


class FastSegmentWriter(SegmentWriter):
    """on_document: called with each document added (its fields) and the
    analyzer's postings of its Japanese text fields ({field: {form: array}}),
    so that what needs the analysis (story grouping) gets it without
    analyzing the text again."""

    def __init__(self, ix, on_document=None, min_postings=posting_arrays.MIN_POSTINGS, **kwargs):
        kwargs.setdefault("codec", ArrayBlockCodec())
        self.on_document = on_document
        self.min_postings = min_postings  # terms kept in the posting arrays
        # Separate files, not one compound file: Whoosh reads a compound
        # file's postings into a private copy per searcher (one per server
        # thread: gigabytes at 30k items), while separate files are mapped.
        kwargs.setdefault("compound", False)
        super().__init__(ix, **kwargs)
        self.pool = _TermPool(self.schema)
        self._plain_schema = not any(field.vector or field.separate_spelling()
                                     for _, field in self.schema.items())

    def add_document(self, **fields):
        """SegmentWriter.add_document for what our schema uses (stored,
        indexed and column fields, ``_stored_<name>`` values; no vectors,
        spelling or boosts, which go to Whoosh's own), each field's postings
        added to the pool in one call."""
        stored = {name[len(STORED):]: fields.pop(name) for name in list(fields)
                  if name.startswith(STORED)}
        if not self._plain_schema or any(name.startswith("_") for name in fields):
            plain = dict(fields)
            fields.update((STORED + name, value) for name, value in stored.items())
            super().add_document(**fields)
            if self.on_document is not None:  # no analysis to give: its story is its own
                self.on_document(plain, {})
            return
        names = sorted(fields)
        internals.check_document(self, names)
        perdoc, schema, docnum = self.perdocwriter, self.schema, self.docnum
        perdoc.start_doc(docnum)
        analyzed = {}
        for name in names:
            value = fields[name]
            if value is None:
                continue
            field = schema[name]
            length, by_word = self.pool.add_field(name, field, value, docnum) \
                if field.indexed else (0, None)
            if by_word is not None:
                analyzed[name] = by_word
            perdoc.add_field(name, field, stored.get(name, value) if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        internals.mark_added(self)
        self.docnum += 1
        if self.on_document is not None:
            self.on_document(fields, analyzed)

    def _flush_segment(self):  # overrides SegmentWriter's (whoosh_internals lists it)
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        try:
            self._write_postings(lengths)
        finally:
            lengths.close()
        self.fieldwriter.close()

    def _write_postings(self, lengths):
        fw = self.fieldwriter
        settings = internals.codec_settings(self.codec)
        inline_limit = settings.inlinelimit  # fewer postings: kept in the term table
        docs = range(self.docnum)
        arrays = posting_arrays.ArraysWriter(self.docnum, self.min_postings)
        for fieldname in sorted(self.pool.fields):
            field = self.schema[fieldname]
            if field.scorable:
                doc_lengths = [lengths.doc_field_length(d, fieldname) for d in docs]
            terms = self.pool.terms(fieldname)
            fw.start_field(fieldname, field)
            field_lengths = doc_lengths if field.scorable else None
            blocks = {}  # btext: where each block of a term starts, and its end
            arrays_field = isinstance(field.format, PackedCharacters)
            for btext, postings in terms:
                if len(postings) < inline_limit:
                    internals.term_table_add(fw, btext, inlined_term_info(postings, field_lengths))
                    continue
                fw.start_term(btext)
                # A term's postings in one call, not fw.add per posting
                # (W3FieldWriter's writer for the field is ArrayBlockWriter).
                writer = internals.field_postings_writer(fw)
                writer.add_postings(postings, field_lengths)
                fw.finish_term()
                if arrays_field:  # the arrays keep those of the terms they keep
                    blocks[btext] = writer.block_ends()
            fw.finish_field()
            if arrays_field:
                arrays.add_field(fieldname, doc_lengths, terms, blocks, settings.blocklimit)
        arrays.write(self.storage, self.newsegment)
        self.pool.cleanup()


def commit_with_segments(writer, segments, mergetype=None):
    """Commit writer (its deletions and documents) together with segments
    written by other processes, as MpWriter does for multisegment writes."""
    internals.commit_segments(writer, segments, mergetype)


def write_segments(ix, docs, procs=2, progress=None, observer=None, on_observed=None,
                   **writer_options):
    """Write docs as new segments of ix in `procs` forked processes; return
    the segments (not yet committed). Raises WorkerFailed. observer: an
    object whose add(fields, analyzed) each worker calls for each document
    (FastSegmentWriter's on_document) and whose results() it sends back;
    merge(results) is called with each worker's in the parent. A worker
    sends its results as soon as it has added its last document, before it
    writes its last segment out, and on_observed() is called once every
    worker's are merged: what the parent does with them (story grouping)
    runs while the workers write, instead of after them.
    writer_options: FastSegmentWriter's (min_postings)."""
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)  # documents written, for the progress bar
    taken = ctx.Value("i", 0)  # documents handed out: workers take the next chunk
    # Longest first, so that the last chunks handed out are short ones and
    # the workers finish together (a static split by length left one
    # worker a second behind the other on 7k items).
    docs = sorted(docs, key=lambda d: -len(d.get("body", "")))
    workers = []
    for _ in range(min(procs, len(docs))):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_work,
                           args=(ix, docs, taken, send, counter, os.getpid(), observer,
                                 writer_options))
        proc.start()
        send.close()
        workers.append((proc, receive))
    problems, alive = [], []
    for proc, receive in workers:
        observed = _receive(receive, counter, progress)
        if observed is None:
            proc.join()
            problems.append(f"worker exited with status {proc.exitcode}")
        else:
            alive.append((proc, receive))
            if observer is not None:
                observer.merge(observed)
    if not problems and on_observed is not None:
        on_observed()
    segments = []
    for proc, receive in alive:
        result = _receive(receive, counter, progress)
        proc.join()
        if result is None or proc.exitcode != 0:
            problems.append(f"worker exited with status {proc.exitcode}")
        else:
            segments.extend(result)
    written = sum(s.doc_count_all() for s in segments)
    if problems or written != len(docs):
        raise WorkerFailed(f"index writer processes failed ({'; '.join(problems) or 'no error'}); "
                           f"{written} of {len(docs)} documents written; nothing was committed")
    return segments


def _chunks(docs, taken):
    """The next CHUNK_DOCS documents no other worker has taken, until none are left."""
    while True:
        with taken.get_lock():
            start = taken.value
            taken.value = start + CHUNK_DOCS
        if start >= len(docs):
            return
        yield docs[start:start + CHUNK_DOCS]


def _receive(receive, counter, progress):
    last = 0
    while True:
        if receive.poll(0.2):
            try:
                return receive.recv()
            except EOFError:  # the worker died before sending
                return None
        if progress is not None:
            done = counter.value
            progress.items_added(done - last)
            last = done


def _work(ix, docs, taken, send, counter, parent_pid, observer, writer_options):
    _die_with_parent(parent_pid)
    segments, writer = [], None
    on_document = observer.add if observer is not None else None
    for chunk in _chunks(docs, taken):
        for doc in chunk:
            if writer is None:
                writer = internals.unlocked_writer(FastSegmentWriter, ix, on_document=on_document,
                                                   **writer_options)
            writer.add_document(**doc)
            with counter.get_lock():
                counter.value += 1
            if writer.doc_count() >= SEGMENT_DOCS:
                segments.append(internals.finalize_segment(writer))
                writer = None
    send.send(observer.results() if observer is not None else ())
    if writer is not None:
        # The temp folder is shared with the parent's writer, which removes it.
        segments.append(internals.finalize_segment(writer))
    send.send(segments)
    send.close()


def _die_with_parent(parent_pid):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: a worker outliving its parent only wastes CPU
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
