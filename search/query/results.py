"""What the engine answers: typed values, texts with match spans (character
ranges), no markup (search/render.py makes HTML of them)."""

from dataclasses import dataclass

from .request import SearchRequest
from .snippets import Snippet


@dataclass(frozen=True)
class Hit:
    id: str
    headline: str
    headline_spans: tuple  # ((start, end), ...) into headline
    snippet: Snippet  # a window of the body, with its spans
    source: str
    handle: str
    date: str  # YYYY-MM-DD
    url: str  # the first of the headline's links, or ""
    tags: tuple
    score: float
    labels: tuple = ()  # the labels of the dumps that hold it
    story: object = None  # columns.StoryInfo
    story_items: tuple | None = None  # group=story: the story's other matching items' ids


@dataclass(frozen=True)
class SearchResult:
    request: SearchRequest
    total: int
    pages: int
    hits: tuple
    facets: dict  # {"source": {name: count}, "date": {day: count}, "tag": {tag: count}}, in display order
    took_ms: float
    searchable: bool = True
    expanded: dict = None  # {typed word: [its synonyms searched too]}; None: {}
    stories: int | None = None  # group=story: how many stories (total counts them then)  # False: the query has no word that can be searched (only particles, symbols)


@dataclass(frozen=True)
class Item:
    fields: dict  # the stored item
    spans: dict | None = None  # with a query: {"headline": spans, "body": spans}
    labels: tuple = ()
    story: object = None  # columns.StoryInfo
