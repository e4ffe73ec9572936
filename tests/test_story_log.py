"""The stories' state is a log each incremental reindex appends to
(search/index/story_table.py): the stories come out as they do when the
state is written whole every time, after many reindexes, removals, a
reindex killed after appending, and from a file of the older layout."""

import os
import pickle
import shutil
from pathlib import Path

import pytest

from search.index import story_table
from search.index.storage import open_index
from search.ingest import reindex

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "dumps").glob("*.txt"))


def _day(folder, day, per_day=6):
    """A day's dump: items about one event (stories form), one of them a
    copy of the day before's first item, days apart."""
    items = [f"停戦協議{day}-{n}: ゼレンスキー大統領が会談 https://t.co/s{day}n{n}\n"
             f"— ロイター (@ReutersJapan) March {day + 1}, 2025\n"
             f"本文{day}-{n}。ゼレンスキー大統領はロシアとの停戦について{n % 3}回目の会談に臨んだ。"
             f"{'ウクライナの復興' if n % 2 else '鉱物資源の協定'}も話し合われた。"
             for n in range(per_day)]
    (folder / f"2025-03-{day + 1:02d}.txt").write_text("\n\n".join(items) + "\n", encoding="utf-8")


def _generation(index_dir):
    return open_index(index_dir).latest_generation()


def _stories(index_dir):
    """The serving table and the state of the latest generation."""
    g = _generation(index_dir)
    state = story_table.read_state(index_dir, g)
    return story_table.unpacked(story_table.read_serving(index_dir, g)), \
        {k: state[k] for k in ("entries", "df", "source_df", "source_n")}


class Twins:
    """Two indexes of the same dumps, reindexed in step: one appends to its
    log (as reindex does), the other starts its log afresh every time (the
    state written whole, as before the log)."""

    def __init__(self, tmp_path, monkeypatch):
        self.dumps = tmp_path / "dumps"
        self.dumps.mkdir()
        for path in SAMPLES:
            shutil.copy(path, self.dumps / path.name)
        self.log, self.whole = str(tmp_path / "log"), str(tmp_path / "whole")
        self.monkeypatch = monkeypatch

    def reindex(self):
        summaries = [reindex.reindex(str(self.dumps), self.log)]
        with self.monkeypatch.context() as m:
            m.setattr(story_table, "RESTART_MIN", -1)
            m.setattr(story_table, "RESTART_RATIO", -1)
            summaries.append(reindex.reindex(str(self.dumps), self.whole))
        assert _stories(self.log) == _stories(self.whole)
        return summaries[0]


@pytest.fixture
def twins(tmp_path, monkeypatch):
    return Twins(tmp_path, monkeypatch)


def test_many_incremental_reindexes_give_the_stories_of_the_whole_state(twins):
    assert twins.reindex().full
    for day in range(8):
        _day(twins.dumps, day)
        summary = twins.reindex()
        assert not summary.full and summary.added
    (twins.dumps / SAMPLES[1].name).unlink()  # items leave their stories
    (twins.dumps / "2025-03-03.txt").unlink()
    assert twins.reindex().removed
    shutil.copy(SAMPLES[1], twins.dumps / SAMPLES[1].name)  # and come back
    assert twins.reindex().added
    serving, state = _stories(twins.log)
    assert len(serving["ids"]) == len(state["entries"]) == twins.reindex().items
    assert len(set(serving["stories"])) < len(serving["ids"])  # stories formed
    logs = sorted(Path(twins.log).glob("stories-*.log"))
    assert len(logs) == 1  # one log, appended to, not a file a day
    assert len(list(Path(twins.log).glob("stories-*.pickle"))) == 2  # this generation's, the last


def test_a_reindex_killed_after_appending_to_the_log_is_cut_off(twins):
    twins.reindex()
    _day(twins.dumps, 0)
    twins.reindex()
    (log,) = Path(twins.log).glob("stories-*.log")
    with open(log, "ab") as f:  # what a reindex killed before its commit appended
        pickle.dump(((), {"x" * 16: (739000, "x" * 16, "停戦", b"\0\0\x80?", "ロイター")}), f)
        f.write(b"half a rec")
    _day(twins.dumps, 1)
    assert not twins.reindex().full
    assert "x" * 16 not in _stories(twins.log)[1]["entries"]


def test_the_older_layout_is_read_and_a_log_started(twins):
    twins.reindex()
    _day(twins.dumps, 0)
    twins.reindex()
    g = _generation(twins.log)
    serving, state = _stories(twins.log)
    old = dict(state, entries={i: (day, story, tuple(joined.split("\x1f")), weights, source)
                               for i, (day, story, joined, weights, source)
                               in state["entries"].items()})
    with open(story_table.path(twins.log, g), "wb") as f:  # as VERSION 4 wrote it
        pickle.dump((story_table.WHOLE_VERSION, serving), f)
        pickle.dump(old, f)
    for log in Path(twins.log).glob("stories-*.log"):
        log.unlink()
    _day(twins.dumps, 1)
    assert not twins.reindex().full  # the stories were read, not rebuilt
    assert os.path.exists(story_table.log_path(twins.log, g + 1))


def test_a_lost_log_rebuilds_the_index(twins):
    twins.reindex()
    for log in Path(twins.log).glob("stories-*.log"):
        log.unlink()
    _day(twins.dumps, 0)
    summary = reindex.reindex(str(twins.dumps), twins.log)
    assert summary.full and len(_stories(twins.log)[0]["ids"]) == summary.items


def test_a_file_with_its_serving_table_as_lists_is_served_and_continued(twins):
    """VERSION 6 kept the serving table as lists: a server reads its
    stories, and the next daily reindex goes on from it (and packs it)."""
    from search.query import SearchService

    twins.reindex()
    _day(twins.dumps, 0)
    twins.reindex()
    g = _generation(twins.log)
    with open(story_table.path(twins.log, g), "rb") as f:
        parts = [pickle.load(f) for _ in range(3)]
    lists = story_table.unpacked(parts[1])
    assert isinstance(parts[1]["ids"], bytes) and isinstance(lists["ids"], list)
    with open(story_table.path(twins.log, g), "wb") as f:  # as VERSION 6 wrote it
        for part in ((6, parts[0][1]), lists, parts[2]):
            pickle.dump(part, f)
    s = SearchService(twins.log).searcher()
    served = SearchService(twins.log).stories(s)
    assert max(served.sizes) > 1 and (served.codes >= 0).all()
    _day(twins.dumps, 1)
    assert not twins.reindex().full  # the stories were read, not rebuilt
    serving, state = _stories(twins.log)
    assert len(serving["ids"]) == len(state["entries"])
    assert isinstance(story_table.read_serving(twins.log, _generation(twins.log))["ids"], bytes)


def test_a_log_is_written_in_records_and_the_states_strings_are_left_as_they_were(
        tmp_path, monkeypatch):
    """A log's entries are written LOG_RECORD at a time, and not from the
    state's own strings: pickle leaves a UTF-8 copy inside each str it
    writes, which would stay in the state for the rest of the reindex."""
    import sys

    monkeypatch.setattr(story_table, "LOG_RECORD", 3)
    entries = {f"{k:016d}": (739000 + k, f"{k:016d}", "停戦\x1f会談" * (k + 1), b"\0\0\x80?",
                             "ロイター") for k in range(8)}
    sizes = [sys.getsizeof(entry[2]) for entry in entries.values()]
    state = {"df": {"停戦": 8}, "source_df": {}, "source_n": {}, "log": None, "live": 8,
             "removed": [], "added": dict(entries), "entries": lambda: entries}
    story_table.write(str(tmp_path), 1, {"ids": [], "stories": [], "names": []}, state)
    assert [sys.getsizeof(entry[2]) for entry in entries.values()] == sizes
    read = story_table.read_state(str(tmp_path), 1)
    assert read["entries"] == entries and list(read["entries"]) == list(entries)
    records = []
    with open(tmp_path / "stories-1.log", "rb") as f:
        while f.tell() < os.path.getsize(f.name):
            records.append(len(pickle.load(f)[1]))
    assert records == [3, 3, 2]
