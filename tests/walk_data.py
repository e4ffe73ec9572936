"""Indexes for the walk tests (cursor paging, export, feed): the sample
dumps of dumps/ (36 items), and synthetic days of many small items, in the
dump layout (as tests/test_everyday.py writes them)."""

import shutil
from datetime import date, timedelta
from pathlib import Path

from search.ingest import reindex

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DUMPS = sorted((ROOT / "dumps").glob("*.txt"))
SAMPLE_ITEMS = 36


def copy_sample(folder, names=None):
    """The sample dumps (all, or those named) copied into folder/dumps."""
    dumps = Path(folder) / "dumps"
    dumps.mkdir(parents=True, exist_ok=True)
    for path in SAMPLE_DUMPS:
        if names is None or path.name in names:
            shutil.copy(path, dumps / path.name)
    return dumps


def build(folder, **options):
    """Index folder/dumps into folder/index; the index directory."""
    folder = Path(folder)
    summary = reindex.reindex(str(folder / "dumps"), str(folder / "index"), **options)
    assert not summary.skipped, summary.skipped
    return str(folder / "index")


def write_items(folder, count, per_day=500, sentences=1, first=date(2024, 1, 1), start=0,
                word="会見"):
    """count items about `word`, per_day a day from `first`, numbered from
    start (so their ids differ), each body `sentences` sentences long; the
    number of items written."""
    dumps = Path(folder) / "dumps"
    dumps.mkdir(parents=True, exist_ok=True)
    k, day = start, first
    while k < start + count:
        n = min(per_day, start + count - k)
        items = []
        for j in range(k, k + n):
            body = "".join(f"第{j}回の{word}で{i}番目の課題を述べた。" for i in range(sentences))
            # A few words per item, so that scores differ (and some tie).
            items.append(f"{word} {j}{' ' + word if j % 3 == 0 else ''} "
                         f"https://t.co/w{j}\n"
                         f"— ロイター (@ReutersJapan) {day:%B} {day.day}, {day.year}\n{body}\n")
        (dumps / f"{day.isoformat()}-{start}.txt").write_text("".join(items), encoding="utf-8")
        k += n
        day += timedelta(days=1)
    return count


_SHARED = {}


def many_items(tmp_path_factory, count=10_500, per_day=3000):
    """An index of count small items about 会見 (past the 10,000 results
    paging reaches), built once a test session and shared: read only."""
    key = (count, per_day)
    if key not in _SHARED:
        folder = tmp_path_factory.mktemp("many")
        write_items(folder, count, per_day=per_day)
        _SHARED[key] = build(folder)
    return _SHARED[key]
