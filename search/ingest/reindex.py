"""Reindex: bring the index in line with the dump files.

Incremental by default: a file whose size and mtime match the manifest is not
read; a file whose bytes hash the same is not parsed. Items are identified by
their content (``Item.id``), so an item present in several dumps is one
document listing them all, and it disappears only when no dump holds it.

Safety: one reindex at a time (an fcntl lock, released by the kernel even on
``kill -9``); the manifest of generation N+1 is written before the Whoosh
commit that makes N+1, and that commit is atomic (the TOC file is renamed into
place), so readers see the old index or the new one, never a half-built one.
"""

import errno
import fcntl
import gc
import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from whoosh import writing

from .. import analysis, memory, readings, userdict
from ..index import manifest as manifests
from ..index import merging, posting_arrays, schema, storage, story_table
from . import background_merge, documents, stories
from .documents import DumpChanged  # noqa: F401 -- raised through reindex()
from .dumps import DumpError, iter_dump_files, parse_bytes
from .parallel import (  # noqa: F401
    FastSegmentWriter,
    WorkerFailed,
    commit_with_segments,
    write_segments,
)

# Below this many new documents, forking writer processes costs more than it saves.
PARALLEL_MIN_DOCS = 2000
# What a reindex may take, its processes together (Writing.memory_mb): the
# share of it the scan keeps parsed dumps in (the rest are parsed again by
# the writer that takes them), and each writer's postings before it writes a
# segment out; the rest is the processes themselves (Python, Sudachi's
# dictionary, the state of the stories: see docs/performance.md).
MEMORY_MB = 1500
KEEP_SHARE = 0.05  # each writer maps what the parent holds when it forks: kept small
SEGMENT_SHARE = 0.2


class ReindexBusy(Exception):
    """Another reindex holds the index."""


@dataclass
class Summary:
    files_read: int = 0
    files_unchanged: int = 0
    skipped: dict = field(default_factory=dict)  # file name -> reason
    warnings: list = field(default_factory=list)
    added: int = 0
    updated: int = 0
    removed: int = 0
    items: int = 0
    full: bool = False
    seconds: float = 0.0

    def lines(self):
        yield (f"{'full' if self.full else 'incremental'} reindex: "
               f"{self.files_read} files read, {self.files_unchanged} unchanged, "
               f"{len(self.skipped)} skipped; items: {self.added} added, "
               f"{self.updated} updated, {self.removed} removed, "
               f"{self.items} in the index; {self.seconds:.1f} s")
        for name, reason in sorted(self.skipped.items()):
            yield f"skipped {name}: {reason}"
        for warning in self.warnings:
            yield f"warning: {warning}"


class _Lock:
    """An exclusive, non-blocking flock on index_dir/.reindex.lock."""

    def __init__(self, index_dir):
        os.makedirs(index_dir, exist_ok=True)
        self.path = os.path.join(index_dir, ".reindex.lock")
        self.fd = None

    def __enter__(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise ReindexBusy(
                    "another reindex is running on this index; "
                    "wait for it to finish and run reindex again") from None
            raise
        self.fd = fd
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the flock


def _scan(dumps_dir, old_files, summary, progress, keep_bytes=None):
    """Compare the dump files with the manifest. Returns (files, changed):
    the manifest entries of the new state, and the files that changed
    (documents.ChangedDump: parsed while the kept ones' bytes stay within
    keep_bytes, None: all kept)."""
    files, parsed, kept = {}, {}, 0
    for name, path in iter_dump_files(dumps_dir):
        old = old_files.get(name)
        try:
            st = os.stat(path)
        except OSError as e:
            _skip(summary, name, old, files, f"cannot read: {e.strerror}")
            continue
        if old and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
            files[name] = old
            summary.files_unchanged += 1
            continue
        try:
            with open(path, "rb") as f:
                data = f.read()
            after = os.stat(path)
        except OSError as e:
            _skip(summary, name, old, files, f"cannot read: {e.strerror}")
            continue
        if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns) \
                or len(data) != st.st_size:
            _skip(summary, name, old, files,
                  "the file changed while it was read (still being written?); "
                  "it will be read by the next reindex")
            continue
        sha1 = hashlib.sha1(data).hexdigest()
        entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha1": sha1}
        if old and old["sha1"] == sha1:
            files[name] = dict(old, **entry)
            summary.files_unchanged += 1
            continue
        try:
            dump = parse_bytes(data, name)
        except DumpError as e:
            _skip(summary, name, old, files, str(e))
            continue
        summary.files_read += 1
        summary.warnings.extend(f"{name}: {w}" for w in dump.warnings)
        if not dump.items:
            summary.warnings.append(f"{name}: no items (no attribution line found)")
        entry.update(label=dump.label, encoding=dump.encoding,
                     items=[item.id for item in dump.items])
        files[name] = entry
        keep = keep_bytes is None or kept + len(data) <= keep_bytes
        kept += len(data) if keep else 0
        parsed[name] = documents.ChangedDump(name, str(path), sha1, len(data), entry["items"],
                                           dump if keep else None)
        progress.file_read(name, len(dump.items))
    return files, parsed


def _skip(summary, name, old, files, reason):
    """A file that cannot be read now keeps what it had in the index: losing
    items because a file is mid-copy or unreadable would be worse."""
    summary.skipped[name] = reason
    if old:
        files[name] = old


def _membership(files):
    """item id -> the names of the dump files holding it, sorted (a tuple:
    a set would take four times the memory, for a decade's items)."""
    members = {}
    for name in sorted(files):
        for item_id in files[name].get("items", ()):
            found = members.get(item_id)
            if found is None:
                members[item_id] = (name,)
            elif found[-1] != name:  # twice in one file: once
                members[item_id] = found + (name,)
    return members


def _open(index_dir, full):
    """The index and its current manifest; (index, None) when it must be
    rebuilt from scratch."""
    if not storage.exists(index_dir):
        return storage.create(index_dir), None
    ix = storage.open_index(index_dir)
    manifest = None if full else manifests.read_manifest(index_dir, ix.latest_generation())
    if manifest is not None and not story_table.readable(index_dir, ix.latest_generation()):
        manifest = None  # no stories beside it (killed between the two writes?): rebuilt
    return ix, manifest


@dataclass(frozen=True)
class Writing:
    """How new documents are written: procs writer processes once there
    are parallel_min_docs of them (fewer: in this process); terms of
    min_postings documents or more kept in the posting arrays."""

    procs: int = 2
    parallel_min_docs: int = PARALLEL_MIN_DOCS
    min_postings: int = posting_arrays.MIN_POSTINGS
    memory_mb: int = MEMORY_MB

    @property
    def keep_bytes(self):
        return int(self.memory_mb * KEEP_SHARE * 2**20)

    @property
    def segment_bytes(self):
        return int(self.memory_mb * SEGMENT_SHARE * 2**20 / max(1, self.procs))


def reindex(dumps_dir, index_dir, full=False, progress=None, procs=2, user_dict=None,
            **settings):
    """Bring index_dir in line with dumps_dir. Returns a Summary.
    Raises ReindexBusy when another reindex holds the index. settings: the
    other settings of Writing (parallel_min_docs, min_postings, memory_mb; None:
    the default). user_dict:
    a user-dictionary CSV (search/userdict.py; None: Sudachi's alone),
    checked and compiled before the index is touched (UserDictError names
    file, line and reason; the old generation keeps serving)."""
    settings = Writing(procs=procs, **{k: v for k, v in settings.items() if v is not None})
    started = time.perf_counter()
    progress = progress or Progress(enabled=False)
    if not os.path.isdir(dumps_dir):
        raise FileNotFoundError(f"dumps folder not found: {dumps_dir}")
    compiled, user_sha = userdict.compile_csv(user_dict) if user_dict else (None, None)
    vocabulary = (compiled, userdict.fingerprint(user_sha))
    with _Lock(index_dir), memory.collected_again_after():
        ix, manifest = _open(index_dir, full)
        why = _analysis_changed(manifest, vocabulary[1])
        manifest = None if why else manifest
        summary = Summary(full=manifest is None)
        if why:
            summary.warnings.append(f"{why}: rebuilt in full")
        analysis.use_user_dictionary(compiled)  # what this process analyses with from now on
        older = None if full else manifests.other_schema(index_dir, ix.latest_generation())
        if older is not None:
            summary.warnings.append(
                f"the index was written by another version of the indexer (schema {older}, "
                f"now {schema.SCHEMA_VERSION}): rebuilt in full")
        old_files = manifest["files"] if manifest else {}
        files, changed = _scan(dumps_dir, old_files, summary, progress, settings.keep_bytes)
        with memory.kept_out_of_collection():  # every item's dumps, kept to the end
            old_members, new_members = _membership(old_files), _membership(files)
        gone = old_members.keys() - new_members.keys()
        moved = {i for i in new_members.keys() & old_members.keys()
                 if new_members[i] != old_members[i]}  # into or out of dumps
        fresh = new_members.keys() - old_members.keys()
        summary.added, summary.updated, summary.removed = len(fresh), len(moved), len(gone)
        summary.items = len(new_members)
        if manifest is not None and not (gone or moved or fresh):
            if files != old_files:  # touched files: remember their new mtimes
                manifests.write_manifest(index_dir, ix.latest_generation(), _manifest(manifest, files))
        else:
            def story_state():  # the stories before, without the items that left
                with memory.kept_out_of_collection():  # kept to the end
                    state = stories.StoryState() if summary.full else stories.from_plain(
                        story_table.read_state(index_dir, ix.latest_generation()))
                state.remove(gone)  # the moved keep their stories
                return state

            tasks, count = documents.plan(changed, fresh | moved,
                                          _stored_documents(ix, changed, fresh | moved, new_members))
            _write(ix, index_dir, (tasks, count, new_members), gone | moved, files, summary.full,
                   progress, settings, story_state, vocabulary)
            if not summary.full:
                try:  # optional: the reindex has committed whatever happens here
                    background_merge.start(index_dir, settings.min_postings)
                except Exception as e:  # noqa: BLE001 -- the next reindex plans it again
                    summary.warnings.append(f"background merge not started: {e}")
        progress.close()
        summary.seconds = time.perf_counter() - started
        return summary


def _manifest(old, files, analysis_state=None):
    return {"files": files,
            "indexed_at": (old or {}).get("indexed_at") or _now(),
            "analysis": analysis_state or (old or {}).get("analysis")}


def _analysis_changed(manifest, now):
    """Why the generation's analysis is not the one asked for (its words
    would be cut otherwise), or None. A manifest from before fingerprints
    were kept was analysed with Sudachi's dictionary alone."""
    if manifest is None:
        return None
    before = manifest.get("analysis") or userdict.fingerprint(None)
    if before.get("user_dict") != now["user_dict"]:
        if before.get("user_dict") is None:
            return "a user dictionary is now used"
        return "the user dictionary changed" if now["user_dict"] else \
            "the user dictionary is no longer used"
    if before.get("sudachidict_core") != now["sudachidict_core"]:
        return (f"sudachidict-core changed ({before.get('sudachidict_core')} → "
                f"{now['sudachidict_core']})")
    if before.get("analyzer") != now["analyzer"]:
        return "the analyzer's settings changed"
    return None


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _stored_documents(ix, changed, wanted, members):
    """The Whoosh documents of the wanted ids in no changed dump (an item
    whose list of dumps changed, in dumps not read), from the stored fields
    of the index."""
    wanted = set(wanted)
    for source in changed.values():
        wanted.difference_update(source.ids)
    if not wanted:
        return []
    found = []
    with ix.searcher() as s:
        for item_id in sorted(wanted):
            stored = s.document(id=item_id)
            if stored is not None:
                found.append(schema.stored_document(stored, members[item_id]))
    return found


def _write(ix, index_dir, work, delete_ids, files, full, progress, settings, read_stories,
           vocabulary=(None, None)):
    """Write the documents of work (documents.plan's tasks, their count, and
    each item's dumps) and delete delete_ids in one commit; group the new
    items into stories (read_stories(): the stories before, then updated)
    and write the stories and the manifest of the new generation before
    committing it. An incremental reindex commits the background merge
    finished since the last one, and starts the next (background_merge.py)."""
    tasks, count, members = work
    before = ix.latest_generation()
    progress.start(count)
    collector = _Analyzed()
    writer = FastSegmentWriter(ix, timeout=5.0, on_document=collector.add,
                               min_postings=settings.min_postings)

    def task_documents(task):
        return documents.documents(task, members)

    try:
        if not full:
            for item_id in delete_ids:
                writer.delete_by_term("id", item_id)
        # Forked writers from parallel_min_docs documents, even with procs=1:
        # they write segments of bounded size, the in-process writer one segment.
        parallel = count >= settings.parallel_min_docs
        # A background merge finished since the last reindex is committed
        # with this one (checked after its deletions); one still running
        # keeps its segments out of a large reindex's own merge.
        finished, replaced = ([], set()) if full else background_merge.collect(index_dir, writer)
        busy = frozenset(replaced | background_merge.in_flight(index_dir))
        story_state = read_stories()
        if parallel:  # the writers inherit the loaded dictionary instead of each loading it
            analysis.load()
        generation = writer.generation

        def group():  # the new items' stories and words, from the writers' analysis
            story_state.add(collector.stories.take())
            readings.update(index_dir, generation, None if full else before, collector.vocabulary)
            story_table.write(index_dir, generation, stories.serving_table(story_state),
                              stories.to_plain(story_state))

        segments = write_segments(ix, tasks, task_documents, count, settings.procs, progress,
                                  collector, group, settings.segment_bytes,
                                  lambda: _release(tasks, members),
                                  min_postings=settings.min_postings) if parallel else []
        if not parallel:
            for task in tasks:
                for doc in task_documents(task):
                    writer.add_document(**doc)
                    progress.items_added(1)
            group()
        compiled, analysis_state = vocabulary
        if analysis_state is not None:  # the dictionary beside the manifest that names it
            analysis_state = dict(analysis_state, user_dict_file=userdict.store(
                index_dir, analysis_state["user_dict"], compiled) if compiled else None)
        manifests.write_manifest(index_dir, generation, _manifest(None, files, analysis_state))
        progress.committing()
        if full:
            commit_with_segments(writer, segments, writing.CLEAR)
        elif not parallel:  # a daily reindex: no merge of its own
            commit_with_segments(writer, finished, merging.MergedElsewhere(frozenset(replaced)))
        else:  # a large one merges its own segments, as a full build would not leave them
            # (at the default floor: its segments are large; the background
            # merges that follow use their own, higher, floor)
            commit_with_segments(writer, segments + finished, merging.TieredMerge(
                exclude=busy, replaced=frozenset(replaced)))
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise
    # The dictionaries first: the generation before's manifest names the one it kept.
    userdict.drop_old(index_dir, keep=(analysis_state or {}).get("user_dict_file"), before=before)
    manifests.drop_old_manifests(index_dir, keep=generation)
    story_table.drop_old(index_dir, keep=generation)
    readings.drop_old(index_dir, keep=generation)
    if replaced:  # committed: its staged copy goes
        background_merge.discard(index_dir)


def _release(tasks, members):
    """Once the writers are forked, the parent lets go of what only they
    need: the parsed dumps kept by the scan, the tasks, each item's dumps
    (the manifest has them). Freed memory is given back to the system
    (malloc_trim), so that the parent's pages no longer count in what the
    reindex takes while the writers work."""
    for task in tasks:
        if task.source is not None:
            task.source.dump = None
    tasks.clear()
    members.clear()
    gc.collect()
    memory.trim_malloc()


class _Analyzed:
    """What reindex keeps of the writers' analysis (the writers' observer):
    the new items' story terms and their vocabulary's readings."""

    def __init__(self):
        self.stories, self.vocabulary = stories.Collector(), readings.Vocabulary()

    def add(self, fields, analyzed):
        self.stories.add(fields, analyzed)
        self.vocabulary.add(fields, analyzed)

    def results(self):
        return self.stories.results(), self.vocabulary.results()

    def reset(self):
        self.stories, self.vocabulary = stories.Collector(), readings.Vocabulary()

    def merge(self, results):
        self.stories.merge(results[0])
        self.vocabulary.merge(results[1])


class Progress:
    """Progress of a reindex: a bar on a terminal (tqdm), a line per file
    otherwise, nothing when disabled."""

    def __init__(self, enabled=True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.bar = None
        self.tty = enabled and self.stream.isatty()

    def file_read(self, name, items):
        if self.enabled and not self.tty:
            print(f"read {name}: {items} items", file=self.stream, flush=True)

    def start(self, total):
        if self.tty and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=" items", file=self.stream,
                            dynamic_ncols=True, desc="indexing")

    def items_added(self, n):
        if self.bar is not None and n:
            self.bar.update(n)

    def committing(self):
        if self.bar is not None:
            self.bar.set_description("committing")
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
