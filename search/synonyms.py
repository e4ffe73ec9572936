"""Synonyms for queries: the project's news abbreviations (dictionary/
news-abbreviations.json) and Sudachi's synonym dictionary (the npm package
sudachi-synonyms-dictionary, Apache-2.0, converted once by ``make install``
into vendor/synonyms.json, and from it into vendor/synonyms.sqlite: each
word's targets, looked up a word at a time, so that a server process holds
only the words its queries asked for; held whole in Python, the table took
~200 MB in every worker). Both are in Sudachi's format: groups
``{"id", "items": [{"midashi", "expandControl", "taigenYogen", "bunya", ...}]}``.

A word is looked up by its search form (search.analysis.search_form, the
index's terms); a headword of several words by their forms joined with a
space. expandControl: 0 expands both ways, 1 is expanded to but never from,
2 never expands. What is left out of Sudachi's dictionary, because it
misleads in news (docs/vocabulary.md):

- groups of verbs and adjectives (``taigenYogen`` 用言): only nouns expand;
- one-character headwords as a source (米 → コメ, ライス): news abbreviations
  are the project's own, and the project's one-character abbreviations are
  left out of Sudachi's groups (米 is not コメ's synonym in news);
- a word Sudachi's lexicon also knows as a person's name expands only
  within groups of names, places and organisations (トランプ is not the card
  game; アメリカ stays a country);
- the group ids listed in dictionary/synonyms-exclude.txt.

A compound of the project's one-character abbreviations that Sudachi keeps
as one word (米露, 日米, 米中) expands to its characters' synonyms, all of
them required: 米露 also finds items about アメリカ and ロシア.

    python -m search.synonyms build SUDACHI_JSON OUT   # make install runs it
"""

import functools
import json
import os
import sqlite3
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from . import analysis

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILE = ROOT / "dictionary" / "news-abbreviations.json"
EXCLUDE_FILE = ROOT / "dictionary" / "synonyms-exclude.txt"
VENDOR_FILE = ROOT / "vendor" / "synonyms.json"
VENDOR_TABLE = ROOT / "vendor" / "synonyms.sqlite"
LOOKUPS_KEPT = 4096  # words whose vendor targets a process keeps
FORMAT = 1
# Groups whose words are names: a word that is also a person's name expands within them.
NAME_BUNYA = frozenset(["国名", "地名", "人名", "組織名", "企業名", "団体名", "役職"])


@dataclass(frozen=True)
class Target:
    """A word a query word expands to: as shown, its one index term (a
    dictionary word) or its mode-A terms with positions (several words)."""

    display: str
    form: str | None
    terms: tuple


def describe(midashi):
    """(key, form, terms) of a headword as the analyzer cuts it: key the
    search forms of its words joined by spaces ("" when nothing is
    searchable), form the one word's form, terms its (mode-A form, position)."""
    words, terms = [], []
    for info, _, _, position in analysis.iter_words(midashi):
        if info.form is None:
            continue
        words.append(info.form)
        if info.parts:
            terms.extend((f, position + i) for i, (f, _, _) in enumerate(info.parts)
                         if f is not None)
        else:
            terms.append((info.form, position))
    return " ".join(words), (words[0] if len(words) == 1 else None), tuple(terms)


def _is_person_name(midashi):
    dictionary = analysis._dictionary()["dictionary"]
    try:
        return any(m.part_of_speech()[:3] == ("名詞", "固有名詞", "人名")
                   for m in dictionary.lookup(midashi))
    except Exception:  # noqa: BLE001 - a headword the lexicon cannot look up
        return False


def convert(groups):
    """Sudachi's groups as the compact lookup: [[id, [[display, key, form,
    terms, control], ...]], ...], with what misleads left out (see above)."""
    out = []
    for group in groups:
        items = [i for i in group.get("items", ()) if i.get("taigenYogen", "体言") == "体言"]
        names = bool(NAME_BUNYA.intersection(b for i in items for b in i.get("bunya") or ()))
        kept = []
        for item in items:
            midashi = item.get("midashi", "").strip()
            control = int(item.get("expandControl", 0))
            if not midashi or control not in (0, 1):
                continue
            key, form, terms = describe(midashi)
            if not key:
                continue
            if control == 0 and (len(key) < 2 or (not names and _is_person_name(midashi))):
                control = 1  # a target, never a source
            kept.append([midashi, key, form, [list(t) for t in terms], control])
        if len({k[1] for k in kept}) > 1:
            out.append([group.get("id", ""), kept])
    return out


def build(source, out):
    """Convert Sudachi's synonym JSON (source) into the lookup file out."""
    import importlib.metadata

    groups = json.loads(Path(source).read_text(encoding="utf-8"))
    lookup = {"format": FORMAT, "source": str(source),
              "sudachidict_core": importlib.metadata.version("sudachidict-core"),
              "groups": convert(groups)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(lookup, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(out)
    build_table(out, out.with_suffix(".sqlite"))
    return len(lookup["groups"])


class Synonyms:
    """key → the Targets it expands to; chars: the project's one-character
    abbreviations, for compounds of them."""

    def __init__(self, project_groups, vendor_groups=(), exclude=(), vendor_table=None):
        self.targets, self.chars = {}, {}
        self.vendor_table = vendor_table  # VendorTable: Sudachi's targets, looked up on demand
        project = [[g.get("id", ""), [self._item(i) for i in g.get("items", ())]]
                   for g in project_groups]
        # The project's abbreviations mean what news means by them (米 is not コメ's).
        project_chars = {item[1] for _, items in project for item in items
                         if item and len(item[1]) == 1}
        for gid, items in project:
            items = [i for i in items if i]
            self._add(items)
            for item in items:
                if len(item[1]) == 1:
                    self.chars[item[1]] = tuple(
                        [Target(item[0], item[2], tuple(map(tuple, item[3])))]
                        + self._targets_of(items, item[1]))
        for gid, items in vendor_groups:
            if gid in exclude:
                continue
            self._add([i for i in items if i[1] not in project_chars])

    @staticmethod
    def _item(item):
        control = int(item.get("expandControl", 0))
        key, form, terms = describe(item.get("midashi", ""))
        return [item["midashi"], key, form, terms, control] if key else None

    @staticmethod
    def _targets_of(items, key):
        return [Target(i[0], i[2], tuple(map(tuple, i[3]))) for i in items
                if i[4] in (0, 1) and i[1] != key]

    def _add(self, items):
        for item in items:
            if item[4] != 0:
                continue
            found = self.targets.setdefault(item[1], [])
            seen = {t.display for t in found}
            found.extend(t for t in self._targets_of(items, item[1]) if t.display not in seen
                         and not seen.add(t.display))

    def of(self, key):
        """The Targets of a word's (or words') search form: () when none."""
        found = self.targets.get(key, ())
        if self.vendor_table is None:
            return tuple(found)
        seen = {t.display for t in found}
        more = tuple(t for t in self.vendor_table.of(key) if t.display not in seen)
        return tuple(found) + more

    def forms_of(self, text, forms, compounds):
        """Every index term a typed word's synonyms may match (the item
        page marks them): as the builder expands it (search/query/builder.py)."""
        key, form, _ = describe(text)
        targets = [t for f in [*forms, *compounds, key] for t in self.of(f)]
        if form is not None and not compounds and not self.of(form):
            targets.extend(t for _, ts in self.compound(form) or () for t in ts)
        found = set()
        for t in targets:
            found.update([t.form] if t.form is not None else [f for f, _ in t.terms])
        return found

    def compound(self, form):
        """A word made only of the project's one-character abbreviations
        (米露): for each character, its Targets (itself first); None otherwise."""
        if len(form) < 2 or len(form) > 4 or any(c not in self.chars for c in form):
            return None
        return [(c, self.chars[c]) for c in form]


_loaded = {}
_lock = threading.Lock()


def vendor_available():
    return VENDOR_FILE.exists()


def get():
    """The process's Synonyms, loaded on first use (the files are read once)."""
    found = _loaded.get("synonyms")
    if found is None:
        with _lock:
            found = _loaded.get("synonyms")
            if found is None:
                found = _loaded["synonyms"] = load()
    return found


def _read_exclude(exclude_file):
    if not Path(exclude_file).exists():
        return set()
    return {line.split("#")[0].strip() for line in
            Path(exclude_file).read_text(encoding="utf-8").splitlines()} - {""}


def _read_project(project_file):
    return json.loads(Path(project_file).read_text(encoding="utf-8")) \
        if Path(project_file).exists() else []


def load(project_file=PROJECT_FILE, vendor_file=VENDOR_FILE, exclude_file=EXCLUDE_FILE,
         vendor_table=VENDOR_TABLE):
    """The Synonyms: the project's in memory, Sudachi's from the table
    (built from vendor_file when missing or older than what it is made of)."""
    project = _read_project(project_file)
    table = None
    if Path(vendor_file).exists():
        sources = [Path(vendor_file), Path(project_file), Path(exclude_file), Path(__file__)]
        newest = max(p.stat().st_mtime for p in sources if p.exists())
        if not Path(vendor_table).exists() or Path(vendor_table).stat().st_mtime < newest:
            build_table(vendor_file, vendor_table, project_file, exclude_file)
        table = VendorTable(vendor_table)
    return Synonyms(project, vendor_table=table)


def build_table(vendor_file, out, project_file=PROJECT_FILE, exclude_file=EXCLUDE_FILE):
    """Sudachi's groups (vendor_file) as each word's targets, one row a word,
    with the project's abbreviations and the exclusions applied."""
    data = json.loads(Path(vendor_file).read_text(encoding="utf-8"))
    vendor = data["groups"] if data.get("format") == FORMAT else []
    whole = Synonyms(_read_project(project_file), vendor, _read_exclude(exclude_file))
    project = Synonyms(_read_project(project_file))
    out = Path(out)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.execute("CREATE TABLE targets (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        rows = []
        for key, targets in whole.targets.items():
            own = {t.display for t in project.targets.get(key, ())}
            extra = [[t.display, t.form, [list(x) for x in t.terms]] for t in targets
                     if t.display not in own]
            if extra:
                rows.append((key, json.dumps(extra, ensure_ascii=False, separators=(",", ":"))))
        db.executemany("INSERT INTO targets VALUES (?, ?)", rows)
        db.commit()
    finally:
        db.close()
    tmp.replace(out)
    return len(rows)


class VendorTable:
    """Sudachi's targets of a word, read from the table when first asked for
    and kept (the last LOOKUPS_KEPT words). Thread-safe."""

    def __init__(self, path):
        self.path = str(path)
        self.local = threading.local()
        self.of = functools.lru_cache(maxsize=LOOKUPS_KEPT)(self._of)

    def _of(self, key):
        db = getattr(self.local, "db", None)
        if db is None:
            db = self.local.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                                 check_same_thread=False)
        row = db.execute("SELECT value FROM targets WHERE key = ?", (key,)).fetchone()
        if row is None:
            return ()
        return tuple(Target(d, f, tuple(map(tuple, t))) for d, f, t in json.loads(row[0]))


def main(argv):
    if len(argv) == 3 and argv[0] == "build":
        n = build(argv[1], argv[2])
        print(f"Sudachi の同義語辞書を変換しました: {n} グループ → {argv[2]}")
        return 0
    print("usage: python -m search.synonyms build SUDACHI_SYNONYMS_JSON OUT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
