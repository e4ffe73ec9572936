"""The Whoosh schema of an item, and the document an item becomes.

The schema is pickled into the index, analyzer and posting format included
(search.analysis, search.index.formats): those classes stay at their import
paths, or the indexes written before cannot be opened (search/__init__.py
keeps the paths of modules that moved).
"""

from whoosh import fields
from whoosh.analysis import LowercaseFilter, RegexTokenizer

from ..analysis import fold, japanese_analyzer
from .formats import JapaneseText

# A reindex rebuilds an index of another version in full, and says why.
# 3: segments with posting arrays and array blocks; 4: headline-only items
# indexed with their headline as their body; 5: stories beside the index,
# ids as a column.
SCHEMA_VERSION = 5
TEXT_FIELDS = ("headline", "body")  # the Japanese text fields, scored together (BM25F)


def make_schema():
    ja = japanese_analyzer()
    return fields.Schema(
        # A column too: the server maps each document to its story and
        # labels by id (search/query/columns.py).
        id=fields.ID(stored=True, unique=True, sortable=True),
        headline=JapaneseText(analyzer=ja, stored=True),
        body=JapaneseText(analyzer=ja, stored=True),
        source=fields.ID(stored=True, sortable=True),
        handle=fields.ID(stored=True),
        date=fields.ID(stored=True, sortable=True),  # YYYY-MM-DD sorts as text
        urls=fields.STORED(),
        tags=fields.STORED(),
        # One tag per line, folded, '#' dropped: what the tag filter matches.
        # (KEYWORD would split on spaces, which tags may hold.)
        tag=fields.TEXT(analyzer=RegexTokenizer(r"[^\n]+") | LowercaseFilter(),
                        phrase=False),
        dumps=fields.STORED(),
    )


def tag_key(tag):
    """#米宇(鉱物資源協定), 米宇(鉱物資源協定) and ＃米宇（鉱物資源協定） are one tag."""
    return fold(tag).strip().lstrip("#").strip()


def tag_field(tags):
    """The indexed tag field: one folded tag per line; None (left out) when
    there are none."""
    return "\n".join(tag_key(t) for t in tags) or None


def document(item, dumps):
    """The Whoosh document of a parsed item present in the given dump files."""
    return _headline_as_body(dict(
        id=item.id,
        headline=item.headline,
        body=item.body,
        source=item.source,
        handle=item.handle,
        date=item.date.isoformat(),
        urls=list(item.urls),
        tags=list(item.tags),
        tag=tag_field(item.tags),
        dumps=sorted(dumps),
    ))


def stored_document(stored, dumps):
    """The Whoosh document of an item read back from the index (its stored
    fields), now present in the given dump files."""
    doc = dict(stored, dumps=sorted(dumps), tag=tag_field(stored.get("tags", ())))
    return _headline_as_body(doc)


def _headline_as_body(doc):
    """A post that is only a headline is indexed with its headline as its
    body too (the stored body stays empty): scored on one field of two,
    BM25F would rank it below items that repeat the same words in a text,
    though its headline says all of it."""
    if not (doc.get("body") or "").strip() and doc.get("headline"):
        doc = dict(doc, body=doc["headline"], _stored_body=doc.get("body") or "")
    return doc
