"""Group items into stories: the same event, from any sources, within a few
days; wire copies and near-duplicates always together.

An item is represented by what it is about, as news clustering has done
since TDT: the content nouns (common and proper, from Sudachi's part of
speech) of its headline (twice) and of its lead (the first LEAD_CHARS
characters of its body), weighted by tf-idf. A headline that is mostly
Latin script (a post in English whose body is its Japanese translation) is
left out: its words are shared by no Japanese report of the same event.
Two items are as similar as the cosine of their vectors.

Items are taken in date order (then id); each joins the story of the most
similar item dated within WINDOW_DAYS of it, if that similarity reaches
JOIN, else it starts a story of its own (named by its id). An item at least
NEAR_DUPLICATE similar to any item, whatever their dates, joins that item's
story: found through a 64-bit SimHash of the vector, with bands that every
pair within NEAR_BITS bits shares. docs/stories.md measures the choices on
the seed and the sample dumps.

Incremental: the state (every item's vector, date, story, SimHash, and the
document frequencies) is kept beside the index (search/index/story_table.py);
a reindex assigns only its new items, comparing them with the state, and
removes the items that left. The terms come from the writers' own analysis
(search/ingest/parallel.py), so grouping tokenizes nothing again.
"""

import math
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .. import analysis

LEAD_CHARS = 300
HEADLINE_WEIGHT = 2
WINDOW_DAYS = 3
JOIN = 0.2
NEAR_DUPLICATE = 0.8
NEAR_BITS = 3
_BANDS = NEAR_BITS + 1  # pigeonhole: two hashes within 3 bits agree on one of 4 bands
_LATIN = re.compile(r"[A-Za-z]")


def _mostly_latin(text):
    return len(_LATIN.findall(text)) > len(text) * 0.5


def _usable(form):
    return len(form) > 1 and not form.isdigit() and analysis.is_content_noun(form)


def story_terms(headline, headline_words, body_words):
    """((term, count), ...) of an item from the analyzer's postings of its
    headline and body ({form: array of (position, start, end)})."""
    counts = {}
    if headline_words and not (_mostly_latin(headline) and body_words):
        for form, a in headline_words.items():
            if _usable(form):
                counts[form] = HEADLINE_WEIGHT * (len(a) // 3)
    for form, a in (body_words or {}).items():
        if _usable(form):
            n = sum(1 for k in range(1, len(a), 3) if a[k] < LEAD_CHARS)
            if n:
                counts[form] = counts.get(form, 0) + n
    return tuple(counts.items())


@dataclass
class Entry:
    """One item of the state."""

    date: int  # date ordinal
    story: str
    vector: tuple  # ((term, weight), ...), unit length
    simhash: int


@dataclass
class StoryState:
    """Every item's entry, by item id, and the document frequency of each
    term over the items' term sets (for idf)."""

    entries: dict = field(default_factory=dict)
    df: dict = field(default_factory=dict)

    def remove(self, item_ids):
        """Items that left the index leave their stories."""
        for item_id in item_ids:
            entry = self.entries.pop(item_id, None)
            if entry is not None:
                for term, _ in entry.vector:
                    n = self.df.get(term, 0) - 1
                    if n > 0:
                        self.df[term] = n
                    else:
                        self.df.pop(term, None)

    def add(self, items):
        """Assign stories to new items: [(item id, date ordinal, terms)].
        Items already in the state keep their story. Returns how many
        started a story of their own."""
        items = sorted((i for i in items if i[0] not in self.entries), key=lambda i: (i[1], i[0]))
        for _, _, terms in items:
            for term, _ in terms:
                self.df[term] = self.df.get(term, 0) + 1
        total = len(self.entries) + len(items)
        vectors = [_weigh(terms, self.df, total) for _, _, terms in items]
        grouping = _Grouping(self, items)
        started = 0
        for (item_id, day, _), vector in zip(items, vectors):
            story = grouping.story_for(item_id, day, vector)
            if story is None:
                story, started = item_id, started + 1
            entry = Entry(day, story, vector, _simhash(vector))
            self.entries[item_id] = entry
            grouping.admit(item_id, entry)
        return started


def _weigh(terms, df, total):
    weights = [(t, (1 + math.log(n)) * math.log(1 + total / df[t])) for t, n in terms]
    norm = math.sqrt(sum(w * w for _, w in weights)) or 1.0
    return tuple(sorted(((t, w / norm) for t, w in weights), key=lambda tw: -tw[1]))


_BITS = np.arange(64, dtype=np.uint64)


def _simhash(vector):
    """Charikar's SimHash of a weighted vector: bit b is set where the
    weights of the terms whose hash has bit b outweigh the others'."""
    if not vector:
        return 0
    hashes = np.array([zlib.crc32(t.encode("utf-8")) | zlib.crc32(t.encode("utf-8"), 1) << 32
                       for t, _ in vector], dtype=np.uint64)
    weights = np.array([w for _, w in vector])
    set_bits = (hashes[:, None] >> _BITS) & np.uint64(1)
    sums = weights @ np.where(set_bits == 1, 1.0, -1.0)
    return int(np.sum(np.left_shift(np.uint64(1), _BITS[sums > 0]), dtype=np.uint64))


def _bands(simhash):
    width = 64 // _BANDS
    return [(b, simhash >> (b * width) & ((1 << width) - 1)) for b in range(_BANDS)]


class _Grouping:
    """The items a new item is compared with: those dated within the window
    of any new item (an inverted index of their vectors), and every item's
    SimHash bands for near-duplicates."""

    def __init__(self, state, items):
        self.state = state
        self.by_term = defaultdict(list)  # term: [(item id, weight)]
        self.bands = defaultdict(list)  # (band, value): [item id]
        days = {day for _, day, _ in items}
        near = {d + k for d in days for k in range(-WINDOW_DAYS, WINDOW_DAYS + 1)}
        for item_id, entry in state.entries.items():
            for key in _bands(entry.simhash):
                self.bands[key].append(item_id)
            if entry.date in near:
                self._index(item_id, entry)

    def _index(self, item_id, entry):
        for term, weight in entry.vector:
            self.by_term[term].append((item_id, weight))

    def admit(self, item_id, entry):
        self._index(item_id, entry)
        for key in _bands(entry.simhash):
            self.bands[key].append(item_id)

    def story_for(self, item_id, day, vector):
        entries = self.state.entries
        scores = defaultdict(float)
        for term, weight in vector:
            for other, w in self.by_term.get(term, ()):
                scores[other] += weight * w
        best, best_score = None, 0.0
        for other, score in scores.items():
            if abs(entries[other].date - day) <= WINDOW_DAYS and (
                    score > best_score or (score == best_score and best is not None and other < best)):
                best, best_score = other, score
        if best is not None and best_score >= JOIN:
            return entries[best].story
        return self._near_duplicate(vector)

    def _near_duplicate(self, vector):
        simhash = _simhash(vector)
        entries = self.state.entries
        seen = set()
        for key in _bands(simhash):
            for other in self.bands.get(key, ()):
                if other in seen:
                    continue
                seen.add(other)
                entry = entries[other]
                if bin(entry.simhash ^ simhash).count("1") <= NEAR_BITS and \
                        _cosine(vector, entry.vector) >= NEAR_DUPLICATE:
                    return entry.story
        return None


def _cosine(a, b):
    weights = dict(b)
    return sum(w * weights.get(t, 0.0) for t, w in a)


def to_plain(state):
    """The state as plain data (search/index/story_table.py stores it)."""
    return {"entries": {i: (e.date, e.story, e.vector, e.simhash) for i, e in state.entries.items()},
            "df": state.df}


def from_plain(plain):
    if not plain:
        return StoryState()
    return StoryState({i: Entry(*e) for i, e in plain["entries"].items()}, dict(plain["df"]))


def serving_table(state):
    """What the server needs: each item's story, as item ids (sorted) and
    story numbers, with the stories' ids."""
    ids = sorted(state.entries)
    names = sorted({state.entries[i].story for i in ids})
    number = {name: k for k, name in enumerate(names)}
    return {"ids": ids, "stories": [number[state.entries[i].story] for i in ids], "names": names}


class Collector:
    """Each written document's story terms, from the writers' analysis
    (FastSegmentWriter's on_document; write_segments' observer)."""

    def __init__(self):
        self.items = []

    def add(self, fields, analyzed):
        if "id" in fields and "date" in fields:
            day = date.fromisoformat(fields["date"]).toordinal()
            self.items.append((fields["id"], day, story_terms(
                fields.get("headline") or "", analyzed.get("headline"), analyzed.get("body"))))

    def results(self):
        return self.items

    def merge(self, items):
        self.items.extend(items)
