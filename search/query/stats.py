"""Counts of the whole index: items per source, dumps, the date range."""

from whoosh import query as Q
from whoosh import sorting

from ..index import manifest as manifests
from ..index import storage, whoosh_internals


def index_stats(index_dir, searcher=None):
    """Counts for /api/stats and `python -m search stats`."""
    own = searcher is None
    if own:
        searcher = storage.open_index(index_dir).searcher()
    try:
        reader = searcher.reader()
        results = searcher.search(Q.Every(), limit=1, groupedby={
            "source": sorting.FieldFacet("source", maptype=sorting.Count)})
        sources = dict(sorted(results.groups("source").items(), key=lambda kv: (-kv[1], kv[0])))
        dates = [d.decode() if isinstance(d, bytes) else d for d in reader.lexicon("date")]
        generation = whoosh_internals.latest_generation(searcher)
        manifest = manifests.read_manifest(index_dir, generation) or {}
        return {"items": searcher.doc_count(), "sources": sources,
                "dumps": len(manifest.get("files", {})),
                "first_date": dates[0] if dates else None,
                "last_date": dates[-1] if dates else None,
                "indexed_at": manifest.get("indexed_at")}
    finally:
        if own:
            searcher.close()
