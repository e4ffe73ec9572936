"""Attention over time: how many items match a query in each day, week or
month, against how many were collected then under the same filters (as
GDELT's and Media Cloud's timelines normalise coverage), by source too."""

from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np

from .errors import BadRequest


@dataclass(frozen=True)
class Bucket:
    start: str  # YYYY-MM-DD
    count: int
    total: int

    @property
    def share(self):
        return self.count / self.total if self.total else 0.0


@dataclass(frozen=True)
class Timeline:
    request: object
    interval: str
    buckets: tuple
    sources: dict  # {source name: (count per bucket, ...)}


def bucket_start(day, interval):
    """The first day of the day's bucket: the day, its week's Monday, its month's first."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def buckets_between(first, last, interval):
    """How many buckets of interval from first's to last's (both included)."""
    if interval == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return (last - first).days // (7 if interval == "week" else 1) + 1


def next_start(start, interval):
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


MAX_BUCKETS = 10000  # ~27 years of days; a longer range asks for a coarser interval


def timeline(service, request, interval):
    """The Timeline of a SearchRequest (its query optional) by interval."""
    s = service.searcher()
    if not s.doc_count_all():  # an empty index: nothing to count
        return Timeline(request, interval, (), {})
    found = service.select(s, request)
    everything = service.select(s, replace(request, q="", groups=()))
    column = service.columns.get(s, "date")
    sources = service.columns.get(s, "source")
    days = [date.fromisoformat(v) for v in column.values]
    starts = [bucket_start(d, interval) for d in days]
    filters = request.filters
    known = [d for d, n in zip(days, _per_value(column, everything.docnums)) if n]
    if not known and not (filters.date_from and filters.date_to):
        return Timeline(request, interval, (), {})
    first = bucket_start(filters.date_from or min(known), interval)
    last = bucket_start(filters.date_to or max(known), interval)
    if buckets_between(first, last, interval) > MAX_BUCKETS:
        raise BadRequest("invalid_parameter",
                         f"期間が長すぎます（{interval} で {MAX_BUCKETS} 区間まで）。"
                         "interval=week か month を指定するか、from と to を狭めてください")
    if last >= date.max - timedelta(days=31):  # a bucket's end would pass the calendar's
        raise BadRequest("invalid_parameter", "to は 9999-11-30 以前の日付にしてください")
    slots = []
    while first <= last:
        slots.append(first)
        first = next_start(first, interval)
    slot_of = {start: k for k, start in enumerate(slots)}
    value_slot = np.array([slot_of.get(start, -1) for start in starts], dtype=np.int64)
    counts = _by_slot(value_slot, _per_value(column, found.docnums), len(slots))
    totals = _by_slot(value_slot, _per_value(column, everything.docnums), len(slots))
    buckets = tuple(Bucket(start.isoformat(), int(c), int(t))
                    for start, c, t in zip(slots, counts, totals))
    return Timeline(request, interval, buckets, _by_source(found.docnums, column, sources,
                                                           value_slot, len(slots)))


def _per_value(column, docnums):
    if docnums is None or not len(column.values):
        return np.zeros(len(column.values), dtype=np.int64)
    return np.bincount(column.codes[docnums], minlength=len(column.values))


def _by_slot(value_slot, per_value, n):
    keep = value_slot >= 0
    return np.bincount(value_slot[keep], weights=per_value[keep], minlength=n).astype(np.int64)


def _by_source(docnums, column, sources, value_slot, n):
    if docnums is None or not len(docnums):
        return {}
    slot = value_slot[column.codes[docnums]]
    keep = slot >= 0
    source = sources.codes[docnums][keep]
    flat = np.bincount(source * n + slot[keep], minlength=len(sources.values) * n)
    grid = flat.reshape(len(sources.values), n)
    totals = grid.sum(axis=1)
    order = sorted(np.flatnonzero(totals).tolist(), key=lambda k: (-totals[k], sources.values[k]))
    return {sources.values[k]: tuple(int(x) for x in grid[k]) for k in order}
