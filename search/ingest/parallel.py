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
import gc
import multiprocessing
import os
import signal
from multiprocessing.connection import wait
from dataclasses import dataclass
from operator import itemgetter

from whoosh.writing import SegmentWriter

from ..index import posting_arrays
from ..index import whoosh_internals as internals
from ..index.codec import ArrayBlockCodec, inlined_term_info
from ..index.postings import Postings
from ..index.formats import PackedCharacters

PR_SET_PDEATHSIG = 1
STORED = "_stored_"  # a field's stored value, when it differs from the indexed one
SEGMENT_DOCS = 25000  # a segment's documents, when no memory bound is given
# Memory a pool takes, besides the values: a posting's number, weight and
# end (12 bytes), a term's Postings (its four arrays, dict slot, key).
POSTING_BYTES = 12
TERM_BYTES = 400


class WorkerFailed(Exception):
    """A writer process failed; nothing was committed."""


class _TermPool:
    """Stands in for Whoosh's PostingPool: postings grouped by field, then by
    term (Postings, packed). Documents arrive in docnum order, so each
    term's postings are already sorted. The Japanese text fields' terms are
    kept as the analyzer's str forms and encoded once per term when written
    (not once per posting); other fields' as Whoosh gives them, bytes."""

    def __init__(self, schema):
        self.fields = {}
        self.bytes = 0  # held, for the memory bound
        self.text_fields = {name for name, field in schema.items()
                            if isinstance(field.format, PackedCharacters)}

    @property
    def fieldnames(self):
        return set(self.fields)

    def _postings(self, terms, term):
        found = terms.get(term)
        if found is None:
            found = terms[term] = Postings()
            self.bytes += TERM_BYTES
        return found

    def add(self, item):
        """One posting, as Whoosh's own paths give it (merges, add_reader)."""
        fieldname, btext, docnum, weight, vbytes = item
        term = btext.decode("utf-8") if fieldname in self.text_fields else btext
        self.extend(fieldname, term, ((docnum, weight, vbytes),))

    def extend(self, fieldname, term, postings):
        """A term's postings (docnum, weight, value), after those it has."""
        found = self._postings(self.fields.setdefault(fieldname, {}), term)
        before = len(found.values)
        found.extend(postings)
        self.bytes += len(found.values) - before + POSTING_BYTES * len(postings)

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
        by_word, added = None, 0
        if fast is not None:
            boost = field.format.field_boost
            by_word = fast(value)
            # Three ints a posting (position, start, end): the field's length
            # and the bytes held are counted once, in C, not once a word.
            n = sum(map(len, by_word.values()))
            length = n // 3
            added = POSTING_BYTES * len(by_word) + 4 * n
            posted = terms.get
            for word, a in by_word.items():
                found = posted(word)
                if found is None:
                    found = terms[word] = Postings()
                    added += TERM_BYTES
                found.ids.append(docnum)
                found.weights.append(boost * (len(a) // 3))
                values = found.values
                values += a
                found.ends.append(len(values))
        else:
            text = fieldname in self.text_fields
            for btext, freq, weight, vbytes in field.index(value):
                length += freq
                found = self._postings(terms, btext.decode("utf-8") if text else btext)
                found.append(docnum, weight, vbytes)
                added += POSTING_BYTES + len(vbytes or b"")
        self.bytes += added
        return (length if field.scorable else 0), by_word

    def terms(self, fieldname):
        """[(btext, Postings)] of a field, in the order of their bytes (a
        str's code point order is its UTF-8 bytes' order)."""
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
        self.bytes = 0


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

    def segment_full(self, max_bytes=None):
        """Whether the segment should be written out now: its postings in
        memory reach max_bytes (None: it has SEGMENT_DOCS documents)."""
        if max_bytes is None:
            return self.doc_count() >= SEGMENT_DOCS
        return self.pool.bytes >= max_bytes

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


def write_segments(ix, tasks, documents, count, procs=2, progress=None, observer=None,
                   on_observed=None, segment_bytes=None, on_forked=None, **writer_options):
    """Write the documents of tasks as new segments of ix in `procs` forked
    processes; return the segments (not yet committed). Raises WorkerFailed.

    tasks: a sequence the workers inherit and take one at a time, in order;
    documents(task) yields a task's documents, count of them in all. A
    worker writes a segment out once its postings in memory reach
    segment_bytes (None: SEGMENT_DOCS documents), so what a worker holds is
    bounded whatever the corpus. observer: an object whose add(fields,
    analyzed) each worker calls for each document (FastSegmentWriter's
    on_document) and whose results() it sends back, after each segment it
    writes out (then reset(): what a worker holds stays bounded) and after
    its last document; merge(results) is called with each in the parent.
    A worker sends its last results as soon as it has added its last
    document, before it writes its last segment out, and on_observed() is
    called once every worker's are merged: what the parent does with them
    (story grouping) runs while the workers write, instead of after them.
    on_forked() is called once the workers are started: the parent can let
    go of what only they need (they have their own copy of it).
    writer_options: FastSegmentWriter's (min_postings)."""
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)  # documents written, for the progress bar
    taken = ctx.Value("i", 0)  # tasks handed out: workers take the next one
    workers = []
    job = _Job(ix, tasks, documents, taken, counter, os.getpid(), observer, segment_bytes,
               writer_options)
    # The workers' collector would write to the header of every object they
    # inherit, copying the parent's pages into each of them: frozen, they are
    # left alone (and stay shared).
    gc.freeze()
    try:
        for _ in range(max(1, min(procs, len(tasks)))):
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_work, args=(job, send))
            proc.start()
            send.close()
            workers.append((proc, receive))
    finally:
        gc.unfreeze()
    if on_forked is not None:
        on_forked()
    listening = _Listening(workers, counter, progress)
    for results in listening.until("observed"):
        if observer is not None:
            observer.merge(results)
    if not listening.problems and on_observed is not None:
        on_observed()
    segments = []
    for result in listening.until("segments"):
        segments.extend(result)
    problems = listening.finish()
    written = sum(s.doc_count_all() for s in segments)
    if problems or written != count:
        raise WorkerFailed(f"index writer processes failed ({'; '.join(problems) or 'no error'}); "
                           f"{written} of {count} documents written; nothing was committed")
    return segments


class _Listening:
    """The parent's end of the workers' pipes, read as messages arrive from
    any of them (a worker never waits on a full pipe for the parent to
    read another's): (kind, payload), kind "partial" (the observer's
    results of one segment), "observed" (the last of them), "segments",
    "failed" (payload: the error)."""

    def __init__(self, workers, counter, progress):
        self.workers = dict((receive, proc) for proc, receive in workers)
        self.counter, self.progress, self.shown = counter, progress, 0
        self.problems = []

    def until(self, final):
        """Yield the payloads of "partial" messages and of each live
        worker's `final` one."""
        waiting = set(self.workers)
        while waiting:
            for conn in wait(list(waiting), timeout=0.2):
                try:
                    kind, payload = conn.recv()
                except EOFError:  # the worker died before sending
                    kind, payload = "failed", None
                if kind == "failed":
                    self._failed(conn, payload)
                    waiting.discard(conn)
                    continue
                if kind == final:
                    waiting.discard(conn)
                yield payload
            self._show()

    def _failed(self, conn, message):
        proc = self.workers.pop(conn)
        proc.join()
        self.problems.append(message or f"worker exited with status {proc.exitcode}")

    def _show(self):
        if self.progress is not None:
            done = self.counter.value
            self.progress.items_added(done - self.shown)
            self.shown = done

    def finish(self):
        for proc in self.workers.values():
            proc.join()
            if proc.exitcode != 0:
                self.problems.append(f"worker exited with status {proc.exitcode}")
        self._show()
        return self.problems


@dataclass(frozen=True)
class _Job:
    """What every worker inherits (fork: nothing is pickled)."""

    ix: object
    tasks: object
    documents: object
    taken: object
    counter: object
    parent_pid: int
    observer: object
    segment_bytes: object
    writer_options: dict


def _next_tasks(job):
    """The next task no other worker has taken, until none are left."""
    while True:
        with job.taken.get_lock():
            k = job.taken.value
            job.taken.value = k + 1
        if k >= len(job.tasks):
            return
        yield job.tasks[k]


def _work(job, send):
    die_with_parent(job.parent_pid)
    segments, writer = [], None
    observer = job.observer
    on_document = observer.add if observer is not None else None
    try:
        for task in _next_tasks(job):
            for doc in job.documents(task):
                if writer is None:
                    writer = internals.unlocked_writer(FastSegmentWriter, job.ix,
                                                       on_document=on_document,
                                                       **job.writer_options)
                writer.add_document(**doc)
                with job.counter.get_lock():
                    job.counter.value += 1
                if writer.segment_full(job.segment_bytes):
                    segments.append(internals.finalize_segment(writer))
                    writer = None
                    if observer is not None:  # what it holds stays bounded too
                        send.send(("partial", observer.results()))
                        observer.reset()
    except Exception as e:  # noqa: BLE001 -- named in the parent's error; nothing is committed
        send.send(("failed", f"{type(e).__name__}: {e}"))
        send.close()
        return
    send.send(("observed", observer.results() if observer is not None else ()))
    if writer is not None:
        # The temp folder is shared with the parent's writer, which removes it.
        segments.append(internals.finalize_segment(writer))
    send.send(("segments", segments))
    send.close()


def die_with_parent(parent_pid):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: a worker outliving its parent only wastes CPU
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
