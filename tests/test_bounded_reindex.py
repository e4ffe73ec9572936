"""Reindex in bounded memory: dumps parsed again instead of kept, segments
written out by size, and the same index either way."""

import shutil
import subprocess
import sys

import pytest

from search.index import storage
from search.ingest import documents
from search.ingest import reindex as indexer
from search.query import SearchService

from helpers import NEWS_DUMPS, NEWS_ITEMS, search_json

QUERIES = ("ゼレンスキー", "ウクライナ 停戦", "記事", "ロシア", "会談", "かいだん")  # かいだん: the readings


def _dumps(folder, days=6, per_day=30):
    """The news dumps and days of generated items (the same body in each, so
    that stories form), one file a day."""
    folder.mkdir()
    for path in NEWS_DUMPS:
        shutil.copy(path, folder / path.name)
    for day in range(days):
        items = [f"記事{day}-{n}: ゼレンスキー大統領が会談 https://t.co/d{day}n{n}\n"
                 f"— ロイター (@ReutersJapan) March {day + 1}, 2025\n"
                 f"本文{day}-{n}。ゼレンスキー大統領はロシアとの停戦について{n}回目の会談に臨んだ。"
                 f"ウクライナの復興と鉱物資源の協定も話し合われた。"
                 for n in range(per_day)]
        (folder / f"2025-03-{day + 1:02d}.txt").write_text("\n\n".join(items) + "\n",
                                                            encoding="utf-8")
    return folder


def _answers(index_dir):
    """Every hit of each query, with its score and story: the same set, as
    documents written in another order rank their ties in another order."""
    service = SearchService(index_dir)
    found = {}
    for q in QUERIES:
        hits, page = [], 1
        while True:
            result = search_json(service, {"q": q, "per_page": "100", "page": str(page)})
            hits += [(round(h["score"], 4), h["id"], h["story"]["id"], h["story"]["size"])
                     for h in result["hits"]]
            if page * 100 >= result["total"]:
                break
            page += 1
        found[q] = (result["total"], sorted(hits))
    return found


def _segments(index_dir):
    with storage.open_index(index_dir).reader() as reader:
        return len(list(reader.leaf_readers()))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The dumps, and their index built with the default budget."""
    root = tmp_path_factory.mktemp("bounded")
    folder = _dumps(root / "dumps")
    index_dir = str(root / "reference")
    indexer.reindex(str(folder), index_dir, parallel_min_docs=50)
    return folder, index_dir


def test_dumps_not_kept_are_parsed_again_and_give_the_same_index(reference, tmp_path, monkeypatch):
    folder, reference_dir = reference
    read_again = []
    original = documents._read_again

    def counting(source):
        read_again.append(source.name)
        return original(source)

    monkeypatch.setattr(documents, "_read_again", counting)
    index_dir = str(tmp_path / "index")
    # In this process (so that the count is seen); no dump is kept in memory.
    summary = indexer.reindex(str(folder), index_dir, memory_mb=0, parallel_min_docs=10**6)
    assert summary.added == NEWS_ITEMS + 6 * 30
    assert len(read_again) == len(list(folder.iterdir()))
    assert _answers(index_dir) == _answers(reference_dir)


def test_writers_write_segments_by_size_and_the_index_is_the_same(reference, tmp_path):
    folder, reference_dir = reference
    index_dir = str(tmp_path / "index")
    # 1 MB: each writer's postings reach its share (128 kB) after a few dozen items.
    indexer.reindex(str(folder), index_dir, memory_mb=1, parallel_min_docs=50)
    assert _segments(index_dir) > _segments(reference_dir)
    assert _answers(index_dir) == _answers(reference_dir)


def test_one_writer_process_also_writes_bounded_segments(reference, tmp_path):
    folder, reference_dir = reference
    index_dir = str(tmp_path / "index")
    indexer.reindex(str(folder), index_dir, procs=1, memory_mb=1, parallel_min_docs=50)
    assert _segments(index_dir) > 1
    assert _answers(index_dir) == _answers(reference_dir)


@pytest.mark.parametrize("parallel_min_docs", [10**6, 50], ids=["in-process", "writers"])
def test_a_dump_changed_while_the_index_is_written_is_named_and_nothing_is_lost(
        reference, tmp_path, monkeypatch, parallel_min_docs):
    folder, reference_dir = reference
    dumps = tmp_path / "dumps"
    shutil.copytree(folder, dumps)
    index_dir = str(tmp_path / "index")
    shutil.copytree(reference_dir, index_dir)
    before = _answers(index_dir)
    late = dumps / "2025-03-07.txt"
    late.write_text("新しい記事 https://t.co/late\n— NHKニュース (@nhk_news) March 7, 2025\n"
                    "ゼレンスキー大統領が声明を出した。\n", encoding="utf-8")
    scan = indexer._scan

    def scan_then_edit(*args, **kwargs):
        found = scan(*args, **kwargs)
        with open(late, "a", encoding="utf-8") as f:  # still being written
            f.write("追記された一文。\n")
        return found

    monkeypatch.setattr(indexer, "_scan", scan_then_edit)
    with pytest.raises((indexer.DumpChanged, indexer.WorkerFailed), match="2025-03-07.txt"):
        indexer.reindex(str(dumps), index_dir, memory_mb=0, parallel_min_docs=parallel_min_docs)
    assert _answers(index_dir) == before  # the old generation serves, whole
    monkeypatch.setattr(indexer, "_scan", scan)
    assert indexer.reindex(str(dumps), index_dir).added == 1


def test_cli_refuses_a_budget_too_small_to_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "search", "reindex", "--dumps", str(tmp_path),
                             "--index", str(tmp_path / "ix"), "--memory-mb", "100"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "at least 200 MB" in result.stderr
