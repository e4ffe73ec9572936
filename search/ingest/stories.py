"""Group items into stories: the same event, from any sources, within a few
days; wire copies and near-duplicates always together.

An item is represented by what it is about, as news clustering has done
since TDT: the content nouns (common and proper, from Sudachi's part of
speech) of its headline (twice) and of its lead (the first LEAD_CHARS
characters of its body), weighted by tf-idf. A headline that is mostly
Latin script (a post in English whose body is its Japanese translation) is
left out: its words are shared by no Japanese report of the same event.
Two items are as similar as the cosine of their vectors.

A source's boilerplate is left out too: a term in BOILERPLATE_SHARE of the
items of its source (once it has BOILERPLATE_MIN items), such as the
「BBCニュース - 」 that starts every BBC headline, says who wrote an item,
not what it is about.

Items are taken in date order (then id); each joins the story of the most
similar item dated within WINDOW_DAYS of it, if that similarity reaches
JOIN (JOIN_LEAD_ONLY for an item without a usable headline: its lead alone
is half the evidence; the seed's Truth Social post of the phone call is
0.13 like the Reuters report of it, and at most 0.11 like anything else),
else it starts a story of its own (named by its id). An item at least
NEAR_DUPLICATE similar to any item, whatever their dates, joins that item's
story: the candidates are the items sharing one of its KEY_TERMS heaviest
terms among theirs (two vectors that close share their heaviest terms; a
SimHash of vectors this short flipped ~11 bits between a wire copy and its
original). docs/stories.md measures the choices on the seed and the sample
dumps.

Incremental: the state (every item's vector, date, story, and the document
frequencies) is kept beside the index (search/index/story_table.py: the
entries in a log each generation appends its changes to, the counts
whole); a reindex assigns only its new items, comparing them with the
state, and removes the items that left. The terms come from the writers' own analysis
(search/ingest/parallel.py), so grouping tokenizes nothing again.
"""

import hashlib
import heapq
import math
import re
from array import array
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter

from ..index import story_table
from ..index.story_table import TERM_SEPARATOR  # how the state's file joins terms


LEAD_CHARS = 300
HEADLINE_WEIGHT = 2
WINDOW_DAYS = 3
JOIN = 0.2
JOIN_LEAD_ONLY = 0.12
NEAR_DUPLICATE = 0.8
# The bound _near_duplicate skips candidates by, a little under 0.8²: a
# float's rounding never makes it skip an item the cosine would take.
_NEAR_DUPLICATE_SQUARED = NEAR_DUPLICATE ** 2 - 1e-6
KEY_TERMS = 4
VECTOR_TERMS = 32  # an item's heaviest terms kept (a lead has ~40; 24 broke 3 of the judgements)
BOILERPLATE_MIN = 3  # items of a source before its commonest terms count as boilerplate
BOILERPLATE_SHARE = 0.8
_LATIN = re.compile(r"[A-Za-z]")


def _mostly_latin(text):
    return len(_LATIN.findall(text)) > len(text) * 0.5


def _usable(form, nouns):
    return len(form) > 1 and not form.isdigit() and form in nouns and TERM_SEPARATOR not in form


def story_terms(headline, headline_words, body_words):
    """((term, count), ...) of an item from the analyzer's postings of its
    headline and body ({form: array of (position, start, end)}), and
    whether its headline was used."""
    counts = {}
    use_headline = bool(headline_words) and not (_mostly_latin(headline) and body_words)
    if use_headline:
        nouns = _nouns(headline_words)
        for form, a in headline_words.items():
            if _usable(form, nouns):
                counts[form] = HEADLINE_WEIGHT * (len(a) // 3)
    nouns = _nouns(body_words)
    for form, a in (body_words or {}).items():
        if a[1] < LEAD_CHARS and _usable(form, nouns):  # occurrences come in text order
            n = 0
            for k in range(1, len(a), 3):
                if a[k] >= LEAD_CHARS:
                    break
                n += 1
            counts[form] = counts.get(form, 0) + n
    return tuple(counts.items()), use_headline


def _nouns(words):
    """The content nouns of an analyzed text (analysis.Postings), whole words."""
    return getattr(words, "nouns", None) or ()


# One item of the state is a plain tuple, compact (a decade's archive holds
# 365,000) and in the very form the state's log keeps it (story_table), so
# that reading a year's entries back converts nothing: (date ordinal, story,
# its terms joined by TERM_SEPARATOR, those of its vector first, heaviest
# first, then the other terms it counted in the frequencies, the vector's
# weights (unit length) as float32 bytes, source).
DATE, STORY, JOINED, WEIGHTS, SOURCE = range(5)


def entry_of(day, story, joined, weights, source):
    return day, story, joined, weights.tobytes(), source


def entry_terms(entry):
    """Every term an entry counted in the frequencies."""
    return entry[JOINED].split(TERM_SEPARATOR) if entry[JOINED] else []


def vector_terms(entry, most=VECTOR_TERMS):
    """The terms of an entry's vector, heaviest first, at most `most` of
    them (the rest of the string is not split)."""
    n = min(most, len(entry[WEIGHTS]) // 4)
    return entry[JOINED].split(TERM_SEPARATOR, n)[:n] if n else []


def vector_weights(entry):
    a = array("f")
    a.frombytes(entry[WEIGHTS])
    return a


def vector(entry):
    """((term, weight), ...) of an entry, heaviest first."""
    return zip(vector_terms(entry), vector_weights(entry))


def new_item(item_id, day, source, terms, headline=True):
    """An item to add(): its id, date ordinal, source, ((term, count), ...)
    and whether its headline was used."""
    return (item_id, day, source, tuple(t for t, _ in terms),
            bytes(min(c, 255) for _, c in terms), headline)


@dataclass
class StoryState:
    """Every item's entry, by item id, the document frequency of each term
    over the items' term sets (for idf), and the same per source (for its
    boilerplate). What changed since it was read (the items added, in the
    order they were, and those removed) is what the next generation appends
    to the log the state came from (log: story_table's pointer to it)."""

    entries: dict = field(default_factory=dict)
    df: dict = field(default_factory=dict)
    source_df: dict = field(default_factory=dict)  # source: {term: items}
    source_n: dict = field(default_factory=dict)  # source: items
    log: dict = None
    added: dict = field(default_factory=dict)  # item id: None, in the order of entries
    removed: list = field(default_factory=list)
    serving: dict = None  # the serving table of the generation it was read from

    def story(self, item_id):
        """The story of an item of the state."""
        return self.entries[item_id][STORY]

    def remove(self, item_ids):
        """Items that left the index leave their stories."""
        for item_id in item_ids:
            entry = self.entries.pop(item_id, None)
            if entry is not None:
                terms = entry_terms(entry)
                _count(self.df, terms, -1)
                _count(self.source_df.setdefault(entry[SOURCE], {}), terms, -1)
                self.source_n[entry[SOURCE]] = self.source_n.get(entry[SOURCE], 1) - 1
                self.added.pop(item_id, None)
                self.removed.append(item_id)

    def add(self, items):
        """Assign stories to new items (new_item's tuples). Items already in
        the state keep their story. Returns how many started a story of
        their own. Each item is let go of once it has its entry (a full
        reindex of a decade holds the items or their entries, not both):
        pass a list no one else holds (Collector.take())."""
        items = sorted((i for i in items if i[0] not in self.entries), key=lambda i: (i[1], i[0]))
        for _, _, source, names, _, _ in items:
            _count(self.df, names, 1)
            _count(self.source_df.setdefault(source, {}), names, 1)
            self.source_n[source] = self.source_n.get(source, 0) + 1
        total = len(self.entries) + len(items)
        grouping = _Grouping(self, {item[1] for item in items}, self._keys(items, total))
        names = {e[STORY] for e in self.entries.values()}
        started = 0
        for k, (item_id, day, source, terms, counts, headline) in enumerate(items):
            items[k] = None
            vector, weights = _weigh(self._about(source, terms, counts), self.df, total)
            story = grouping.story_for(day, vector, weights, JOIN if headline else JOIN_LEAD_ONLY)
            if story is None:
                story, started = _new_name(item_id, names), started + 1
                names.add(story)
            chosen = set(vector)
            entry = entry_of(day, story, TERM_SEPARATOR.join(
                vector + tuple(t for t in terms if t not in chosen)), weights, source)
            self.entries[item_id] = entry
            self.added[item_id] = None
            grouping.admit(item_id, entry)
        return started

    def _keys(self, items, total):
        """The heaviest terms of the new items' vectors, the only ones by
        which older items can be near-duplicates of them (the frequencies
        are those of all the new items already, so the vectors are the
        loop's); None, every term, for a state without older items (a full
        rebuild: nothing to leave out, and no vectors kept for all items)."""
        if not self.entries:
            return None
        return {t for _, _, source, terms, counts, _ in items
                for t in _weigh(self._about(source, terms, counts), self.df, total)[0][:KEY_TERMS]}

    def _about(self, source, terms, counts):
        """((term, count), ...) without the source's boilerplate."""
        n = self.source_n.get(source, 0)
        if n < BOILERPLATE_MIN:
            return zip(terms, counts)
        df = self.source_df.get(source, {})
        return ((t, c) for t, c in zip(terms, counts) if df.get(t, 0) < BOILERPLATE_SHARE * n)


def _new_name(item_id, names):
    """A new story is named by its first item's id; if a story still has
    that name (the item left the index and came back), by a hash of it."""
    name, n = item_id, 0
    while name in names:
        n += 1
        name = hashlib.sha1(f"{item_id}/{n}".encode()).hexdigest()[:16]
    return name


def _count(df, terms, step):
    for term in terms:
        n = df.get(term, 0) + step
        if n > 0:
            df[term] = n
        else:
            df.pop(term, None)


# 1 + log(count) of a term's count in an item (counts are kept as bytes).
_TF = [0.0] + [1 + math.log(n) for n in range(1, 256)]


def _weigh(terms, df, total):
    """The unit tf-idf vector of terms, its VECTOR_TERMS heaviest, heaviest
    first: (terms, array of weights)."""
    log = math.log
    weights = sorted([(t, _TF[n] * log(1 + total / df[t])) for t, n in terms],
                     key=itemgetter(1), reverse=True)[:VECTOR_TERMS]  # stable, as before
    norm = math.sqrt(sum(w * w for _, w in weights)) or 1.0
    return tuple(t for t, _ in weights), array("f", [w / norm for _, w in weights])


class _Grouping:
    """The items a new item is compared with: those dated within the window
    of the new item (an inverted index of their vectors, which slides with
    the new items' dates: it holds a few weeks of items, not the archive),
    and the items by their heaviest terms, for near-duplicates (those of
    the new items' heaviest terms only)."""

    def __init__(self, state, days, keys=None):
        """days: the new items' dates; keys: the heaviest terms of their
        vectors (only the older items sharing one are near-duplicate
        candidates, so only those are looked up: one pass over the
        archive's entries, splitting KEY_TERMS terms of each); None: every
        term."""
        self.state = state
        self.by_term = defaultdict(list)  # term: [(day, item id, weight)], by day
        self.keys = defaultdict(list)  # one of an item's heaviest terms (among `keys`): [item id]
        self.wanted = keys
        self.indexed = []  # heap of (day, item id) in by_term, to slide it
        near = {d + k for d in days for k in range(-WINDOW_DAYS, WINDOW_DAYS + 1)}
        waiting = []
        for item_id, entry in state.entries.items():
            for term in vector_terms(entry, KEY_TERMS):
                if keys is None or term in keys:
                    self.keys[term].append(item_id)
            if entry[DATE] in near:
                waiting.append((entry[DATE], item_id))
        waiting.sort(reverse=True)
        self.waiting = waiting  # the older items within the window of a new one, the latest first

    def _slide(self, day):
        """Index the older items dated up to day + WINDOW_DAYS; drop those
        dated before day - WINDOW_DAYS, a week's worth at a time."""
        entries, waiting = self.state.entries, self.waiting
        while waiting and waiting[-1][0] <= day + WINDOW_DAYS:
            item_id = waiting.pop()[1]
            self._index(item_id, entries[item_id])
        first = day - WINDOW_DAYS
        if not self.indexed or self.indexed[0][0] >= first - 7:
            return
        terms = set()
        while self.indexed and self.indexed[0][0] < first:
            _, item_id = heapq.heappop(self.indexed)
            entry = entries.get(item_id)
            if entry is not None:
                terms.update(vector_terms(entry))
        cut = (first,)
        for term in terms:
            found = self.by_term.get(term)
            if found:
                k = bisect_left(found, cut)
                if k == len(found):
                    del self.by_term[term]
                elif k:
                    del found[:k]

    def _index(self, item_id, entry):
        posting = (entry[DATE], item_id)
        heapq.heappush(self.indexed, posting)
        for term, weight in vector(entry):
            found = self.by_term[term]
            if found and found[-1][:2] > posting:  # an item dated before the last: keep the order
                insort(found, (*posting, weight))
            else:
                found.append((*posting, weight))

    def admit(self, item_id, entry):
        self._index(item_id, entry)
        for term in vector_terms(entry, KEY_TERMS):
            if self.wanted is None or term in self.wanted:
                self.keys[term].append(item_id)

    def story_for(self, day, terms, weights, join):
        self._slide(day)
        entries = self.state.entries
        scores = defaultdict(float)
        first, last = (day - WINDOW_DAYS,), (day + WINDOW_DAYS + 1,)
        for term, weight in zip(terms, weights):
            found = self.by_term.get(term)
            if found:
                for k in range(bisect_left(found, first), bisect_left(found, last)):
                    _, other, w = found[k]
                    scores[other] += weight * w
        best, best_score = None, 0.0
        for other, score in scores.items():
            if score > best_score or (score == best_score and best is not None and other < best):
                best, best_score = other, score
        if best is not None and best_score >= join:
            return entries[best][STORY]
        return self._near_duplicate(day, terms, weights)

    def _near_duplicate(self, day, terms, weights):
        """The story of an item dated outside the window at least
        NEAR_DUPLICATE like the vector (those inside were all scored above,
        and fell short of joining), or None."""
        entries, mine = self.state.entries, dict(zip(terms, weights))
        squares = {t: w * w for t, w in mine.items()}
        seen = set()
        for term in terms[:KEY_TERMS]:
            for other in self.keys.get(term, ()):
                if other in seen:
                    continue
                seen.add(other)
                entry = entries[other]
                if abs(entry[DATE] - day) <= WINDOW_DAYS:
                    continue
                # The cosine is at most the norm of this vector over the
                # terms the two share (the other's is a unit vector): most
                # candidates share one term or two and are left at that.
                theirs = vector_terms(entry)
                shared = squares.keys() & theirs
                if sum(squares[t] for t in shared) < _NEAR_DUPLICATE_SQUARED:
                    continue
                if sum(w * mine.get(t, 0.0) for t, w in zip(theirs, vector_weights(entry))) \
                        >= NEAR_DUPLICATE:
                    return entry[STORY]
        return None


def to_plain(state):
    """The state as plain data, as search/index/story_table.py stores it:
    the counts whole; the entries added (item id: (date, story, joined
    terms, weights, source)) and the ids removed since it was read, which
    are appended to its log; and `entries()`, every entry, for a log
    started afresh."""
    return {"df": state.df, "source_df": state.source_df, "source_n": state.source_n,
            "log": state.log, "live": len(state.entries), "removed": list(state.removed),
            "added": {i: state.entries[i] for i in state.added},
            "entries": lambda: state.entries}


def from_plain(plain):
    """The state story_table.read_state gave (None: none, an empty state),
    with the serving table it was read with."""
    if not plain:
        return StoryState()
    return StoryState(plain["entries"], plain["df"], plain["source_df"], plain["source_n"],
                      plain.get("log"), serving=plain.get("serving"))


def serving_table(state):
    """What the server needs: each item's story, as item ids (sorted) and
    story numbers, the stories' ids sorted; packed (story_table.ID_WIDTH
    bytes an id, int32 numbers) when the ids fit. A state that only gained
    items since its table was read has the new ones put in place (a day's
    items into a year's table) rather than the table made again."""
    before, added = state.serving, sorted(state.added)
    if (before is None or state.removed or before.get("width") != story_table.ID_WIDTH
            or len(before["ids"]) // before["width"] + len(added) != len(state.entries)
            or not story_table.packable(added)):
        return _whole_table(state)
    if not added:
        return before
    story = {story_table.pack_key(i): story_table.pack_key(state.entries[i][STORY]) for i in added}
    names = story_table.Records(before["names"])
    fresh = sorted(s for s in set(story.values()) if not _holds(names, s))
    numbers = array("i")
    numbers.frombytes(before["stories"])
    if fresh:  # the names after a new one's place move up one
        at = [bisect_left(names, s) for s in fresh]
        renumber = array("i", (k + bisect_right(at, k) for k in range(len(names))))
        numbers = array("i", map(renumber.__getitem__, numbers))
        names = story_table.Records(_spliced(before["names"], at, fresh))
    ids = story_table.Records(before["ids"])
    at = [bisect_left(ids, key) for key in story]
    spliced, start = array("i"), 0
    for k, key in zip(at, story):
        spliced.extend(numbers[start:k])
        spliced.append(bisect_left(names, story[key]))
        start = k
    spliced.extend(numbers[start:])
    return {"width": story_table.ID_WIDTH, "ids": _spliced(before["ids"], at, list(story)),
            "stories": spliced.tobytes(), "names": names.blob}


def _whole_table(state):
    ids = sorted(state.entries)
    names = sorted({state.entries[i][STORY] for i in ids})
    number = {name: k for k, name in enumerate(names)}
    stories = [number[state.entries[i][STORY]] for i in ids]
    if not (story_table.packable(ids) and story_table.packable(names)):
        return {"ids": ids, "stories": stories, "names": names}
    return {"width": story_table.ID_WIDTH, "ids": b"".join(map(story_table.pack_key, ids)),
            "stories": array("i", stories).tobytes(),
            "names": b"".join(map(story_table.pack_key, names))}


def _holds(records, key):
    k = bisect_left(records, key)
    return k < len(records) and records[k] == key


def _spliced(blob, at, keys):
    """The packed records with keys (sorted) put before the records at
    `at` (their places, ascending)."""
    width, parts, start = story_table.ID_WIDTH, [], 0
    for k, key in zip(at, keys):
        parts += (blob[start * width:k * width], key)
        start = k
    parts.append(blob[start * width:])
    return b"".join(parts)


class Collector:
    """Each written document's story terms, from the writers' analysis
    (FastSegmentWriter's on_document; write_segments' observer)."""

    def __init__(self):
        self.items = []

    def add(self, fields, analyzed):
        if "id" in fields and "date" in fields:
            day = date.fromisoformat(fields["date"]).toordinal()
            terms, headline = story_terms(fields.get("headline") or "", analyzed.get("headline"),
                                          analyzed.get("body"))
            self.items.append(new_item(fields["id"], day, fields.get("source") or "", terms,
                                       headline))

    def results(self):
        return self.items

    def take(self):
        """The items, which this collector then no longer holds."""
        items, self.items = self.items, []
        return items

    def merge(self, items):
        self.items.extend(items)
