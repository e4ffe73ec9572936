"""The merge policy of incremental reindexes (search/index/merging.py): the
number of segments stays bounded over many small commits, no merge holds
more than the cap, deleted documents are purged, and a merged segment holds
exactly what its sources held (stored fields, every posting)."""

import dataclasses
import math

import pytest

from search.index import merging, schema, storage
from search.index.merging import TieredMerge
from search.ingest import background_merge
from search.ingest import reindex as indexer
from search.ingest.dumps import format_item, read_dump
from search.ingest.parallel import FastSegmentWriter, commit_with_segments

from helpers import NEWS_DUMPS, NEWS_ITEMS


def _simulate(policy, commits, docs_each, deletions=None):
    """Segments as (documents, deleted) after each of `commits` commits of
    docs_each new documents, and the live documents of every merge made."""
    segments, merges, history = [], [], []
    for n in range(commits):
        merge, drop = policy.plan(segments)
        live = sum(segments[i][0] - segments[i][1] for i in merge)
        if merge:
            merges.append(live)
        gone = set(merge) | set(drop)
        segments = [s for i, s in enumerate(segments) if i not in gone]
        segments.append((live + docs_each, 0))
        if deletions:
            segments = deletions(n, segments)
        history.append(list(segments))
    return history, merges


def test_a_year_of_daily_commits_keeps_the_segments_bounded_and_every_merge_under_the_cap():
    policy = TieredMerge()
    history, merges = _simulate(policy, 365, 81)
    assert max(merges) <= policy.max_merge_docs
    # Full segments (near the cap) and at most segments_per_tier - 1 in each tier below.
    total = 365 * 81
    tiers_below_cap = policy.tier(policy.max_merge_docs) + 1
    bound = math.ceil(total / (policy.max_merge_docs / 2)) + tiers_below_cap * (
        policy.segments_per_tier - 1)
    assert max(len(h) for h in history) <= bound
    assert sum(d for d, _ in history[-1]) == total


def test_without_a_cap_the_tiers_keep_the_count_logarithmic():
    policy = TieredMerge(max_merge_docs=10**9)
    history, merges = _simulate(policy, 2000, 80)
    tiers = policy.tier(2000 * 80) + 1
    assert max(len(h) for h in history) <= tiers * (policy.segments_per_tier - 1) + 1
    # Merges are of segments of similar sizes: nothing rewrites the whole index daily.
    assert sum(merges) / 2000 < 80 * (tiers + 1)


def test_one_merge_a_commit_never_above_the_cap():
    policy = TieredMerge(segments_per_tier=3, floor_docs=10, max_merge_docs=100)
    sizes = [(90, 0), (95, 0), (99, 0), (30, 0), (31, 0), (32, 0), (10, 0), (11, 0), (12, 0)]
    merge, drop = policy.plan(sizes)
    assert drop == []
    assert merge == [6, 7, 8]  # the lowest full tier first, one merge only
    merge, _ = policy.plan([(90, 0), (95, 0), (99, 0)])
    assert merge == []  # a full tier, but merging it would pass the cap


def test_deleted_documents_are_purged_and_empty_segments_dropped():
    policy = TieredMerge(segments_per_tier=6, floor_docs=10, max_merge_docs=100)
    merge, drop = policy.plan([(80, 20), (50, 1), (40, 40), (500, 300)])
    assert 0 in merge  # a quarter deleted: rewritten without them
    assert 1 not in merge  # 2 % deleted: left alone
    assert drop == [2]  # nothing live: dropped, not rewritten
    assert 3 not in merge  # above the cap: left for a --full rebuild

    def delete_some(n, segments):  # every 7th commit deletes half of the oldest segment
        if n % 7 == 6 and segments[0][0] - segments[0][1] > 1:
            docs, deleted = segments[0]
            segments[0] = (docs, deleted + (docs - deleted) // 2)
        return segments

    history, _ = _simulate(policy, 200, 5, delete_some)
    for before in history[:-1]:
        for docs, deleted in before:
            live = docs - deleted
            # a segment under the cap never keeps more than purge_ratio deleted
            # for longer than one commit (the next commit rewrites it)
            if deleted >= policy.purge_ratio * docs and live <= policy.max_merge_docs:
                assert (docs, deleted) not in history[history.index(before) + 1]


# -- on real segments ------------------------------------------------------

@pytest.fixture(scope="module")
def documents():
    seen, docs = set(), []
    for path in NEWS_DUMPS:
        for item in read_dump(path).items:
            if item.id not in seen:
                seen.add(item.id)
                docs.append(schema.document(item, [path.name]))
    assert len(docs) == NEWS_ITEMS
    return docs


def _commit(index_dir, docs, mergetype, delete_ids=()):
    ix = storage.open_index(index_dir)
    writer = FastSegmentWriter(ix, timeout=5.0)
    for item_id in delete_ids:
        writer.delete_by_term("id", item_id)
    for doc in docs:
        writer.add_document(**doc)
    commit_with_segments(writer, [], mergetype)


def _segments(index_dir):
    return [(s.doc_count_all(), s.deleted_count())
            for s in storage.open_index(index_dir)._segments()]


def _contents(index_dir):
    """Every stored document by id, and every posting as (field, term, id,
    weight, value): what a merge must keep, whatever the document numbers."""
    ix = storage.open_index(index_dir)
    with ix.searcher() as s:
        ids = {docnum: fields["id"] for docnum, fields in s.iter_docs()}
        stored = {fields["id"]: fields for _, fields in s.iter_docs()}
        reader = s.reader()
        postings = set()
        for fieldname, btext in reader.all_terms():
            m = reader.postings(fieldname, btext)
            while m.is_active():
                if m.id() in ids:
                    postings.add((fieldname, btext, ids[m.id()], round(m.weight(), 4),
                                  m.value() or b""))
                m.next()
    return stored, postings


def test_merged_segments_hold_every_document_and_posting(tmp_path, documents):
    fresh, merged = str(tmp_path / "fresh"), str(tmp_path / "merged")
    storage.create(fresh)
    _commit(fresh, documents, None)
    storage.create(merged)
    policy = TieredMerge(segments_per_tier=3, floor_docs=2, max_merge_docs=12)
    counts = []
    for doc in documents:  # one document a commit
        _commit(merged, [doc], policy)
        sizes = _segments(merged)
        counts.append(len(sizes))
        assert max(d for d, _ in sizes) <= policy.max_merge_docs + 1
    assert max(counts) <= 8 and len(_segments(merged)) < len(documents) // 3
    assert _contents(merged) == _contents(fresh)


def test_a_merge_drops_the_deleted_documents(tmp_path, documents):
    index = str(tmp_path / "index")
    storage.create(index)
    no_merge = TieredMerge(segments_per_tier=100)
    for start in range(0, 30, 10):
        _commit(index, documents[start:start + 10], no_merge)
    assert _segments(index) == [(10, 0), (10, 0), (10, 0)]
    gone = [d["id"] for d in documents[10:14]] + [d["id"] for d in documents[20:30]]
    _commit(index, documents[30:], TieredMerge(segments_per_tier=100, floor_docs=2,
                                               max_merge_docs=100), delete_ids=gone)
    sizes = _segments(index)
    # the segment with 4 of 10 deleted was rewritten into the new one, the
    # one with all 10 deleted dropped; the untouched one kept
    assert sorted(sizes) == sorted([(10, 0), (6 + len(documents) - 30, 0)])
    stored, _ = _contents(index)
    assert set(stored) == {d["id"] for d in documents} - set(gone)


# -- in an incremental reindex ------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Recording(TieredMerge):
    """The policy with a small cap, recording each merge's live documents."""

    segments_per_tier: int = 3
    floor_docs: int = 2
    max_merge_docs: int = 8

    def plan(self, sizes):  # in a large reindex's commit, or for a background merge
        merge, drop = super().plan(sizes)
        if merge:
            _MERGES.append(sum(sizes[i][0] - sizes[i][1] for i in merge))
        return merge, drop


_MERGES = []


def test_incremental_reindexes_merge_under_the_cap(tmp_path, monkeypatch, documents):
    monkeypatch.setattr(merging, "TieredMerge", _Recording)
    monkeypatch.setattr(background_merge, "BACKGROUND_MAX_DOCS", _Recording.max_merge_docs)
    _MERGES.clear()
    items = []
    for path in NEWS_DUMPS:
        for item in read_dump(path).items:
            if item.id not in {i.id for i in items}:
                items.append(item)
    dumps, index = tmp_path / "dumps", str(tmp_path / "index")
    dumps.mkdir()
    counts = []
    for day, start in enumerate(range(0, len(items), 2)):  # two items a day
        (dumps / f"day-{day:02d}.txt").write_text(
            "".join(format_item(it) for it in items[start:start + 2]), encoding="utf-8")
        summary = indexer.reindex(str(dumps), index)
        background_merge.wait(index, timeout=60)  # committed by the next reindex
        assert not summary.full or day == 0
        counts.append(len(_segments(index)))
    assert _MERGES and max(_MERGES) <= 8
    assert max(counts) <= 8 and counts[-1] < len(counts)
    assert sum(d - x for d, x in _segments(index)) == len(items)


# -- background merges (search/ingest/background_merge.py) ----------------

def _daily(tmp_path, items, per_day=2):
    """The items written two a day, each day's dump added and reindexed,
    the day's background merge waited for; yields after each reindex
    (dumps folder, index)."""
    dumps, index = tmp_path / "dumps", str(tmp_path / "index")
    dumps.mkdir()
    for day, start in enumerate(range(0, len(items), per_day)):
        (dumps / f"day-{day:02d}.txt").write_text(
            "".join(format_item(it) for it in items[start:start + per_day]), encoding="utf-8")
        indexer.reindex(str(dumps), index)
        background_merge.wait(index, timeout=60)
        yield dumps, index


def _news_items():
    items = []
    for path in NEWS_DUMPS:
        for item in read_dump(path).items:
            if item.id not in {i.id for i in items}:
                items.append(item)
    return items


def _live_ids(index_dir):
    with storage.open_index(index_dir).searcher() as s:
        return sorted(fields["id"] for _, fields in s.iter_docs())


def test_background_merges_keep_every_live_document_once_across_removals(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(merging, "TieredMerge", _Recording)
    monkeypatch.setattr(background_merge, "BACKGROUND_MAX_DOCS", _Recording.max_merge_docs)
    _MERGES.clear()
    items = _news_items()
    for day, (dumps, index) in enumerate(_daily(tmp_path, items)):
        if day % 4 == 3:  # a dump removed: its items deleted from segments a merge may take
            (dumps / f"day-{day - 2:02d}.txt").unlink()
            indexer.reindex(str(dumps), index)
            background_merge.wait(index, timeout=60)
    kept = {it.id for path in dumps.iterdir() for it in read_dump(path).items}
    assert _MERGES and _live_ids(index) == sorted(kept)
    assert len(_segments(index)) < len(list(dumps.iterdir()))
