"""Merges too large for a daily reindex (search/ingest/background_merge.py):
written by a process of their own after a reindex, committed by the next
one; the index keeps every live document once, as a fresh build holds it;
a merge whose sources changed meanwhile, or whose process died, is
discarded; segments being merged are left out of the reindexes' merges."""

import dataclasses
import fcntl
import json
import os

import pytest

from search.index import merging, storage
from search.index.merging import TieredMerge
from search.ingest import background_merge
from search.ingest import reindex as indexer
from search.ingest.dumps import format_item, read_dump

from helpers import NEWS_DUMPS


@dataclasses.dataclass(frozen=True)
class _Small(TieredMerge):
    """The policy at the scale of a test: tiers from 2 documents."""

    segments_per_tier: int = 3
    floor_docs: int = 2
    max_merge_docs: int = 4


@pytest.fixture
def small_policy(monkeypatch):
    monkeypatch.setattr(merging, "TieredMerge", _Small)


def _news_items():
    items, seen = [], set()
    for path in NEWS_DUMPS:
        for item in read_dump(path).items:
            if item.id not in seen:
                seen.add(item.id)
                items.append(item)
    return items


def _write_day(dumps, day, items):
    (dumps / f"day-{day:02d}.txt").write_text("".join(format_item(it) for it in items),
                                              encoding="utf-8")


def _ids(index_dir):
    """Each live document's id and stored fields."""
    with storage.open_index(index_dir).searcher() as s:
        return sorted((fields["id"], fields["headline"], fields["body"])
                      for _, fields in s.iter_docs())


def _segment_ids(index_dir):
    return [s.segment_id() for s in storage.open_index(index_dir)._segments()]


def _search(index_dir, q):
    from search.query import SearchService, parse_request

    found = SearchService(index_dir).search(parse_request({"q": q, "per_page": "100"}))
    return [(h.id, round(h.score, 9)) for h in found.hits]


def test_the_policy_leaves_running_merges_and_replaced_segments_out():
    class Seg:
        def __init__(self, name, docs):
            self.name, self.docs = name, docs

        def segment_id(self):
            return self.name

        def doc_count_all(self):
            return self.docs

        def deleted_count(self):
            return 0

    merged = []
    policy = _Small(exclude=frozenset({"a", "b"}), replaced=frozenset({"c"}))
    original = merging.merge_segments
    try:
        merging.merge_segments = lambda writer, segments: merged.extend(segments)
        kept = policy(None, [Seg(n, 1) for n in "abcdef"])
    finally:
        merging.merge_segments = original
    assert sorted(s.name for s in merged) == ["d", "e", "f"]  # neither a, b (running) nor c
    assert [s.name for s in kept] == ["a", "b"]
    assert background_merge.plan([Seg("x", 1), Seg("y", 1)]) == []  # not yet a tier's three


def test_daily_reindexes_commit_background_merges_and_keep_every_document(tmp_path,
                                                                          small_policy):
    items = _news_items()
    dumps, index = tmp_path / "dumps", str(tmp_path / "index")
    dumps.mkdir()
    committed, most = 0, 0
    for day, start in enumerate(range(0, len(items), 2)):
        _write_day(dumps, day, items[start:start + 2])
        before = set(_segment_ids(index)) if day else set()
        waiting = background_merge.state(index) == "done" if day else False
        indexer.reindex(str(dumps), index)
        if waiting:  # the merge finished since the last reindex: committed by this one
            committed += 1
            assert len(before - set(_segment_ids(index))) >= 2
        assert background_merge.wait(index, timeout=60) in ("none", "done")
        most = max(most, len(_segment_ids(index)))
    assert committed >= 2
    assert not os.path.exists(os.path.join(index, background_merge.STAGING)) or \
        background_merge.state(index) == "done"
    fresh = tmp_path / "fresh"
    indexer.reindex(str(dumps), str(fresh), full=True)
    assert _ids(index) == _ids(str(fresh))
    for q in ("ロシア", "ウクライナ 停戦", "\"大統領\""):
        # The same hits; scores within a percent: a merged segment's total
        # field lengths are summed from the quantized lengths (as any merge).
        found, expected = dict(_search(index, q)), dict(_search(str(fresh), q))
        assert found and found.keys() == expected.keys()
        assert found == pytest.approx(expected, rel=0.02)


def _until_a_merge_is_done(dumps, index, items):
    """Daily reindexes of two items until a background merge is done and
    waits to be committed; the day reached."""
    for day, start in enumerate(range(0, len(items), 2)):
        _write_day(dumps, day, items[start:start + 2])
        indexer.reindex(str(dumps), index)
        if background_merge.wait(index, timeout=60) == "done":
            return day
    raise AssertionError("no background merge was started")


def test_a_merge_whose_sources_lost_documents_is_discarded(tmp_path, small_policy):
    items = _news_items()
    dumps, index = tmp_path / "dumps", str(tmp_path / "index")
    dumps.mkdir()
    day = _until_a_merge_is_done(dumps, index, items)
    merging_now = json.loads((tmp_path / "index" / "merging" / "running.json").read_text())
    (dumps / "day-00.txt").unlink()  # its items are in the oldest segments: the merge's sources
    indexer.reindex(str(dumps), index)
    kept = {it.id for path in dumps.iterdir() for it in read_dump(path).items}
    assert sorted(i for i, *_ in _ids(index)) == sorted(kept)
    # The merge held the deleted items: not committed (its sources' deletions changed).
    assert set(merging_now["sources"]) & set(_segment_ids(index)) or day == 0
    background_merge.wait(index, timeout=60)


def test_a_merge_runs_while_its_lock_is_held_and_is_discarded_once_dead(tmp_path,
                                                                         small_policy):
    items = _news_items()[:6]
    dumps, index = tmp_path / "dumps", str(tmp_path / "index")
    dumps.mkdir()
    for day, start in enumerate(range(0, 4, 2)):
        _write_day(dumps, day, items[start:start + 2])
        indexer.reindex(str(dumps), index)
    folder = tmp_path / "index" / "merging"
    folder.mkdir(exist_ok=True)
    (folder / "running.json").write_text(json.dumps({"sources": _segment_ids(index)}))
    with open(folder / "lock", "w") as held:  # a process holding the lock: running
        fcntl.flock(held, fcntl.LOCK_EX)
        assert background_merge.state(index) == "running"
        assert background_merge.in_flight(index) == set(_segment_ids(index))
    # Its process gone (however: killed, crashed), the lock is free.
    (folder / "MAIN_half.seg").write_bytes(b"half written")
    (folder / "merge.log").write_text("MemoryError\n")
    assert background_merge.state(index) == "dead"
    assert background_merge.in_flight(index) == set()
    _write_day(dumps, 2, items[4:6])
    indexer.reindex(str(dumps), index)
    assert not (folder / "MAIN_half.seg").exists()
    assert (tmp_path / "index" / "merge-failed.log").read_text() == "MemoryError\n"
    kept = {it.id for path in dumps.iterdir() for it in read_dump(path).items}
    assert sorted(i for i, *_ in _ids(index)) == sorted(kept) and len(kept) == 6
    background_merge.wait(index, timeout=60)


def test_a_merge_that_cannot_start_leaves_the_committed_reindex_a_warning(tmp_path,
                                                                           monkeypatch):
    def fail(index_dir, min_postings=None):
        raise OSError("no space left on device")

    monkeypatch.setattr(background_merge, "start", fail)
    items = _news_items()[:4]
    dumps, index = tmp_path / "dumps", str(tmp_path / "index")
    dumps.mkdir()
    _write_day(dumps, 0, items[:2])
    indexer.reindex(str(dumps), index)
    _write_day(dumps, 1, items[2:])
    summary = indexer.reindex(str(dumps), index)
    assert summary.added == 2 and len(_ids(index)) == 4
    assert summary.warnings == ["background merge not started: no space left on device"]
