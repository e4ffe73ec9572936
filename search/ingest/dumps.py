"""Read "dump" files of news posts into items.

A dump is plain text: for each item a headline line, an attribution line
``— NAME (@handle) Month D, YYYY`` and body lines, up to the line before the next
item's headline.  See docs/dump-format.md for the whole format.

Pure standard library.  Parsing works line by line with a few regexes (no
per-character Python loops): a reindex parses tens of megabytes.
"""
from __future__ import annotations

import codecs
import datetime
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

__all__ = [
    "Item", "Dump", "DumpError", "MONTHS",
    "decode", "parse_text", "parse_bytes", "read_dump", "iter_dump_files", "format_item",
]

# English month names, spelled out here: calendar.month_name follows the locale.
MONTHS = ("January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December")
_MONTH_NUMBER = {name: number for number, name in enumerate(MONTHS, 1)}

# The attribution dash is U+2014.  U+2015 is accepted too: CP932 decodes the
# Shift_JIS dash (0x815C) to U+2015, so a dump saved as Shift_JIS would
# otherwise lose every attribution line.
_DASHES = ("\u2014 ", "\u2015 ")
_ATTRIBUTION = re.compile(
    r"[\u2014\u2015] (.+?) \(@([^\s()]+)\) (" + "|".join(MONTHS) + r") ([0-9]{1,2}), ([0-9]{4})"
)
# Only \r\n, \r and \n end a line: str.splitlines would also split on U+2028,
# \x0c, \x1c... which occur inside posts.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# \S+ runs to the next whitespace, so a link glued to the text before it
# (`動き)https://t.co/x`) is still found whole.
_URL = re.compile(r"(?:https?://|pic\.twitter\.com/)\S+")
_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"#\S+")                   # a whole (stripped) line that is one hashtag
_LABEL = re.compile(r"#\S+\([0-9]{6}\)")     # `#ロシア(250213)`: topic and yymmdd
# C0 controls that do not occur in text files (NUL is counted separately).
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f]")


@dataclass(frozen=True)
class Item:
    """One post of a dump (see docs/dump-format.md for each field)."""

    id: str                 # 16 hex chars of the sha1 of the item's raw lines
    headline: str           # URLs removed, whitespace collapsed
    urls: tuple             # links of the headline line, in order
    source: str
    handle: str             # without '@'
    date: datetime.date
    body: str               # "" when there is none; trailing tag lines removed
    tags: tuple             # trailing hashtag-only lines, '#' kept
    line: int               # 1-based line of the headline (or attribution)


@dataclass
class Dump:
    """A parsed dump file."""

    name: str
    items: list
    label: str | None
    preamble: list
    encoding: str
    warnings: list


class DumpError(Exception):
    """A file that cannot be read as a dump; str(e) says why."""


# ---------------------------------------------------------------- decoding

def _check_binary(nuls: int, head_nuls: int, size: int) -> None:
    # A few stray NULs in good text are tolerated (parse_text removes them);
    # many, or a cluster near the start, mean a binary file.
    if nuls > 4 and (nuls * 100 > size or head_nuls > 4):
        raise DumpError(f"binary file (NUL bytes: {nuls})")


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding) for the bytes of a dump; raise DumpError."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    else:
        # Checked before decoding so that binary data is reported as binary
        # rather than as "undecodable".
        _check_binary(data.count(b"\0"), data[:8192].count(b"\0"), len(data))
        candidates = ("utf-8-sig",) if data.startswith(codecs.BOM_UTF8) else ("utf-8", "cp932")
    for encoding in candidates:
        try:
            text = data.decode(encoding)        # strict
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16":                # NUL bytes are normal in UTF-16
            _check_binary(text.count("\0"), text[:4096].count("\0"), len(text))
        controls = len(_CONTROL.findall(text))
        if controls > 4 and controls * 100 > len(text):
            raise DumpError(f"binary file (control characters: {controls})")
        return text, encoding
    if len(candidates) == 1:
        raise DumpError(f"not text: byte order mark of {candidates[0]} but invalid bytes")
    raise DumpError("not text: undecodable as UTF-8, UTF-16 or CP932")


# ----------------------------------------------------------------- parsing

def _attribution(line: str):
    """(source, handle, date) if line is an attribution line, else None;
    a message (str) when it would be one but its date is impossible."""
    match = _ATTRIBUTION.fullmatch(line.rstrip())
    if not match:
        return None
    try:
        date = datetime.date(int(match[5]), _MONTH_NUMBER[match[3]], int(match[4]))
    except ValueError:
        return (f"attribution with an impossible date ({match[3]} {match[4]}, "
                f"{match[5]}) read as body text")
    return match[1], match[2], date


def _split_headline(line: str) -> tuple[str, tuple]:
    urls = tuple(_URL.findall(line))
    if urls:
        # Replaced by a space, not "", so that text on both sides stays apart.
        line = _URL.sub(" ", line)
    return _WHITESPACE.sub(" ", line).strip(), urls


def _item_id(raw_lines: list) -> str:
    raw = "\n".join(raw_lines)
    # surrogatepass: parse_text must accept any str, lone surrogates included.
    return hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _split_body(lines: list) -> tuple[str, tuple]:
    """Body text and trailing tags of an item's body lines."""
    end = len(lines)
    tags = []
    while end:                                  # tags may have blank lines between them
        stripped = lines[end - 1].strip()
        if stripped and not _TAG.fullmatch(stripped):
            break
        if stripped:
            tags.append(stripped)
        end -= 1
    start = 0
    while start < end and not lines[start].strip():
        start += 1
    return "\n".join(lines[start:end]), tuple(reversed(tags))


def parse_text(text: str, name: str = "<text>") -> Dump:
    """Parse the text of a dump.  Never raises: anything not understood is
    body text, preamble or a warning.  Dump.encoding is "utf-8" here (a str
    has none); read_dump sets the encoding found."""
    warnings = []
    if "\0" in text:
        warnings.append(f"removed {text.count(chr(0))} NUL character(s)")
        text = text.replace("\0", "")
    lines = _LINE_BREAK.split(text)

    # Attribution lines: (index, source, handle, date).
    attributions = []
    for index, line in enumerate(lines):
        if not line.startswith(_DASHES):        # cheap test first: most lines are body
            continue
        parsed = _attribution(line)
        if isinstance(parsed, str):
            warnings.append(f"line {index + 1}: {parsed}")
        elif parsed:
            attributions.append((index, *parsed))

    # The label is the last non-blank line, if it looks like `#topic(yymmdd)`.
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    label = None
    if end and _LABEL.fullmatch(lines[end - 1].strip()):
        label = lines[end - 1].strip()
        end -= 1

    # Where each item starts: its headline (the line above the attribution)
    # unless that line is blank or is the previous attribution.
    starts = []
    previous = -1
    for index, *_ in attributions:
        has_headline = index - 1 > previous and lines[index - 1].strip()
        starts.append(index - 1 if has_headline else index)
        previous = index

    first = starts[0] if starts else end
    preamble = [line for line in lines[:first] if line.strip()]
    if preamble and starts:
        warnings.append(f"{len(preamble)} non-blank line(s) before the first item "
                        f"(lines 1-{first}) kept as preamble")
    elif preamble:
        warnings.append(f"no attribution line: {len(preamble)} non-blank line(s) "
                        "kept as preamble")

    items = []
    seen = {}
    for k, (index, source, handle, date) in enumerate(attributions):
        start = starts[k]
        stop = starts[k + 1] if k + 1 < len(starts) else end
        body_lines = lines[index + 1:stop]
        while body_lines and not body_lines[-1].strip():
            body_lines.pop()
        headline_line = lines[start] if start < index else ""
        item_id = _item_id([headline_line, lines[index], *body_lines])
        if item_id in seen:
            warnings.append(f"line {start + 1}: repeats the item of line {seen[item_id]}; kept once")
            continue
        seen[item_id] = start + 1
        headline, urls = _split_headline(headline_line)
        body, tags = _split_body(body_lines)
        items.append(Item(item_id, headline, urls, source, handle, date, body, tags, start + 1))

    return Dump(name=name, items=items, label=label, preamble=preamble,
                encoding="utf-8", warnings=warnings)


def read_dump(path, name=None) -> Dump:
    """Read, decode and parse the dump at path; raise DumpError."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise DumpError(f"cannot read: {error.strerror or error}") from error
    return parse_bytes(data, os.fspath(path) if name is None else name)


def parse_bytes(data: bytes, name: str) -> Dump:
    """Decode and parse a dump's bytes; raise DumpError."""
    text, encoding = decode(data)
    dump = parse_text(text, name)
    dump.encoding = encoding
    return dump


def iter_dump_files(root) -> Iterator[tuple[str, Path]]:
    """Yield (relname, path) for every regular file under root, sorted by
    relname (posix separators), skipping hidden files and directories."""
    root = Path(root)
    found = []
    # Symlinked directories are followed, but each real directory is walked
    # once (no loops, no files listed twice), under its first name in order.
    walked = {os.path.realpath(root)}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        kept = []
        for dirname in sorted(dirnames):
            real = os.path.realpath(os.path.join(dirpath, dirname))
            if not dirname.startswith(".") and real not in walked:
                walked.add(real)
                kept.append(dirname)
        dirnames[:] = kept
        folder = Path(dirpath)
        relfolder = folder.relative_to(root)
        for filename in filenames:
            path = folder / filename
            # is_file() follows symlinks and rejects FIFOs, sockets, broken links.
            if not filename.startswith(".") and path.is_file():
                found.append(((relfolder / filename).as_posix(), path))
    found.sort(key=lambda pair: pair[0])
    yield from found


def format_item(item: Item) -> str:
    """The item in the dump layout; parse_text gives it back."""
    date = item.date
    # An empty line when there is no headline: the line above an attribution
    # is always read as its headline.
    headline = " ".join(part for part in (item.headline, *item.urls) if part)
    if isinstance(_attribution(headline), tuple):
        # A headline that reads as an attribution once its whitespace was
        # collapsed: a tab after the dash keeps it a headline, and the
        # display form (whitespace collapsed) is unchanged.
        headline = headline[0] + "\t" + headline[2:]
    lines = [
        headline,
        f"\u2014 {item.source} (@{item.handle}) "
        f"{MONTHS[date.month - 1]} {date.day}, {date.year:04d}",
    ]
    if item.body:
        lines.append(item.body)
    lines.extend(item.tags)
    return "\n".join(lines) + "\n"
