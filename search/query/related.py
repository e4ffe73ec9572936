"""An item's related items: its story's other items first, then the items
most like it (more-like-this: its headline's and lead's content nouns,
weighted by tf-idf, searched as one OR query)."""

import math
from dataclasses import dataclass

from whoosh import query as Q

from .. import analysis
from ..ingest.stories import LEAD_CHARS, story_terms
from . import evaluate
from .nodes import FieldsTerm
from .scoring import idf

MAX_LIKE_TERMS = 12


@dataclass(frozen=True)
class RelatedItem:
    id: str
    headline: str
    source: str
    handle: str
    date: str
    url: str
    score: float
    same_story: bool


def like_query(reader, headline, body):
    """The OR query of an item's most telling words, or None."""
    terms, _ = story_terms(headline, analysis.postings(headline),
                           analysis.postings(body[:LEAD_CHARS]) if body else {})
    weighted = sorted(((1 + math.log(n)) * idf(reader, t), t) for t, n in terms)[-MAX_LIKE_TERMS:]
    if not weighted:
        return None
    return Q.Or([FieldsTerm(t) for _, t in weighted])


def related(service, s, docnum, limit):
    """(StoryInfo, [RelatedItem]) of the item at docnum."""
    stories = service.stories(s)
    info = stories.info(docnum)
    code = stories.code(docnum)
    members = [int(d) for d in (stories.members(code) if code >= 0 else ()) if d != docnum]
    doc = s.stored_fields(docnum)
    q = like_query(s.reader(), doc.get("headline", ""), doc.get("body", ""))
    scored = {}
    if q is not None:
        docnums, scores = evaluate.Evaluation(s).matches(q)
        scored = dict(zip(docnums.tolist(), scores.tolist()))
    dates = service.columns.get(s, "date").rank
    members.sort(key=lambda d: (-scored.get(d, 0.0), -int(dates[d]), d))
    same = set(members)
    like = sorted((d for d in scored if d != docnum and d not in same),
                  key=lambda d: (-scored[d], d))
    chosen = (members + like)[:limit]
    return info, [_item(s, d, round(scored.get(d, 0.0), 4), d in same) for d in chosen]


def _item(s, docnum, score, same_story):
    doc = s.stored_fields(docnum)
    urls = doc.get("urls") or []
    return RelatedItem(doc["id"], doc.get("headline", ""), doc.get("source", ""),
                       doc.get("handle", ""), doc.get("date", ""), urls[0] if urls else "",
                       score, same_story)
