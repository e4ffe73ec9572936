"""Reindex: every item findable, incremental work only, nothing lost."""

import gc
import os
import shutil
import subprocess
import sys
import time

import pytest

from search.index import schema, storage
from search.ingest import reindex as indexer
from search.query import SearchService

from helpers import NEWS_DUMPS, NEWS_ITEMS, search_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def docs(index_dir):
    with storage.open_index(index_dir).searcher() as s:
        return {d["id"]: d for d in s.all_stored_fields()}


N = NEWS_ITEMS  # items of the three news dumps (one of them is in two dumps)
FILES = len(NEWS_DUMPS)


@pytest.fixture
def dumps(tmp_path):
    d = tmp_path / "dumps"
    d.mkdir()
    for path in NEWS_DUMPS:
        shutil.copy(path, d / path.name)
    return d


@pytest.fixture
def index_dir(tmp_path):
    return str(tmp_path / "index")


def write(path, *items):
    path.write_text("\n".join(items) + "\n", encoding="utf-8")


ITEM_A = "米国防長官が欧州訪問 https://t.co/aaa\n— ロイター (@ReutersJapan) February 14, 2025\nヘグセス国防長官が欧州を訪問した。"
ITEM_B = "円相場が反落 https://t.co/bbb\n— NHKニュース (@nhk_news) February 14, 2025\n円相場は一時154円台に下落した。\n#為替(円安)"


def test_items_are_documents_with_all_their_fields(data_index):
    stored = docs(data_index)
    assert len(stored) == N
    bbc = [d for d in stored.values() if d["handle"] == "bbcnewsjapan"]
    assert {d["source"] for d in bbc} == {"BBC News Japan"}
    spy = next(d for d in bbc if "スパイ容疑" in d["headline"])
    assert spy["date"] == "2025-02-19"
    assert spy["urls"] == ["https://t.co/Cs5rW2dJ8e"]
    assert spy["dumps"] == ["2025-02-19.txt"]
    tagged = [d for d in stored.values() if d["tags"]]
    assert any("#米宇(鉱物資源協定)" in d["tags"] for d in tagged)
    # The item collected on both the 17th and the 18th is one document.
    (both,) = [d for d in stored.values() if len(d["dumps"]) > 1]
    assert both["dumps"] == ["2025-02-17.txt", "2025-02-18.txt"]
    assert both["date"] == "2025-02-17" and both["headline"].startswith("ロシアが米国人を釈放")


def test_noop_reindex_reads_nothing(dumps, index_dir):
    first = indexer.reindex(str(dumps), index_dir)
    assert (first.full, first.added, first.files_read) == (True, N, FILES)
    again = indexer.reindex(str(dumps), index_dir)
    assert (again.files_read, again.files_unchanged, again.added, again.removed) == (0, FILES, 0, 0)
    # Touched but unchanged: hashed, not parsed, not rewritten.
    os.utime(dumps / NEWS_DUMPS[1].name)
    touched = indexer.reindex(str(dumps), index_dir)
    assert (touched.files_read, touched.added, touched.updated) == (0, 0, 0)


def test_new_changed_and_removed_dumps(dumps, index_dir):
    indexer.reindex(str(dumps), index_dir)
    write(dumps / "day2.txt", ITEM_A, ITEM_B)
    added = indexer.reindex(str(dumps), index_dir)
    assert (added.files_read, added.added, added.items) == (1, 2, N + 2)

    write(dumps / "day2.txt", ITEM_A)  # item B deleted from the dump
    changed = indexer.reindex(str(dumps), index_dir)
    assert (changed.added, changed.removed, changed.items) == (0, 1, N + 1)
    assert not any(d["headline"] == "円相場が反落" for d in docs(index_dir).values())

    (dumps / "day2.txt").unlink()
    removed = indexer.reindex(str(dumps), index_dir)
    assert (removed.removed, removed.items) == (1, N)


def test_a_reindex_leaves_the_collector_as_it_found_it(dumps, index_dir):
    """The reindex keeps what it reads back out of the cyclic collector's
    walks while it runs (memory.kept_out_of_collection); a process that
    goes on afterwards (a script, the tests) collects as before."""
    indexer.reindex(str(dumps), index_dir)
    write(dumps / "day2.txt", ITEM_A)
    assert indexer.reindex(str(dumps), index_dir).added == 1  # the state read back
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_an_item_in_two_dumps_is_one_document_listing_both(dumps, index_dir):
    write(dumps / "a.txt", ITEM_A, ITEM_B)
    write(dumps / "b.txt", ITEM_A)
    indexer.reindex(str(dumps), index_dir)
    hits = [d for d in docs(index_dir).values() if d["headline"] == "米国防長官が欧州訪問"]
    assert len(hits) == 1 and hits[0]["dumps"] == ["a.txt", "b.txt"]

    (dumps / "a.txt").unlink()  # still in b.txt: kept, with one dump
    summary = indexer.reindex(str(dumps), index_dir)
    assert (summary.updated, summary.removed) == (1, 1)
    hits = [d for d in docs(index_dir).values() if d["headline"] == "米国防長官が欧州訪問"]
    assert len(hits) == 1 and hits[0]["dumps"] == ["b.txt"]
    assert hits[0]["body"] == "ヘグセス国防長官が欧州を訪問した。"


def test_full_rebuild_gives_the_same_index(dumps, index_dir):
    write(dumps / "day2.txt", ITEM_A, ITEM_B)
    indexer.reindex(str(dumps), index_dir)
    before = docs(index_dir)
    full = indexer.reindex(str(dumps), index_dir, full=True)
    assert full.full and full.added == N + 2
    assert docs(index_dir) == before


def test_bad_files_are_named_and_skipped_and_the_rest_indexed(dumps, index_dir):
    (dumps / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)
    (dumps / "notes.txt").write_text("メモ：まだ記事ではない\n", encoding="utf-8")
    (dumps / ".hidden.txt").write_bytes(b"\0\0\0")
    summary = indexer.reindex(str(dumps), index_dir)
    assert summary.added == N
    assert list(summary.skipped) == ["photo.jpg"]
    assert "binary" in summary.skipped["photo.jpg"] or "not text" in summary.skipped["photo.jpg"]
    assert any("notes.txt" in w and "no items" in w for w in summary.warnings)


def test_a_file_that_becomes_unreadable_keeps_its_items(dumps, index_dir):
    write(dumps / "day2.txt", ITEM_A)
    indexer.reindex(str(dumps), index_dir)
    (dumps / "day2.txt").write_bytes(b"\0" * 5000)
    summary = indexer.reindex(str(dumps), index_dir)
    assert "day2.txt" in summary.skipped
    assert summary.items == N + 1 and len(docs(index_dir)) == N + 1


def test_a_second_reindex_is_refused_while_one_runs(dumps, index_dir):
    indexer.reindex(str(dumps), index_dir)
    with indexer._Lock(index_dir):
        with pytest.raises(indexer.ReindexBusy, match="another reindex is running"):
            indexer.reindex(str(dumps), index_dir)
        cli = run_cli("reindex", "--dumps", str(dumps), "--index", index_dir)
        assert cli.returncode == 3 and "another reindex is running" in cli.stderr
    assert indexer.reindex(str(dumps), index_dir).items == N


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "search", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, **kw)


def test_cli_reindex_reports_and_exit_status(dumps, index_dir):
    (dumps / "bad.bin").write_bytes(bytes(range(256)) * 50)
    result = run_cli("reindex", "--dumps", str(dumps), "--index", index_dir)
    assert result.returncode == 1, result.stderr
    # A line per file when not a terminal (the 18th's 12 items count the one
    # it shares with the 17th).
    for name, items in zip([p.name for p in NEWS_DUMPS], (11, 12, 11)):
        assert f"read {name}: {items} items" in result.stderr
    assert "skipped bad.bin:" in result.stderr
    assert f"{N} added" in result.stderr
    stats = run_cli("stats", "--index", index_dir)
    assert stats.returncode == 0
    assert f"{N} items from 3 dumps, 2025-02-17 – 2025-02-19" in stats.stdout
    assert "ロイター" in stats.stdout


def test_cli_mistakes_get_a_message_and_a_hint(tmp_path):
    missing = run_cli("stats", "--index", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "no index in" in missing.stderr and "reindex --dumps" in missing.stderr
    no_dumps = run_cli("reindex", "--dumps", str(tmp_path / "none"), "--index", str(tmp_path / "ix"))
    assert no_dumps.returncode == 2 and "dumps folder not found" in no_dumps.stderr


def test_parallel_writer_indexes_every_item(tmp_path):
    # Enough items to take the two-process path; each must come out once.
    dumps = tmp_path / "many"
    dumps.mkdir()
    items = []
    for n in range(120):
        items.append(f"見出し{n}の記事 https://t.co/x{n}\n— ロイター (@ReutersJapan) February 14, 2025\n"
                     f"本文{n}。ゼレンスキー大統領が{n}回目の会談に臨んだ。")
    write(dumps / "many.txt", *items)
    index_dir = str(tmp_path / "index")
    summary = indexer.reindex(str(dumps), index_dir, parallel_min_docs=50)
    assert summary.added == 120
    assert len(docs(index_dir)) == 120
    assert search_json(SearchService(index_dir), {"q": "ゼレンスキー", "per_page": "1"})["total"] == 120


KILL_SCRIPT = """
import sys
from search.ingest import reindex as indexer
indexer.reindex(sys.argv[1], sys.argv[2], full=True, parallel_min_docs=100)
"""


def test_kill_9_at_any_moment_leaves_the_previous_index_whole(tmp_path, make_index):
    """A full reindex of a few hundred items killed at several moments: the
    previous index keeps answering with every item, and the next reindex
    succeeds without manual clean-up."""
    index_dir = make_index(NEWS_DUMPS, into=tmp_path)
    dumps = tmp_path / "dumps"
    body = "".join(NEWS_DUMPS[0].read_text(encoding="utf-8").splitlines()[4:12])
    items = [f"記事{n} https://t.co/k{n}\n— NHKニュース (@nhk_news) February 14, 2025\n{body}{n}"
             for n in range(400)]
    write(dumps / "big.txt", *items)
    for delay in (0.3, 0.8, 1.5, 2.5, 4.0):
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(dumps), index_dir], cwd=ROOT)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        count = len(docs(index_dir))
        assert count in (N, N + 400), count  # the old index or the new one, never a part
        result = search_json(SearchService(index_dir), {"q": "ペスコフ"})
        assert result["total"] >= 1
    summary = indexer.reindex(str(dumps), index_dir)
    assert summary.items == N + 400
    assert len(docs(index_dir)) == N + 400
    # No worker was left behind holding the lock.
    assert indexer.reindex(str(dumps), index_dir).added == 0


def _index_contents(ix):
    """Everything a reader can see: terms with their postings, stored
    fields, field lengths."""
    with ix.searcher() as s:
        reader = s.reader()
        postings = {(field, btext): _walk(reader.postings(field, btext))
                    for field in reader.indexed_field_names()
                    for btext in reader.lexicon(field)}
        stored = [s.stored_fields(d) for d in range(s.doc_count_all())]
        lengths = [(d, f, reader.doc_field_length(d, f)) for d in range(s.doc_count_all())
                   for f in ("headline", "body")]
    return postings, stored, lengths


def _walk(m):
    out = []
    while m.is_active():
        out.append((m.id(), m.weight(), m.value()))
        m.next()
    return out


def test_fast_writer_writes_what_whooshs_writer_writes(tmp_path):
    """FastSegmentWriter (pool by term, add_document's shortcut for the text
    fields, postings a block at a time) against Whoosh's SegmentWriter."""
    from whoosh.writing import SegmentWriter

    from search.ingest import dumps as dump_parser
    from search.index.codec import ArrayBlockCodec
    from search.ingest.parallel import FastSegmentWriter

    items = {}  # id -> (item, its dumps): the documents reindex would write
    for path in NEWS_DUMPS:
        for item in dump_parser.read_dump(str(path), path.name).items:
            items.setdefault(item.id, (item, set()))[1].add(path.name)
    assert len(items) == N
    contents = []
    for name, writer_class in (("whoosh", SegmentWriter), ("fast", FastSegmentWriter)):
        ix = storage.create(str(tmp_path / name))
        writer = writer_class(ix, codec=ArrayBlockCodec(), compound=False)
        for item, names in items.values():
            writer.add_document(**schema.document(item, names))
        writer.commit()
        contents.append(_index_contents(ix))
    (whoosh_postings, *whoosh_rest), (fast_postings, *fast_rest) = contents
    assert fast_postings.keys() == whoosh_postings.keys()
    for term, expected in whoosh_postings.items():
        assert fast_postings[term] == expected, term
    assert fast_rest == whoosh_rest


def test_written_files_count_their_position_exactly(tmp_path):
    # Segment files are written through storage.WrittenFile, whose tell() is
    # a count, not an lseek: every kind of write Whoosh uses must count.
    from array import array

    files = storage.PreadStorage(str(tmp_path))
    f = files.create_file("probe")
    positions = []
    for write in (lambda: f.write(b"abc"), lambda: f.write_varint(300),
                  lambda: f.write_pickle({"a": [1, 2]}), lambda: f.write_array(array("i", [1, 2, 3])),
                  lambda: f.write_uint(7), lambda: f.write_string("東京".encode())):
        write()
        positions.append(f.tell())
    f.close()
    assert positions[-1] == os.path.getsize(tmp_path / "probe")
    g = files.open_file("probe")
    assert g.get(0, 3) == b"abc" and g.tell() == 0  # one pread, the position left alone
    g.seek(3)
    assert g.read_varint() == 300 and g.tell() == positions[1]
    assert g.read_pickle() == {"a": [1, 2]} and g.tell() == positions[2]
    assert list(g.read_array("i", 3)) == [1, 2, 3] and g.tell() == positions[3]
    g.close()
    with pytest.raises(ValueError):  # closed: never another file's bytes
        g.get(0, 3)
    # A file also read back (Whoosh's compound files) is not counted.
    h = files.create_file("both", mode="w+b")
    h.write(b"abcdef")
    h.seek(0)
    assert h.read(3) == b"abc" and h.tell() == 3
    h.close()
