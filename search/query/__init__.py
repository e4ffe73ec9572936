"""From a typed request to ranked hits: the query language, the request,
the query builder and its scoring, the whole-segment evaluation, match
spans and snippets, and the service that runs them over an index.

    >>> service = SearchService("index")
    >>> result = service.search(parse_request({"q": "ウクライナ", "sort": "newest"}))
    >>> result.total, result.hits[0].headline_spans

The service (numpy, Whoosh's searching) is imported when first named, so
that the command line and the server's master process stay light.
"""

import importlib

from .errors import BadRequest, NotFound, QueryError
from .request import (DEFAULT_PER_PAGE, MAX_PER_PAGE, MAX_RESULTS, OPS, SORTS, Filters,
                      SearchRequest, parse_request)
from .results import Hit, Item, SearchResult

_LAZY = {"SearchService": ".service", "index_stats": ".stats"}

__all__ = ["BadRequest", "NotFound", "QueryError", "DEFAULT_PER_PAGE", "MAX_PER_PAGE",
           "MAX_RESULTS", "OPS", "SORTS", "Filters", "SearchRequest", "parse_request",
           "Hit", "Item", "SearchResult", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
