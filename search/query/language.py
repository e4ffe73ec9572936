"""The query language users type, parsed without Whoosh's parser.

Google-like: words separated by spaces (ASCII or full-width) must all match;
``"…"`` (or typographic quotes, as phones type them: ``“…”``) is an exact
phrase; ``-word`` or ``NOT word`` excludes; ``A OR B`` matches either;
``AND`` is what a space already means; a trailing ``*`` asks for a prefix. Nothing else is syntax: no fields, no
wildcards inside words, no ranges, so users cannot reach Whoosh's parser or
make it slow. Parentheses and other symbols are ordinary characters (the
analyzer drops them). Unbalanced quotes close at the end of the query.

Input is cleaned first (``clean``): invisible format characters pasted with
a word (zero-width spaces, joiners, BOMs, soft hyphens) are removed, and it
is NFKC-normalized, so full-width ＂, －, ＯＲ and spaces behave like their
ASCII forms.
"""

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 500
MAX_UNITS = 32

_LEX = re.compile(r'\s+|"[^"]*"?|[^\s"]+')
# Typographic double quotes (phones and word processors type them): quotes.
_QUOTES = str.maketrans(dict.fromkeys("“”„‟〝〞〟″", '"'))


class QuerySyntaxError(ValueError):
    """A query the engine will not run; the message is for the user."""


@dataclass(frozen=True)
class Unit:
    """One thing the user typed: a word or a quoted phrase."""

    text: str
    phrase: bool = False
    negated: bool = False
    prefix: bool = False  # trailing '*', or the last word still being typed
    last: bool = False  # the final word, with nothing typed after it


def parse(q):
    """Parse q into groups: a list of alternatives lists, each alternative a
    Unit. ``a b OR c -d`` → [[a], [b, c], [-d]]: groups are ANDed, the units
    of a group ORed."""
    q = clean((q or "").translate(_QUOTES)).replace("\0", " ")  # before NFKC: it splits ″
    if len(q) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            f"クエリが長すぎます（{len(q)} 文字）。{MAX_QUERY_CHARS} 文字以内にしてください。")
    pieces = [p for p in _LEX.findall(q) if not p.isspace()]
    open_end = bool(q) and not q[-1].isspace()
    units, pending_or, pending_not = [], False, False
    for i, piece in enumerate(pieces):
        if piece == "OR":
            pending_or = bool(units)
            continue
        if piece == "AND":  # what a space means
            continue
        if piece == "NOT":
            pending_not = True
            continue
        if pending_not and not piece.startswith("-"):
            piece = "-" + piece
        pending_not = False
        unit = _unit(piece, last=open_end and i == len(pieces) - 1)
        if unit is None:
            continue
        if pending_or and not unit.negated and not units[-1][-1].negated:
            units[-1].append(unit)
        else:
            units.append([unit])
        pending_or = False
    if sum(len(g) for g in units) > MAX_UNITS:
        raise QuerySyntaxError(
            f"語が多すぎます。{MAX_UNITS} 語以内にしてください。")
    return units


def clean(text):
    """text without invisible format characters (Unicode category Cf: U+200B
    zero-width space, U+2060, U+FEFF, U+00AD, directional marks…),
    NFKC-normalized."""
    text = text or ""
    if any(unicodedata.category(c) == "Cf" for c in text):
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", text)


def _unit(piece, last):
    negated = False
    if piece.startswith("-") and len(piece) > 1:
        negated, piece = True, piece[1:]
    if piece.startswith('"'):
        text = piece[1:-1] if len(piece) > 1 and piece.endswith('"') else piece[1:]
        text = text.strip()
        return Unit(text, phrase=True, negated=negated) if text else None
    prefix = piece.endswith("*")
    text = piece.strip("*")
    if not text:
        return None
    return Unit(text, negated=negated, prefix=prefix and not negated,
                last=last and not negated)
