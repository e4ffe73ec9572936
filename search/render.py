"""Match spans made into HTML, and the engine's typed answers made into the
JSON documents of the API (docs/api.md), in one place: web/ serves what this
makes, and `python -m search query --json` prints it. The engine itself
(search/query/) speaks in texts and character ranges, never in markup.
"""

from html import escape

ELLIPSIS = "…"


def mark(text, spans):
    """text HTML-escaped, with the spans (sorted, merged character ranges)
    in <mark>."""
    out, at, end = [], 0, len(text)
    for s, e in spans:
        s, e = max(s, 0), min(e, end)
        if s >= e or s < at:
            continue
        out.append(escape(text[at:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        at = e
    out.append(escape(text[at:]))
    return "".join(out)


def snippet_html(snippet):
    """A snippet (search.query.snippets.Snippet) as HTML, "…" where the text
    was cut."""
    return ((ELLIPSIS if snippet.cut_before else "") + mark(snippet.text, snippet.spans)
            + (ELLIPSIS if snippet.cut_after else ""))


def hit_json(hit):
    return {
        "id": hit.id,
        "headline": hit.headline,
        "headline_html": mark(hit.headline, hit.headline_spans),
        "snippet": snippet_html(hit.snippet),
        "source": hit.source,
        "handle": hit.handle,
        "date": hit.date,
        "url": hit.url,
        "tags": list(hit.tags),
        "score": round(hit.score, 4),
        "labels": list(hit.labels),
        "story": story_json(hit.story, hit.story_items),
    }


def story_json(story, items=None):
    """A hit's story: its id, how many items it has, from which sources;
    with group=story, the ids of its other items that match the query."""
    if story is None:
        return None
    out = {"id": story.id, "size": story.size, "sources": list(story.sources)}
    if items is not None:
        out["items"] = list(items)
    return out


def search_json(result):
    """The answer of /api/search."""
    request = result.request
    return {"query": request.q, "total": result.total, "page": request.page,
            "per_page": request.per_page, "pages": result.pages, "took_ms": result.took_ms,
            "hits": [hit_json(hit) for hit in result.hits],
            "facets": {name: dict(counts) for name, counts in result.facets.items()},
            "expanded": {word: list(found) for word, found in (result.expanded or {}).items()}}


def item_json(item):
    """The answer of /api/items/<id>: the stored item; with a query, its
    headline and body as HTML with the query's words marked."""
    doc = dict(item.fields, labels=list(item.labels))
    if item.story is not None:
        doc["story"] = story_json(item.story)
    if item.spans is not None:
        doc["headline_html"] = mark(doc.get("headline", ""), item.spans["headline"])
        doc["body_html"] = mark(doc.get("body", ""), item.spans["body"])
    return doc


def related_json(item_id, story, related):
    """The answer of /api/items/<id>/related."""
    return {"id": item_id, "story": story_json(story),
            "related": [{"id": r.id, "headline": r.headline, "source": r.source,
                         "handle": r.handle, "date": r.date, "url": r.url, "score": r.score,
                         "same_story": r.same_story} for r in related]}


def timeline_json(timeline):
    """The answer of /api/timeline."""
    return {"query": timeline.request.q, "interval": timeline.interval,
            "buckets": [{"start": b.start, "count": b.count, "total": b.total,
                         "share": round(b.share, 4)} for b in timeline.buckets],
            "sources": {name: list(counts) for name, counts in timeline.sources.items()}}
