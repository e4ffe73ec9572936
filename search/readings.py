"""Readings of the index's words: a query typed in hiragana (かんぜい) finds
the words read that way (関税), instead of what Sudachi makes of hiragana
(か/ん/ぜい, single kana that match anything).

``build(reader)`` reads the index's vocabulary (its headline and body
terms), asks Sudachi for the reading of each word written with a kanji
(the lexicon's reading form of the word, as one dictionary word), and keeps
reading → forms, the most frequent first. Reindex writes it beside the
generation's manifest (``readings-<generation>.json``); the service reads the
table of its searcher's generation (none: the query is analysed as before).
"""

import json
import os
import re

from . import analysis

FIELDS = ("headline", "body")
MAX_FORMS = 8  # forms kept per reading, the most frequent first
MAX_CHARS = 12  # longer terms (numbers, long compounds) are not typed as readings
_KANJI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
VERSION = 1
_NAME = re.compile(r"^readings-(\d+)\.json$")


def build(reader, known=None):
    """(table, read): table {katakana reading: [forms]} of the reader's
    vocabulary, read {form: its reading or ""}. known: the read of the
    generation before, so only words new to the index are looked up."""
    from sudachipy import SplitMode

    known = known or {}
    frequency = {}
    for field in FIELDS:
        if field not in reader.schema:
            continue
        counts = {}
        leaves = reader.leaf_readers() if not reader.is_atomic() else [(reader, 0)]
        for leaf, _ in leaves:  # per segment: a MultiReader's iter_field is ~6x slower
            for term, info in leaf.iter_field(field):
                form = term.decode("utf-8") if isinstance(term, bytes) else term
                if len(form) <= MAX_CHARS and _KANJI.search(form):
                    counts[form] = counts.get(form, 0) + info.doc_frequency()
        for form, df in counts.items():  # deleted documents still counted: an ordering only
            frequency[form] = max(frequency.get(form, 0), df)
    tokenizer = None
    read, table = {}, {}
    for form, df in frequency.items():
        reading = known.get(form)
        if reading is None:
            if tokenizer is None:
                tokenizer = analysis.system_dictionary().tokenizer(SplitMode.C)
            reading = _reading(tokenizer, form)
        read[form] = reading
        if reading:
            table.setdefault(reading, []).append((df, form))
    return ({reading: [f for _, f in sorted(found, key=lambda x: (-x[0], x[1]))[:MAX_FORMS]]
             for reading, found in table.items()}, read)


def _reading(tokenizer, form):
    """The lexicon's reading of form as one dictionary word, or ""."""
    try:
        morphemes = tokenizer.tokenize(form)
    except Exception:  # noqa: BLE001 - a term Sudachi refuses: no reading
        return ""
    if len(morphemes) != 1:
        return ""
    m = morphemes[0]
    if analysis.search_form(m.surface(), m.normalized_form()) != form:
        return ""
    reading = m.reading_form()
    return reading if reading and reading != form else ""


def path(index_dir, generation):
    return os.path.join(index_dir, f"readings-{generation}.json")


def write(index_dir, generation, table, read):
    target = path(index_dir, generation)
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"version": VERSION, "table": table, "read": read}, f, ensure_ascii=False,
                  separators=(",", ":"))
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


def update(index_dir, generation, before, reader):
    """Write the table of a committed generation, looking up only the words
    the generation before (its number: before) did not have."""
    table, read_forms = build(reader, known(index_dir, before) if before is not None else None)
    write(index_dir, generation, table, read_forms)
    drop_old(index_dir, keep=generation)


def drop_old(index_dir, keep):
    for name in os.listdir(index_dir):
        m = _NAME.match(name)
        if (m and int(m.group(1)) != keep) or (name.startswith("readings-") and name.endswith(".tmp")):
            try:
                os.remove(os.path.join(index_dir, name))
            except OSError:
                pass


def forms(table, text):
    """The forms read as the hiragana text (typed whole), or []."""
    if not table or not analysis.is_hiragana(text) or len(text) < 2:
        return []
    return list(table.get(analysis.katakana(text), ()))
