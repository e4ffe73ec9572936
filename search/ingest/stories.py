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
import math
import re
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from operator import itemgetter
from typing import NamedTuple

import numpy as np

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


class Packed(NamedTuple):
    """New items as a Collector holds them and add() takes them: each
    item's terms as numbers into `terms` (uint32 bytes), not a tuple of
    str. A full reindex's parent holds every new item until they are
    grouped, while its writers write their last segments: measured on
    four writers' results of 15,000 items each, 870 bytes an item as
    tuples of str (each result brings its own copy of every term), 600
    packed (the terms' own share falls as the items grow)."""

    items: list  # (item id, date ordinal, source, term numbers, counts, headline)
    terms: list  # the terms, by number


def pack(items, terms=None, numbers=None):
    """Packed of new_item tuples, numbering their terms after `terms`
    (numbers: term -> its number in it), which it extends."""
    terms = [] if terms is None else terms
    numbers = {t: n for n, t in enumerate(terms)} if numbers is None else numbers
    return Packed([_packed(item, terms, numbers) for item in items], terms)


def _packed(item, terms, numbers):
    """A new_item tuple as Packed holds it, its terms numbered (_numbered)."""
    item_id, day, source, item_terms, counts, headline = item
    return item_id, day, source, _numbered(item_terms, terms, numbers).tobytes(), counts, headline


def _numbered(these, terms, numbers):
    """The numbers (array "I") of the terms `these` in `terms` (numbers:
    term -> its number), the new ones appended to both."""
    found, number = array("I"), numbers.get
    for t in these:
        n = number(t)
        if n is None:
            n = numbers[t] = len(terms)
            terms.append(t)
        found.append(n)
    return found


def _numbers(blob):
    """A packed item's term numbers, as ints."""
    return memoryview(blob).cast("I")


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
        """Assign stories to new items (Packed, or a list of new_item's
        tuples). Items already in the state keep their story. Returns how
        many started a story of their own. Each item is let go of once it
        has its entry (a full reindex of a decade holds the items or their
        entries, not both): pass items no one else holds (what
        Collector.take() returns). If it raises, the state is left half
        added (entries without a story): a reindex that fails writes
        nothing and drops it."""
        if not isinstance(items, Packed):
            items = pack(items)
        term = items.terms.__getitem__  # an item's terms: map(term, _numbers(item[3]))
        items = sorted({i[0]: i for i in items.items if i[0] not in self.entries}.values(),
                       key=lambda i: (i[1], i[0]))  # each id once
        if not items:  # nothing to compare: the archive is not read
            return 0
        by_source = defaultdict(list)
        for item in items:
            by_source[item[2]].append(item[3])
        _count(self.df, map(term, chain.from_iterable(_numbers(item[3]) for item in items)), 1)
        for source, term_sets in by_source.items():
            _count(self.source_df.setdefault(source, {}),
                   map(term, chain.from_iterable(map(_numbers, term_sets))), 1)
            self.source_n[source] = self.source_n.get(source, 0) + len(term_sets)
        total = len(self.entries) + len(items)
        idf = _Idf(self.df, total)
        names = {e[STORY] for e in self.entries.values()}
        older = len(self.entries)
        # Every new item is weighed first (its entry, without a story yet):
        # which item each one joins depends on the vectors only, so it is
        # found for all of them at once (_Grouping), and the stories follow
        # in order.
        new_ids, joins = [], bytearray()
        for k, (item_id, day, source, numbers, counts, headline) in enumerate(items):
            items[k] = None
            terms = tuple(map(term, _numbers(numbers)))
            vector, weights = _weigh(terms, counts, idf, *self._boilerplate(source))
            chosen = set(vector)
            self.entries[item_id] = entry_of(day, None, TERM_SEPARATOR.join(
                vector + tuple(t for t in terms if t not in chosen)), weights, source)
            new_ids.append(item_id)
            joins.append(headline)
        targets = _Grouping(self, new_ids, older).targets(joins)
        started = 0
        for item_id, target in zip(new_ids, targets):
            entry = self.entries[item_id]
            if target is None:
                story, started = _new_name(item_id, names), started + 1
                names.add(story)
            else:
                story = self.entries[target][STORY]
            # One tuple the size of the one it replaces: its memory is reused.
            self.entries[item_id] = (entry[DATE], story, entry[JOINED], entry[WEIGHTS],
                                     entry[SOURCE])
            self.added[item_id] = None
        return started

    def _boilerplate(self, source):
        """(the source's frequencies, the count from which a term is its
        boilerplate), or (None, None) for a source of too few items."""
        n = self.source_n.get(source, 0)
        if n < BOILERPLATE_MIN:
            return None, None
        return self.source_df.get(source, {}), BOILERPLATE_SHARE * n


def _new_name(item_id, names):
    """A new story is named by its first item's id; if a story still has
    that name (the item left the index and came back), by a hash of it."""
    name, n = item_id, 0
    while name in names:
        n += 1
        name = hashlib.sha1(f"{item_id}/{n}".encode()).hexdigest()[:16]
    return name


def _count(df, terms, step):
    """Add step to each term's count in df, once for each time it comes (a
    term whose count falls to 0 leaves df; new terms are put in the order
    they first come). Counter counts in C."""
    for term, n in Counter(terms).items():
        n = df.get(term, 0) + step * n
        if n > 0:
            df[term] = n
        else:
            df.pop(term, None)


class _Idf(dict):
    """term: log(1 + total / df), each computed once per add()."""

    def __init__(self, df, total):
        super().__init__()
        self.df, self.total = df, total

    def __missing__(self, term):
        value = self[term] = math.log(1 + self.total / self.df[term])
        return value


# 1 + log(count) of a term's count in an item (counts are kept as bytes).
_TF = [0.0] + [1 + math.log(n) for n in range(1, 256)]


def _weigh(terms, counts, idf, source_df=None, boilerplate=None):
    """The unit tf-idf vector of terms (with their counts) without the
    source's boilerplate (source_df: its frequencies; a term in at least
    `boilerplate` of its items), its VECTOR_TERMS heaviest, heaviest
    first: (terms, array of weights)."""
    if source_df is None:
        weights = [(t, _TF[n] * idf[t]) for t, n in zip(terms, counts)]
    else:
        get = source_df.get
        weights = [(t, _TF[n] * idf[t]) for t, n in zip(terms, counts) if get(t, 0) < boilerplate]
    weights.sort(key=itemgetter(1), reverse=True)  # stable, as before
    del weights[VECTOR_TERMS:]
    norm = math.sqrt(sum([w * w for _, w in weights])) or 1.0
    return tuple([t for t, _ in weights]), array("f", [w / norm for _, w in weights])


class _Grouping:
    """Which item each new item joins the story of, found for all the new
    items at once from their vectors (their entries, in state.entries after
    the older ones, in the order they are assigned).

    Within the window: the item scoring highest against it among the older
    items dated within WINDOW_DAYS of it and the new ones before it (the
    smallest id among equals), if that reaches JOIN. The candidates are laid
    out by date (columns), so a run of consecutive new items (rows) scores a
    range of columns (_Window). Each (row, column) pair's products are
    summed by numpy's bincount in the row's term order, heaviest first: the
    additions a dict of one item's scores made, in the same order, so the
    scores are the same floats. Outside it, near-duplicates are looked up one
    item at a time by their heaviest terms (KEY_TERMS)."""

    # A block's pairs and dense scores stay under this (the arrays of a
    # block: ~8 of this many int64s at the most).
    BLOCK = 1 << 22
    # New items laid out at a time (_Window): ~0.6 million postings, ~15 MB.
    ROWS = 1 << 14

    def __init__(self, state, new_ids, older):
        """new_ids: the new items' ids, in order; older: how many entries
        of the state come before theirs."""
        self.state, self.new_ids, self.older = state, new_ids, older
        entries = state.entries
        days = {entries[i][DATE] for i in new_ids}
        near = {d + k for d in days for k in range(-WINDOW_DAYS, WINDOW_DAYS + 1)}
        wanted = None if older == 0 else {
            t for i in new_ids for t in vector_terms(entries[i], KEY_TERMS)}
        # term: entry numbers, the older items' then the new ones' in order
        # (new item k is entry older + k). Only the older items sharing one
        # of the new items' heaviest terms can be their near-duplicates:
        # one pass over the archive.
        self.keys = defaultdict(lambda: array("i"))
        self.ids = list(entries)
        col_day, col_row, col_at = array("i"), array("i"), array("i")
        for k, entry in enumerate(entries.values()):
            for term in vector_terms(entry, KEY_TERMS):
                if wanted is None or term in wanted:
                    self.keys[term].append(k)
            if k >= older or entry[DATE] in near:
                col_day.append(entry[DATE])
                col_row.append(k - older if k >= older else -1)
                col_at.append(k)
        self._lay_out(*(np.frombuffer(a, dtype=np.int32) for a in (col_day, col_row, col_at)))

    def _lay_out(self, day, row, at):
        """The columns (the older items dated within the window of a new
        one, and the new ones: their date, their row, -1 for the older, and
        their entry number), by date then row; each row's column and the
        range of columns within the window of its date."""
        order = np.lexsort((row, day))
        self.col_day, self.col_row = day[order].astype(np.int64), row[order].astype(np.int64)
        self.col_id = [self.ids[k] for k in at[order].tolist()]
        # By date then row, the new items' columns are in row order already.
        self.row_col = np.flatnonzero(self.col_row >= 0)
        row_day = self.col_day[self.row_col]
        self.row_lo = np.searchsorted(self.col_day, row_day - WINDOW_DAYS, "left")
        self.row_hi = np.searchsorted(self.col_day, row_day + WINDOW_DAYS, "right")

    def targets(self, joins):
        """For each new item: the id of the item whose story it joins, or
        None (it starts one). joins[k]: whether item k's headline was used
        (JOIN, else JOIN_LEAD_ONLY)."""
        found = [None] * len(self.new_ids)
        for r in range(0, len(found), self.ROWS):
            _Window(self, r, min(r + self.ROWS, len(found))).score(joins, found)
        for k, item_id in enumerate(self.new_ids):
            if found[k] is None:
                found[k] = self._near_duplicate(item_id, k)
        return found

    def _near_duplicate(self, item_id, k):
        """The item dated outside the window at least NEAR_DUPLICATE like
        item k, among the older items and the new ones before it, or None
        (those inside were all scored, and fell short of joining)."""
        entries, ids, mine_at = self.state.entries, self.ids, self.older + k
        mine_entry = entries[item_id]
        day, terms = mine_entry[DATE], vector_terms(mine_entry)
        mine = dict(zip(terms, vector_weights(mine_entry)))
        squares = {t: w * w for t, w in mine.items()}
        seen = set()
        for term in terms[:KEY_TERMS]:
            for other in self.keys.get(term, ()):
                if other >= mine_at:
                    break  # the lists are in order: the rest come after this item
                if other in seen:
                    continue
                seen.add(other)
                entry = entries[ids[other]]
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
                    return ids[other]
        return None


class _Window:
    """The postings of a run of consecutive new items (rows r0 to r1) and
    of the columns dated within the window of theirs, as numpy arrays: the
    columns' sorted by (term, column), to find a term's columns in a range
    of them; the rows' in each item's order (heaviest first). Terms are
    numbered within the window."""

    def __init__(self, grouping, r0, r1):
        self.g, self.r0, self.r1 = grouping, r0, r1
        self.c0 = int(grouping.row_lo[r0])
        c1 = int(grouping.row_hi[r1 - 1])
        self.width = max(c1 - self.c0, 1)
        entries, numbers = grouping.state.entries, {}
        term_ids, weights, lengths = array("i"), bytearray(), array("i")
        for item_id in grouping.col_id[self.c0:c1]:
            entry = entries[item_id]
            terms = vector_terms(entry)
            term_ids.extend([numbers.setdefault(t, len(numbers)) for t in terms])
            weights += entry[WEIGHTS][:4 * len(terms)]
            lengths.append(len(terms))
        lengths = np.frombuffer(lengths, dtype=np.int32).astype(np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths)))
        term_of = np.frombuffer(term_ids, dtype=np.int32)
        w = np.frombuffer(bytes(weights), dtype=np.float32)
        key = term_of.astype(np.int64) * self.width + np.repeat(
            np.arange(self.width, dtype=np.int64), lengths)
        order = np.argsort(key, kind="stable")
        self.key, self.post_w = key[order], w[order]
        # The rows' postings, picked from their columns'.
        cols = grouping.row_col[r0:r1] - self.c0
        row_lengths = lengths[cols]
        self.row_start = np.concatenate(([0], np.cumsum(row_lengths)))
        picks = np.repeat(starts[cols] - self.row_start[:-1], row_lengths) \
            + np.arange(int(row_lengths.sum()), dtype=np.int64)
        self.row_term, self.row_w = term_of[picks], w[picks]
        self.row_of = np.repeat(np.arange(r0, r1, dtype=np.int64), row_lengths)
        # Each row posting's range of postings: its term's, among its row's columns.
        g, base = grouping, self.row_term.astype(np.int64) * self.width
        self.left = _search(self.key, base + (g.row_lo[self.row_of] - self.c0))
        self.right = _search(self.key, base + (g.row_hi[self.row_of] - self.c0))

    def score(self, joins, found):
        """found[k] for each row whose best column within the window reaches
        its threshold, in blocks of rows."""
        pairs = np.concatenate(([0], np.cumsum(self.right - self.left)))
        r = self.r0
        while r < self.r1:
            end = self._block_end(r, pairs)
            self._score_block(r, end, joins, found)
            r = end

    def _block_end(self, r, pairs):
        """The end of the block of rows from r: its pairs and dense scores
        under _Grouping.BLOCK. A block has one row at least, so a row with
        more pairs than that (a day of thousands of items much alike) is a
        block alone, as large as it takes."""
        g, start, limit = self.g, self.row_start, _Grouping.BLOCK
        first, lo = start[r - self.r0], g.row_lo[r]
        end = r + 1
        while end < self.r1:
            if (pairs[start[end + 1 - self.r0]] - pairs[first] > limit
                    or (end + 1 - r) * (g.row_hi[end] - lo) > limit):
                break
            end += 1
        return end

    def _score_block(self, r, end, joins, found):
        """Score rows r to end against their columns: a dense (rows ×
        columns) array of sums, its best column per row (the smallest id
        among equals)."""
        g = self.g
        p0, p1 = self.row_start[r - self.r0], self.row_start[end - self.r0]
        left = self.left[p0:p1]
        counts = self.right[p0:p1] - left
        total = int(counts.sum())
        if not total:
            return
        each = np.repeat(np.arange(p0, p1, dtype=np.int64), counts)
        posting = np.repeat(left - (np.cumsum(counts) - counts), counts) \
            + np.arange(total, dtype=np.int64)
        col = self.key[posting] % self.width + self.c0
        row = self.row_of[each]
        valid = g.col_row[col] < row  # the older items (-1) and the new ones before
        each, posting, col, row = each[valid], posting[valid], col[valid], row[valid]
        del valid
        products = self.row_w[each].astype(np.float64) * self.post_w[posting]
        del each, posting
        first = int(g.row_lo[r])  # the block's first column
        width = int(g.row_hi[end - 1]) - first
        scores = np.bincount((row - r) * width + (col - first), weights=products,
                             minlength=(end - r) * width).reshape(end - r, width)
        best = scores.max(axis=1)
        for k in np.flatnonzero(best > 0):
            threshold = JOIN if joins[r + k] else JOIN_LEAD_ONLY
            if best[k] >= threshold:
                ties = np.flatnonzero(scores[k] == best[k])
                found[r + k] = min(g.col_id[first + t] for t in ties)


def _search(keys, values):
    """np.searchsorted(keys, values) for values in any order, searched in
    their sorted order: the searches then walk the keys forward instead of
    missing the cache at each step (x40's 9.4 million postings: the whole
    grouping took 98 s searched in the values' order, 58 s in sorted order)."""
    order = np.argsort(values, kind="stable")
    found = np.empty(len(values), dtype=np.int64)
    found[order] = np.searchsorted(keys, values[order], "left")
    return found


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
    (FastSegmentWriter's on_document; write_segments' observer), packed
    (Packed: its terms numbered once for all the items)."""

    def __init__(self):
        self.items, self.terms, self.numbers = [], [], {}

    def add(self, fields, analyzed):
        if "id" in fields and "date" in fields:
            day = date.fromisoformat(fields["date"]).toordinal()
            terms, headline = story_terms(fields.get("headline") or "", analyzed.get("headline"),
                                          analyzed.get("body"))
            item = new_item(fields["id"], day, fields.get("source") or "", terms, headline)
            self.items.append(_packed(item, self.terms, self.numbers))

    def results(self):
        return Packed(self.items, self.terms)

    def take(self):
        """The items (Packed), which this collector then no longer holds,
        nor the numbering of their terms (it lives as long as the reindex)."""
        packed = Packed(self.items, self.terms)
        self.items, self.terms, self.numbers = [], [], {}
        return packed

    def merge(self, packed):
        """Another collector's results (a writer's): its terms numbered as here."""
        at = _numbered(packed.terms, self.terms, self.numbers).__getitem__
        self.items.extend((i[0], i[1], i[2], array("I", map(at, _numbers(i[3]))).tobytes(),
                           *i[4:]) for i in packed.items)
