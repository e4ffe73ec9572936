"""Readings of the index's words: a query typed in hiragana (かんぜい) finds
the words read that way (関税), instead of what Sudachi makes of hiragana
(か/ん/ぜい, single kana that match anything).

Reindex keeps reading → forms, the most frequent first, beside the
generation's manifest (``readings-<generation>.json``); the service reads the
table of its searcher's generation (none: the query is analysed as before).
The readings come from the indexing itself: the analyzer notes Sudachi's
reading of each kanji word when it first meets it (search.analysis), and
``Vocabulary``, one of the writers' observers, counts the new documents'
words; ``update`` adds them to the generation before's table. Nothing is
tokenized again, and an incremental reindex touches only its new words.
"""

import json
import os
import re

from . import analysis

MAX_FORMS = 8  # forms kept per reading, the most frequent first
VERSION = 1
_NAME = re.compile(r"^readings-(\d+)\.json$")


class Vocabulary:
    """The new documents' kanji words: how many documents hold each, and
    their readings (FastSegmentWriter's on_document, also in the forked
    writers: results() are sent back and merge()d)."""

    def __init__(self):
        self.counts, self.read = {}, {}

    def add(self, fields, analyzed):
        seen = set()
        for by_word in analyzed.values():
            seen.update(by_word)
        for form in seen:
            reading = analysis.reading_of(form)
            if reading is not None:
                self.counts[form] = self.counts.get(form, 0) + 1
                self.read[form] = reading

    def results(self):
        return self.counts, self.read

    def merge(self, results):
        counts, read = results
        for form, n in counts.items():
            self.counts[form] = self.counts.get(form, 0) + n
        self.read.update(read)


def table_of(read, df):
    """{reading: [forms, the most frequent first]} of {form: reading}."""
    table = {}
    for form, reading in read.items():
        if reading:
            table.setdefault(reading, []).append((df.get(form, 0), form))
    return {reading: [f for _, f in sorted(found, key=lambda x: (-x[0], x[1]))[:MAX_FORMS]]
            for reading, found in table.items()}


def path(index_dir, generation):
    return os.path.join(index_dir, f"readings-{generation}.json")


def write(index_dir, generation, table, read, df=None):
    target = path(index_dir, generation)
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"version": VERSION, "table": table, "read": read, "df": df or {}}, f,
                  ensure_ascii=False, separators=(",", ":"))
    os.replace(tmp, target)


def _load(index_dir, generation):
    try:
        with open(path(index_dir, generation), encoding="utf-8") as f:
            found = json.load(f)
    except (OSError, ValueError, TypeError):
        return {}
    return found if isinstance(found, dict) and found.get("version") == VERSION else {}


def read(index_dir, generation):
    """The table of a generation, or {} when it has none."""
    return _load(index_dir, generation).get("table") or {}


def known(index_dir, generation):
    """{form: reading} looked up for a generation (for the next one), or {}."""
    return _load(index_dir, generation).get("read") or {}


def update(index_dir, generation, before, vocabulary):
    """Write the table of a new generation: the generation before's (its
    number: before; None for a full rebuild) with the new documents' words
    (a Vocabulary) added. (A word whose documents all left keeps its
    reading: a query for it finds nothing, as it should.)"""
    old = _load(index_dir, before) if before is not None else {}
    read, df = dict(old.get("read") or {}), dict(old.get("df") or {})
    counts, new = vocabulary.results()
    read.update(new)
    for form, n in counts.items():
        df[form] = df.get(form, 0) + n
    write(index_dir, generation, table_of(read, df), read, df)


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
