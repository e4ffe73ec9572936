"""A search request as typed values, and the one function that builds it
from a mapping of parameters (strings from a URL, or typed values from the
command line): every check of a parameter happens here.
"""

import re
from dataclasses import dataclass, field, replace
from datetime import date

from .. import analysis
from . import language
from .errors import BadRequest

OPS = ("and", "or")
SORTS = ("relevance", "newest", "oldest")
GROUPS = ("none", "story")  # story: each story once, by its best hit
INTERVALS = ("day", "week", "month")
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
MAX_RESULTS = 10000  # deepest result reachable by paging
_STORY_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Filters:
    """What a hit must be besides matching: any of the sources (a name or a
    handle), any of the tags, any of the dump labels, of the story named,
    dated within [date_from, date_to]."""

    sources: tuple = ()
    tags: tuple = ()
    date_from: date | None = None
    date_to: date | None = None
    labels: tuple = ()
    story: str | None = None

    def __bool__(self):
        return bool(self.sources or self.tags or self.date_from or self.date_to
                    or self.labels or self.story)


@dataclass(frozen=True)
class SearchRequest:
    """A validated search: the query as typed and as parsed (groups of
    language.Unit: groups are ANDed, the units of a group ORed). No groups
    (a blank query): browsing, every item the filters allow, newest first."""

    q: str
    groups: tuple
    op: str = "and"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = "relevance"
    filters: Filters = field(default_factory=Filters)
    group: str = "none"
    cursor: object = None  # a walk's cursor.Cursor (cursor=, search/query/cursor.py); None: paging
    synonyms: bool = True  # syn=0: the words as typed only (search/synonyms.py)


def parse_request(params):
    """The SearchRequest of a mapping of parameters (q, op, page, per_page,
    sort, source, tag, from, to); a werkzeug MultiDict, or a dict whose
    values are strings, lists or already typed values (int, date). Raises
    BadRequest with a message naming the parameter."""
    q = str(_one(params, "q", "") or "")
    try:
        groups = language.parse(q) if q.strip() else []
    except language.QuerySyntaxError as e:
        raise BadRequest("invalid_query", str(e)) from None
    request = SearchRequest(
        q=q,
        groups=tuple(tuple(g) for g in groups),
        page=_int(params, "page", 1, 1, MAX_RESULTS),
        per_page=_int(params, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
        op=_choice(params, "op", OPS),
        sort=_choice(params, "sort", SORTS),
        group=_choice(params, "group", GROUPS),
        filters=parse_filters(params),
        synonyms=parse_synonyms(params))
    if request.page * request.per_page > MAX_RESULTS:
        raise BadRequest("invalid_parameter",
                         f"{MAX_RESULTS} 件目より後は表示できません。条件を絞り込んでください")
    if "cursor" in params:
        request = _with_cursor(params, request)
    return request


def _with_cursor(params, request):
    """cursor= (a walk, search/query/walk.py): "*" or blank starts one; a
    cursor must be of the same request, and replaces page."""
    from . import cursor as cursors  # only when asked: it loads the query tree's classes

    if str(_one(params, "page", "")).strip() not in ("", "1"):
        raise BadRequest("invalid_parameter", "cursor と page は同時に指定できません")
    if request.group != "none":
        raise BadRequest("invalid_parameter", "cursor と group は同時に指定できません")
    state = cursors.decode(str(_one(params, "cursor", "") or ""))
    return replace(request, cursor=cursors.check(state, request))


def parse_filters(params):
    """The Filters of a mapping of parameters (source, tag, label, story, from, to)."""
    story = str(_one(params, "story", "") or "").strip().lower()
    if story and not _STORY_ID.match(story):
        raise BadRequest("invalid_parameter", f"story は記事 ID（16 桁の英数字）です（{story[:20]!r}）")
    filters = Filters(sources=_many(params, "source"), tags=_many(params, "tag"),
                      labels=_many(params, "label"), story=story or None,
                      date_from=_date(params, "from"), date_to=_date(params, "to"))
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise BadRequest("invalid_parameter", "from は to 以前の日付にしてください")
    return filters


_SYN = {"": True, "1": True, "on": True, "true": True, "yes": True,
        "0": False, "off": False, "false": False, "no": False}


def parse_synonyms(params):
    """syn= (1 by default): 0 searches the words as typed, without synonyms."""
    value = _one(params, "syn", "")
    if isinstance(value, bool):
        return value
    raw = analysis.fold(str(value)).strip()
    if raw not in _SYN:
        raise BadRequest("invalid_parameter", f"syn は 0 か 1 で指定してください（{raw[:20]!r}）")
    return _SYN[raw]


def parse_interval(params):
    """The timeline's bucket: day, week or month."""
    return _choice(params, "interval", INTERVALS)


def parse_limit(params, default, high):
    return _int(params, "limit", default, 1, high)


def _one(params, name, default=""):
    value = params.get(name, default)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else default
    return value if value is not None else default


def _many(params, name):
    if hasattr(params, "getlist"):
        values = params.getlist(name)
    else:
        values = params.get(name) or []
        values = [values] if isinstance(values, str) else list(values)
    return tuple(v.strip() for v in values if v and v.strip())


def _int(params, name, default, low, high):
    value = _one(params, name, "")
    if not isinstance(value, int) or isinstance(value, bool):
        raw = str(value).strip()
        if not raw:
            return default
        try:
            value = int(analysis.fold(raw))
        except ValueError:
            raise BadRequest("invalid_parameter",
                             f"{name} は整数で指定してください（{raw[:20]!r}）") from None
    if not low <= value <= high:
        raise BadRequest("invalid_parameter", f"{name} は {low}〜{high} で指定してください")
    return value


def _date(params, name):
    value = _one(params, name, "")
    if isinstance(value, date):
        return value
    raw = analysis.fold(str(value)).strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("invalid_parameter",
                         f"{name} は YYYY-MM-DD 形式の日付で指定してください（{raw[:20]!r}）") from None


def _choice(params, name, choices):
    value = str(_one(params, name, "")).strip().lower() or choices[0]
    if value not in choices:
        raise BadRequest("invalid_parameter",
                         f"{name} は {' / '.join(choices)} のいずれかです（{value[:20]!r}）")
    return value
