"""The user dictionary: words the news team adds to Sudachi's
(dictionary/user.csv, Sudachi's user-dictionary CSV; docs/vocabulary.md).

A reindex checks the CSV (``check``: column count, part of speech, the
headword in Sudachi's normalised form), compiles it with SudachiPy's own
builder (``sudachipy ubuild``) once per content (a cache keyed by the
CSV's and the system dictionary's hashes), and stores the compiled file
beside the manifests, named by that hash (``user-<sha1>.dic``: every
generation built with it names the same file). The manifest
records the analysis fingerprint (``fingerprint``); a reader analyses
queries with the dictionary its generation was built with
(search/query/service.py sets it, search/analysis.py loads it).
"""

import csv
import hashlib
import importlib.metadata
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT / "dictionary" / "user.csv"
# What the analyzer does with Sudachi's words (search/analysis.py): a change
# here means every generation must be analysed again.
ANALYZER_SETTINGS = "mode-C+A-parts;normalized-form;latin-lowercase;v1"
# What check() checks: a stricter check means CSVs remembered as checked
# (compile_csv) are checked again.
CHECK_VERSION = 1
COLUMNS = (18, 19)  # Sudachi's documented count; its builder also takes a 19th
# user-<sha1 of the checked CSV>.dic; user-<generation>.dic in older indexes
_USER_DIC = re.compile(r"^user-(?:\d+|[0-9a-f]{40})\.dic$")


class UserDictError(ValueError):
    """A user dictionary that cannot be used: the message names the file,
    the line and the reason."""


def system_dic():
    import sudachidict_core

    return os.path.join(os.path.dirname(sudachidict_core.__file__), "resources", "system.dic")


def sudachidict_version():
    return importlib.metadata.version("sudachidict-core")


def fingerprint(user_sha=None):
    """What the analysis of a generation depends on, kept in its manifest."""
    return {"sudachidict_core": sudachidict_version(), "user_dict": user_sha,
            "analyzer": ANALYZER_SETTINGS}


def _known_pos():
    from . import analysis

    dictionary = analysis.system_dictionary()
    found, i = set(), 0
    while True:
        pos = dictionary.pos_of(i)
        if pos is None:
            return found
        found.add(tuple(pos))
        i += 1


def normalised(text):
    """Sudachi's input normalisation (its default plugin): NFKC, lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def check(path, raw=None):
    """The CSV's lines to compile (comment lines starting with # and blank
    lines left out), as text; raises UserDictError naming file, line, reason.
    raw: the file's bytes, read already (None: read here)."""
    try:
        text = (_read(path) if raw is None else raw).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserDictError(f"{path}: cannot read the user dictionary: {e}") from None
    known = None
    kept = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = next(csv.reader([line]))
        where = f"{path}:{number}"
        if len(row) not in COLUMNS:
            raise UserDictError(f"{where}: {len(row)} columns; Sudachi's user dictionary "
                                f"takes 18 (headword, left id, right id, cost, …)")
        headword = row[0]
        if not headword:
            raise UserDictError(f"{where}: the headword (column 1) is empty")
        if normalised(headword) != headword:
            raise UserDictError(f"{where}: the headword {headword!r} is not in Sudachi's "
                                f"normalised form: write {normalised(headword)!r}")
        for column in (1, 2, 3):
            try:
                int(row[column])
            except ValueError:
                raise UserDictError(f"{where}: column {column + 1} ({row[column]!r}) must be "
                                    "an integer (left id, right id, cost)") from None
        if known is None:
            known = _known_pos()
        pos = tuple(row[5:11])
        if pos not in known:
            raise UserDictError(f"{where}: unknown part of speech {','.join(pos)!r} "
                                "(columns 6-11 must be one of Sudachi's, e.g. "
                                "名詞,固有名詞,一般,*,*,*)")
        if row[14] not in ("A", "B", "C", "*"):
            raise UserDictError(f"{where}: column 15 (split type) must be A, B, C or *")
        kept.append(line)
    return "".join(line + "\n" for line in kept)


def _read(path):
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise UserDictError(f"{path}: cannot read the user dictionary: {e}") from None


def _compiled(sha):
    return os.path.join(cache_dir(), f"{sha}.dic")


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nhk-search", "user-dic")


def compile_csv(path):
    """(compiled .dic path, sha1 of the checked CSV), (None, None) for a
    CSV without entries. Checked and compiled once per content and system
    dictionary (sudachipy ubuild takes ~10 s; the check loads Sudachi's
    dictionary for its parts of speech, a daily reindex's second load of
    it): a CSV whose bytes were checked before is known by their hash."""
    raw = _read(path)
    seen = os.path.join(cache_dir(), hashlib.sha1(
        f"{sudachidict_version()}\n{CHECK_VERSION}\n".encode() + raw).hexdigest() + ".checked")
    sha = _read_seen(seen)
    if sha is not None:
        target = _compiled(sha)
        if os.path.exists(target):
            return target, sha
    lines = check(path, raw)  # the bytes the cache is keyed by, not the file read again
    if not lines.strip():
        return None, None  # no entry: Sudachi's dictionary alone
    sha = hashlib.sha1((sudachidict_version() + "\n" + lines).encode("utf-8")).hexdigest()
    target = _compiled(sha)
    if not os.path.exists(target):
        _build(path, lines, target)
    _write_seen(seen, sha)
    return target, sha


def _build(path, lines, target):
    os.makedirs(cache_dir(), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        source, out = os.path.join(tmp, "user.csv"), os.path.join(tmp, "user.dic")
        with open(source, "w", encoding="utf-8") as f:
            f.write(lines)
        run = subprocess.run(
            [sys.executable, "-c", "from sudachipy.command_line import main; main()",
             "ubuild", "-s", system_dic(), "-o", out, source],
            capture_output=True, text=True)
        if run.returncode != 0 or not os.path.exists(out):
            reason = (run.stderr.strip().splitlines() or ["sudachipy ubuild failed"])[-1]
            raise UserDictError(f"{path}: Sudachi's builder refused it: {reason}")
        os.replace(out, target)


def _read_seen(seen):
    """The checked CSV's sha1 remembered for these bytes, or None."""
    try:
        with open(seen, encoding="ascii") as f:
            sha = f.read().strip()
    except (OSError, ValueError):
        return None
    return sha if re.fullmatch(r"[0-9a-f]{40}", sha) else None


def _write_seen(seen, sha):
    """Remembered only once the CSV passed the check and its .dic exists."""
    tmp = f"{seen}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="ascii") as f:
            f.write(sha)
        os.replace(tmp, seen)
    except OSError:
        pass  # checked again next time


def dic_path(index_dir, sha):
    return os.path.join(index_dir, f"user-{sha}.dic")


def store(index_dir, sha, compiled):
    """Put the compiled dictionary beside the manifests; returns its file
    name. Named by its content, not by generation: the generations built
    with the same dictionary name the same file, so a server following
    them keeps the dictionary it loaded (instead of loading a copy each
    reindex, and failing if a reindex dropped the copy it was about to
    load)."""
    target = dic_path(index_dir, sha)
    if not os.path.exists(target):
        tmp = f"{target}.{os.getpid()}.tmp"
        shutil.copyfile(compiled, tmp)
        os.replace(tmp, target)
    return os.path.basename(target)


def drop_old(index_dir, keep, before=None):
    """Once generation keep is committed, remove the user dictionaries
    neither it nor the generation before (which a server may still read)
    names. keep: the new generation's file name (None: none); before: the
    generation before's number. The manifest before is read only when
    there is a file to remove: a daily reindex with an unchanged
    dictionary finds none."""
    names = [n for n in os.listdir(index_dir) if n.startswith("user-")]
    for name in names:
        if name.endswith(".tmp"):
            _remove(os.path.join(index_dir, name))
    others = [n for n in names if _USER_DIC.match(n) and n != keep]
    if not others:
        return
    if before is not None:
        from .index import manifest as manifests

        previous = of_manifest(index_dir, manifests.read_manifest(index_dir, before))
        others = [n for n in others if n != os.path.basename(previous or "")]
    for name in others:
        _remove(os.path.join(index_dir, name))


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def serving(index_dir):
    """The user dictionary of the index's latest generation, or None."""
    from .index import manifest as manifests
    from .index import storage

    try:
        generation = storage.open_index(index_dir).latest_generation()
    except Exception:  # noqa: BLE001 - no index yet: Sudachi's dictionary alone
        return None
    path = of_manifest(index_dir, manifests.read_manifest(index_dir, generation))
    return path if path and os.path.exists(path) else None


def of_manifest(index_dir, manifest):
    """The user dictionary a generation was built with (a path), or None."""
    name = ((manifest or {}).get("analysis") or {}).get("user_dict_file")
    return os.path.join(index_dir, name) if name else None
