"""Readings of the index's words: a query typed in hiragana (かんぜい) finds
the words read that way (関税), instead of what Sudachi makes of hiragana
(か/ん/ぜい, single kana that match anything).

Reindex keeps reading → forms, the most frequent first, beside the
generation's manifest (``readings-<generation>.pickle``); the service reads the
table of its searcher's generation (none: the query is analysed as before).
The readings come from the indexing itself: the analyzer notes Sudachi's
reading of each kanji word when it first meets it (search.analysis), and
``Vocabulary``, one of the writers' observers, counts the new documents'
words; ``update`` adds them to the generation before's table. Nothing is
tokenized again, and an incremental reindex touches only its new words.
"""

import bisect
import itertools
import json
import os
import pickle
import re
from collections import Counter

from . import analysis, memory

MAX_FORMS = 8  # forms kept per reading, the most frequent first
VERSION = 2  # 1: one JSON file (readings-<generation>.json, still read)
_NAME = re.compile(r"^readings-(\d+)\.(?:pickle|json)$")


class Vocabulary:
    """The new documents' kanji words: how many documents hold each, and
    their readings (FastSegmentWriter's on_document, also in the forked
    writers: results() are sent back and merge()d). A document's words are
    only counted here (Counter.update runs in C); which of them are kanji
    words, and their readings, is worked out once, in results()."""

    def __init__(self):
        self.counts = Counter()  # every word of this process's documents
        self.merged, self.read = Counter(), {}  # the kanji words the workers sent

    def add(self, fields, analyzed):
        words = set()
        for by_word in analyzed.values():
            words.update(by_word)
        self.counts.update(words)

    def results(self, known=None):
        """(counts, readings) of this process's kanji words; known: {form:
        reading} already looked up (the generation before's: most of a
        day's words, which need not be tokenized again)."""
        counts, read = {}, {}
        known = known or {}
        for form, n in self.counts.items():
            reading = known.get(form)
            if reading is None:
                reading = analysis.reading_of(form)
            if reading is not None:
                counts[form], read[form] = n, reading
        return counts, read

    def merge(self, results):
        counts, read = results
        self.merged.update(counts)
        self.read.update(read)

    def kanji_words(self, known=None):
        """(counts, readings) of the kanji words counted here and merged in."""
        counts, read = self.results(known)
        total = Counter(self.merged)
        total.update(counts)
        return total, {**self.read, **read}


def table_of(read, df):
    """{reading: [forms, the most frequent first]} of {form: reading}."""
    table = {}
    for form, reading in read.items():
        if reading:
            table.setdefault(reading, []).append((df.get(form, 0), form))
    return {reading: _most_frequent(found) for reading, found in table.items()}


def _most_frequent(found):
    """The forms of [(documents, form)], the most frequent first, MAX_FORMS of them."""
    return [f for _, f in sorted(found, key=lambda x: (-x[0], x[1]))[:MAX_FORMS]]


def path(index_dir, generation):
    return os.path.join(index_dir, f"readings-{generation}.pickle")


def _json_path(index_dir, generation):
    """Where VERSION 1 kept a generation's readings (still read)."""
    return os.path.join(index_dir, f"readings-{generation}.json")


def write(index_dir, generation, table, read, df=None):
    """Two pickles: the table (what the server reads), then read and df
    (what the next reindex reads). Pickle, not JSON: a year's readings
    (37,000 forms) load and dump in 0.05 s, against 0.2 s as JSON."""
    target = path(index_dir, generation)
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump((VERSION, table), f, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump((read, df or {}), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, target)


def _load(index_dir, generation, words=True):
    """{"table", and with words "read" and "df"} of a generation, or {}."""
    try:
        with open(path(index_dir, generation), "rb") as f:
            version, table = pickle.load(f)
            if version != VERSION:
                return {}
            found = {"table": table}
            if words:
                found["read"], found["df"] = pickle.load(f)
            return found
    except FileNotFoundError:
        return _load_json(index_dir, generation)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError):
        return {}


def _load_json(index_dir, generation):
    try:
        with open(_json_path(index_dir, generation), encoding="utf-8") as f:
            found = json.load(f)
    except (OSError, ValueError, TypeError):
        return {}
    return found if isinstance(found, dict) and found.get("version") == 1 else {}


def read(index_dir, generation):
    """The table of a generation, or {} when it has none."""
    return _load(index_dir, generation, words=False).get("table") or {}


def known(index_dir, generation):
    """{form: reading} looked up for a generation (for the next one), or {}."""
    return _load(index_dir, generation).get("read") or {}


def update(index_dir, generation, before, vocabulary):
    """Write the table of a new generation: the generation before's (its
    number: before; None for a full rebuild) with the new documents' words
    (a Vocabulary) added; only the readings of those words are sorted again.
    (A word whose documents all left keeps its reading: a query for it
    finds nothing, as it should.)"""
    with memory.kept_out_of_collection():  # the vocabulary's words, kept to the end
        old = _load(index_dir, before) if before is not None else {}
    read, df = dict(old.get("read") or {}), dict(old.get("df") or {})
    counts, new = vocabulary.kanji_words(read)
    touched = {read.get(form) for form in new}  # a reading that changed leaves its old one
    read.update(new)
    for form, n in counts.items():
        df[form] = df.get(form, 0) + n
        touched.add(read.get(form))
    touched.update(new.values())
    touched.discard(None)
    touched.discard("")
    table = old.get("table")
    if table is None or len(touched) > len(read) // 4:
        table = table_of(read, df)
    else:
        table = dict(table)
        found = {reading: [] for reading in touched}
        for form, reading in read.items():
            if reading in found:
                found[reading].append((df.get(form, 0), form))
        table.update((reading, _most_frequent(forms)) for reading, forms in found.items())
    write(index_dir, generation, table, read, df)


def drop_old(index_dir, keep):
    for name in os.listdir(index_dir):
        m = _NAME.match(name)
        # the generation before's is kept, for a server still reading it
        if (m and int(m.group(1)) < keep - 1) or (name.startswith("readings-") and name.endswith(".tmp")):
            try:
                os.remove(os.path.join(index_dir, name))
            except OSError:
                pass


def forms(table, text):
    """The forms read as the hiragana text (typed whole), or []."""
    if not table or not analysis.is_hiragana(text) or len(text) < 2:
        return []
    return list(table.get(analysis.katakana(text), ()))


_SORTED = {}  # id(table) → (table, its readings sorted): one table a generation


def completions(table, text, limit=50):
    """The forms of the readings that start with the hiragana text typed so
    far and go on (かんぜ → 関税, 完全), the shortest readings first (the
    nearest completions), then as the table orders them; [] for fewer than
    two kana (one would complete to most of the vocabulary)."""
    if not table or not analysis.is_hiragana(text) or len(text) < 2:
        return []
    key = analysis.katakana(text)
    found = _SORTED.get(id(table))
    if found is None or found[0] is not table:
        if len(_SORTED) > 4:
            _SORTED.clear()
        found = _SORTED[id(table)] = (table, sorted(table))
    keys = found[1]
    start = bisect.bisect_right(keys, key)
    longer = []
    for reading in itertools.islice(keys, start, None):
        if not reading.startswith(key):
            break
        longer.append(reading)
        if len(longer) >= 5000:
            break
    longer.sort(key=len)
    forms = []
    for reading in longer:
        forms.extend(f for f in table[reading] if f not in forms)
        if len(forms) >= limit:
            break
    return forms[:limit]
