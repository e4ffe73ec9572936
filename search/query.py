"""Ranked search over the index: one engine for the API, the page and the CLI.

``SearchService(index_dir).search(params)`` takes the request's parameters
(strings, as a browser or script sends them), validates them, and answers a
plain dict: hits with highlighted headline and snippet, totals and facets.
Bad parameters raise ``QueryError`` with a code and a message for the user.
"""

import math
import os
import re
import threading
import time
from datetime import date

import numpy as np
from whoosh import query as Q
from whoosh import matching, scoring, sorting
from whoosh.query.spans import SpanNear

from . import analysis, evaluate, querylang, snippets, store

# Ranking: docs/quality.md measures each choice (`make eval` reproduces it).
HEADLINE_BOOST = 2.0  # BM25F field weight: a headline occurrence counts as two body ones
COMPOUND_BOOST = 1.0  # the whole compound, on top of its parts
PART_BOOST = 0.5  # op=or: a part of a compound found without the compound
PHRASE_BOOST = 1.0  # parts adjacent as typed
NEAR_BOOST = 0.5  # op=or: typed neighbours as near in the text as typed, × the idf of the commoner
PREFIX_BOOST = 0.5  # words completed from a prefix rank below typed words
K1, B = 0.9, 0.75  # BM25 saturation of repeated words and length normalization
# Question and function words, left out of op=or queries (a question is sent
# whole, as one OR): by Sudachi's part of speech (pronouns: 何 誰 どこ いつ;
# adnominals: どの その; auxiliary-like verbs and adjectives: する ある いる
# なる できる ない; よう そう), and a few interrogatives by form.
FUNCTION_POS = (("代名詞",), ("連体詞",), ("動詞", "非自立可能"), ("形容詞", "非自立可能"),
                ("形状詞", "助動詞語幹"))
FUNCTION_FORMS = frozenset(["何", "幾つ", "幾ら", "何故", "如何", "如何に", "どう", "どんな"])
_COUNTER_QUESTION = re.compile(r"^[何幾][\u4e00-\u9fff]+$")  # 何歳 何月 何時間: asks for 歳 月 時間
MAX_PREFIX_TERMS = 50
MAX_PER_PAGE = 100
MAX_RESULTS = 10000  # deepest result reachable by paging
REFRESH_SECONDS = 1.0  # how often a searcher looks for a newer index
TEXT_FIELDS = ("headline", "body")
SORTS = ("relevance", "newest", "oldest")
_ID = re.compile(r"^[0-9a-f]{16}$")


class QueryError(ValueError):
    """A request the engine will not answer: code and message for the user."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# ---------------------------------------------------------------- parameters

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
    return [v.strip() for v in values if v and v.strip()]


def _int(params, name, default, low, high):
    raw = str(_one(params, name, "")).strip()
    if not raw:
        return default
    try:
        value = int(analysis.fold(raw))
    except ValueError:
        raise QueryError("invalid_parameter",
                         f"{name} は整数で指定してください（{raw[:20]!r}）") from None
    if not low <= value <= high:
        raise QueryError("invalid_parameter", f"{name} は {low}〜{high} で指定してください")
    return value


def _date(params, name):
    raw = analysis.fold(str(_one(params, name, ""))).strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise QueryError("invalid_parameter",
                         f"{name} は YYYY-MM-DD 形式の日付で指定してください（{raw[:20]!r}）") from None


def _choice(params, name, choices):
    value = str(_one(params, name, "")).strip().lower() or choices[0]
    if value not in choices:
        raise QueryError("invalid_parameter",
                         f"{name} は {' / '.join(choices)} のいずれかです（{value[:20]!r}）")
    return value


def parse_request(params):
    """Validated search parameters from a mapping of strings."""
    q = str(_one(params, "q", ""))
    if not q.strip():
        raise QueryError("missing_query", "検索語（q）を指定してください")
    try:
        groups = querylang.parse(q)
    except querylang.QuerySyntaxError as e:
        raise QueryError("invalid_query", str(e)) from None
    request = {
        "q": q,
        "groups": groups,
        "page": _int(params, "page", 1, 1, MAX_RESULTS),
        "per_page": _int(params, "per_page", 10, 1, MAX_PER_PAGE),
        "op": _choice(params, "op", ("and", "or")),
        "sort": _choice(params, "sort", SORTS),
        "sources": _many(params, "source"),
        "tags": _many(params, "tag"),
        "from": _date(params, "from"),
        "to": _date(params, "to"),
    }
    if request["page"] * request["per_page"] > MAX_RESULTS:
        raise QueryError("invalid_parameter",
                         f"{MAX_RESULTS} 件目より後は表示できません。条件を絞り込んでください")
    if request["from"] and request["to"] and request["from"] > request["to"]:
        raise QueryError("invalid_parameter", "from は to 以前の日付にしてください")
    return request


# ------------------------------------------------------------ query building

def _a_terms(text):
    """The finest (mode-A) segmentation of text as (form, position) pairs,
    stop words left out but counted, the forms of its compounds, and how many
    (mode-C) words it has."""
    terms, compounds, words = [], [], 0
    for info, _, _, position in analysis.iter_words(text):
        if info.form is None:
            continue
        words += 1
        if info.parts:
            compounds.append(info.form)
            terms.extend((form, position + i) for i, (form, _, _) in enumerate(info.parts)
                         if form is not None)
        else:
            terms.append((info.form, position))
    return terms, compounds, words


def _function_spans(text):
    """(start, end) of the question and function words of text. (The
    analyzer keeps no part of speech, so the query is tokenized once more:
    a fraction of a millisecond.)"""
    tokenizer = analysis._sudachi()[1]
    try:
        morphemes = tokenizer.tokenize(text)
    except Exception:  # noqa: BLE001 - Sudachi refused the text: leave out nothing
        return set()
    spans = set()
    for m in morphemes:
        pos = m.part_of_speech()
        if m.normalized_form() in FUNCTION_FORMS or any(pos[:len(p)] == p for p in FUNCTION_POS):
            spans.add((m.begin(), m.end()))
    return spans


def _words(text, drop_function_words):
    """op=or: the dictionary (mode-C) words of text as (form, forms of its
    mode-A parts), their mode-A terms as (form, position) like _a_terms, and
    the words as (form, position); question and function words left out
    when asked."""
    skip = _function_spans(text) if drop_function_words else set()
    words, terms, placed = [], [], []
    for info, start, end, position in analysis.iter_words(text):
        if info.form is None or (start, end) in skip:
            continue
        form = info.form
        parts = [(f, position + i) for i, (f, _, _) in enumerate(info.parts) if f is not None]
        if drop_function_words:
            parts = [(f, p) for f, p in parts if f not in FUNCTION_FORMS]
            if _COUNTER_QUESTION.match(form):
                form = form[1:]
                if len(parts) < 2:
                    parts = []
        words.append((form, tuple(f for f, _ in parts if f != form)))
        terms.extend(parts or [(form, position)])
        placed.append((form, position))
    return list(dict.fromkeys(words)), terms, placed


def _idf(reader, text):
    """BM25's probabilistic idf of a word, one for both text fields: n is its
    largest document frequency over them."""
    n = max(reader.doc_frequency(f, text) for f in TEXT_FIELDS)
    return math.log(1 + (reader.doc_count_all() - n + 0.5) / (n + 0.5))


class _FieldsTerm(Q.Query):
    """A word in the headline or the body, scored once, as BM25F does: its
    frequency in each field, length-normalized and weighted (headline
    HEADLINE_BOOST, body 1), is summed before the saturation, with one idf.
    A word in both the headline and the body of an item so counts a little
    more than in one of them, not twice; and a headline shared by many items
    (the article title of every passage) does not outweigh their texts."""

    def __init__(self, text, boost=1.0):
        self.text = text
        self.boost = boost

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and other.text == self.text
                and other.boost == self.boost)

    def __hash__(self):
        return hash((self.__class__.__name__, self.text, self.boost))

    def __repr__(self):
        return f"{self.__class__.__name__}({self.text!r}, boost={self.boost})"

    def has_terms(self):
        return True

    def terms(self, phrases=False):
        for field in TEXT_FIELDS:
            yield field, self.text

    def estimate_size(self, ixreader):
        return max(ixreader.doc_frequency(f, self.text) for f in TEXT_FIELDS)

    def matcher(self, searcher, context=None):
        reader, parent = searcher.reader(), searcher.get_parent()  # a segment, the index
        leaves = []
        for field, weight in zip(TEXT_FIELDS, (HEADLINE_BOOST, 1.0)):
            if (field, self.text) in reader:
                avg = parent.avg_field_length(field) or 1.0
                leaves.append((reader.postings(field, self.text), field, weight, avg))
        if not leaves:
            return matching.NullMatcher()
        return _FieldsMatcher(leaves, reader, _idf(parent, self.text) * self.boost)

    def evaluate(self, segment):
        """The same scores for a whole segment at once (search/evaluate.py),
        in the same order of operations as _FieldsMatcher.score; computed
        only where the word occurs."""
        found = []
        for field, weight in zip(TEXT_FIELDS, (HEADLINE_BOOST, 1.0)):
            postings = segment.postings(field, self.text)
            if postings is not None:
                found.append((*postings, field, weight))
        if not found:
            return None
        tf = np.zeros(segment.size)
        for ids, weights, field, weight in found:
            tf[ids] += weight * weights.astype(np.float64) / segment.length_norm(field, B)[ids]
        # Where the word occurs: a document in both fields comes twice, and
        # is scored twice to the same value, which costs less than a union.
        where = found[0][0] if len(found) == 1 else np.concatenate((found[0][0], found[1][0]))
        factor = _idf(segment.evaluation, self.text) * self.boost
        mask, score = segment.empty()
        mask[where] = True
        at = tf[where]
        score[where] = factor * at * (K1 + 1) / (at + K1)
        return mask, score


class _FieldsMatcher(matching.WrappingMatcher):
    def __init__(self, leaves, reader, factor):
        child = leaves[0][0] if len(leaves) == 1 else matching.UnionMatcher(
            leaves[0][0], leaves[1][0])
        super().__init__(child)
        self.leaves, self.reader, self.factor = leaves, reader, factor

    def copy(self):
        return _FieldsMatcher([(m.copy(), *rest) for m, *rest in self.leaves],
                              self.reader, self.factor)

    def replace(self, minquality=0):
        return self if self.is_active() else matching.NullMatcher()

    def supports_block_quality(self):
        return False

    def max_quality(self):
        return self.factor * (K1 + 1)  # tf / (tf + K1) < 1

    def score(self):
        docnum = self.child.id()
        tf = 0.0
        for m, field, weight, avg in self.leaves:
            if m.is_active() and m.id() == docnum:
                length = self.reader.doc_field_length(docnum, field, 1)
                tf += weight * m.weight() / (1 - B + B * length / avg)
        return self.factor * tf * (K1 + 1) / (tf + K1)


class _Constant(Q.WrappingQuery):
    """The documents of a query, each with the same score (a bonus)."""

    def __init__(self, child, score):
        super().__init__(child)
        self.score = score

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and other.child == self.child
                and other.score == self.score)

    def __hash__(self):
        return hash(self.child) ^ hash(self.score)

    def _rewrap(self, child):
        return self.__class__(child, self.score)

    def matcher(self, searcher, context=None):
        m = self.child.matcher(searcher, context)
        if isinstance(m, matching.NullMatcherClass):
            return m
        return _ConstantMatcher(m, self.score)

    def evaluate(self, segment):
        found = evaluate.evaluate(self.child, segment)
        if found is None:
            return None
        return found[0], np.where(found[0], self.score, 0.0)


class _ConstantMatcher(matching.WrappingMatcher):
    def __init__(self, child, score):
        super().__init__(child)
        self.value = score

    def _replacement(self, newchild):
        return _ConstantMatcher(newchild, self.value)

    def copy(self):
        return _ConstantMatcher(self.child.copy(), self.value)

    def supports_block_quality(self):
        return False

    def max_quality(self):
        return self.value

    def score(self):
        return self.value


def _either(make):
    """The same clause in the headline (boosted) or the body."""
    return Q.Or([make("headline", HEADLINE_BOOST), make("body", 1.0)])


class _Near(SpanNear):
    """SpanNear that can sit inside Or/And (Whoosh asks it for a size
    estimate to order matchers, which SpanNear lacks)."""

    def estimate_size(self, ixreader):
        return min(self.a.estimate_size(ixreader), self.b.estimate_size(ixreader))


def _sequence(field, terms, boost):
    """Terms at exactly their typed distances: a phrase that lets stop words
    (not indexed, but counted in positions) stand between its words."""
    if len(terms) == 1:
        return Q.Term(field, terms[0][0], boost=boost)
    q, last = Q.Term(field, terms[0][0]), terms[0][1]
    for form, position in terms[1:]:
        gap = position - last
        q = _Near(q, Q.Term(field, form), slop=gap, mindist=gap, ordered=True)
        last = position
    q.boost = boost
    return q


def _neighbours(placed):
    """Consecutive distinct words with their typed distance (positions count
    the left-out words, so the distance is as typed)."""
    pairs = []
    for (a, pa), (b, pb) in zip(placed, placed[1:]):
        if a != b:
            pairs.append((a, b, max(pb - pa, 1)))
    return list(dict.fromkeys(pairs))


class _Builder:
    def __init__(self, searcher, op, drop_function_words=False):
        self.reader = searcher.reader()
        self.op = op
        self.drop = drop_function_words

    def unit(self, unit):
        """The Whoosh query for one typed word or phrase; None if it has no
        searchable word (only particles or symbols)."""
        alternatives = [self._text(unit, unit.text)]
        if not unit.phrase and analysis.is_hiragana(unit.text):
            # Readings typed in hiragana find katakana words (ぺすこふ → ペスコフ).
            alternatives.append(self._text(unit, analysis.katakana(unit.text)))
        if unit.prefix or (unit.last and not unit.phrase and self._unknown(unit.text)):
            alternatives.append(self._prefix(unit.text))
        alternatives = [a for a in alternatives if a is not None]
        if not alternatives:
            return None
        return alternatives[0] if len(alternatives) == 1 else Q.Or(alternatives)

    def _text(self, unit, text):
        terms, compounds, n_words = _a_terms(text)
        if not terms:
            return None
        if unit.phrase:
            return _either(lambda f, b: _sequence(f, terms, b))
        if self.op == "or" and not unit.negated:
            return self._any(text)
        forms = list(dict.fromkeys(form for form, _ in terms))
        words = [_FieldsTerm(w) for w in forms]
        required = words[0] if len(words) == 1 else Q.And(words)
        if unit.negated:
            return required
        bonus = [_FieldsTerm(c, COMPOUND_BOOST) for c in dict.fromkeys(compounds)]
        if n_words > 1:
            # Words typed together rank higher in their typed order. (One
            # compound needs no phrase: its whole-word term says the same,
            # at a fraction of the cost of position matching.)
            bonus.append(_either(lambda f, b: _sequence(f, terms, b * PHRASE_BOOST)))
        if not bonus:
            return required
        return Q.AndMaybe(required, Q.Or(bonus))

    def _any(self, text):
        """op=or: any of the words. Each dictionary word is one clause (a
        compound, or its parts found apart at PART_BOOST, so a compound's
        meaning is not counted once per part); words typed next to each
        other rank higher found as near each other in the text."""
        words, _, placed = _words(text, self.drop)
        if not words:
            return None
        clauses = [Q.Or([_FieldsTerm(form)] + [_FieldsTerm(p, PART_BOOST) for p in parts])
                   if parts else _FieldsTerm(form) for form, parts in words]
        required = clauses[0] if len(clauses) == 1 else Q.Or(clauses)
        bonus = [self._near(*pair) for pair in _neighbours(placed)] if NEAR_BOOST else []
        return Q.AndMaybe(required, Q.Or(bonus)) if bonus else required

    def _near(self, a, b, gap):
        """a then b at most gap positions apart, in the headline or the body:
        a bonus of NEAR_BOOST × the idf of the commoner word (two common
        words side by side say little)."""
        spans = Q.Or([_Near(Q.Term(f, a), Q.Term(f, b), slop=gap, ordered=True)
                      for f in TEXT_FIELDS])
        return _Constant(spans, NEAR_BOOST * min(_idf(self.reader, a), _idf(self.reader, b)))

    def _unknown(self, text):
        """A last word none of whose forms is in the index is still being typed."""
        terms, _, _ = _a_terms(text)
        return not terms or any(
            not any(self.reader.doc_frequency(f, form) for f in TEXT_FIELDS)
            for form, _ in terms)

    def _prefix(self, text):
        prefix = analysis.fold(text).strip()
        if len(prefix) < 2:  # one character would expand to most of the vocabulary
            return None
        clauses = []
        for field, boost in (("headline", HEADLINE_BOOST), ("body", 1.0)):
            words = self._expand(field, prefix)
            clauses.extend(Q.Term(field, w, boost=boost * PREFIX_BOOST) for w in words)
        return Q.Or(clauses) if clauses else None

    def _expand(self, field, prefix):
        """The most frequent indexed words starting with prefix (bounded)."""
        found = []
        for i, word in enumerate(self.reader.expand_prefix(field, prefix)):
            if i >= MAX_PREFIX_TERMS * 20:
                break
            found.append((self.reader.doc_frequency(field, word), word))
        found.sort(reverse=True)
        return [w.decode("utf-8") if isinstance(w, bytes) else w
                for _, w in found[:MAX_PREFIX_TERMS]]


def build_query(searcher, groups, op="and"):
    """The Whoosh query for parsed groups; None when nothing is searchable."""
    if op == "or":
        # Question and function words carry nothing an answer shares: they
        # are searched for only when nothing else was typed.
        q = _build(searcher, groups, op, drop_function_words=True)
        if q is not None:
            return q
    return _build(searcher, groups, op)


def _build(searcher, groups, op, drop_function_words=False):
    builder = _Builder(searcher, op, drop_function_words)
    positive, negative = [], []
    for group in groups:
        clauses = [(u, builder.unit(u)) for u in group]
        clauses = [(u, c) for u, c in clauses if c is not None]
        if not clauses:
            continue
        if clauses[0][0].negated:
            negative.extend(c for _, c in clauses)
        else:
            positive.append(clauses[0][1] if len(clauses) == 1 else Q.Or([c for _, c in clauses]))
    if not positive:
        return None
    combined = positive[0] if len(positive) == 1 else (
        Q.Or(positive) if op == "or" else Q.And(positive))
    if negative:
        combined = Q.AndNot(combined, Q.Or(negative))
    return combined


def _positive_terms(q):
    """The (field, text) terms a hit can contain: excluded words left out,
    the words of phrases in (Whoosh's iter_all_terms takes a span query for
    a leaf without terms, so a quoted phrase was never marked)."""
    terms, stack = set(), [q]
    while stack:
        node = stack.pop()
        if isinstance(node, Q.AndNot):
            stack.append(node.a)
        elif isinstance(node, SpanNear):
            stack.extend((node.a, node.b))
        elif node.is_leaf():
            if node.has_terms():
                terms.update(node.terms())
        else:
            stack.extend(node.children())
    return terms


# ------------------------------------------------------------ whole texts

class QueryWords:
    """The words of a query, to mark in a whole text (the item page): the
    text is analyzed like the index was, so inflected, width-variant and
    compound forms are marked just as search matched them."""

    _analyzer = analysis.japanese_analyzer()

    def __init__(self, groups):
        self.forms, self.prefixes = set(), []
        for unit in (u for group in groups for u in group if not u.negated):
            texts = [unit.text]
            if analysis.is_hiragana(unit.text):
                texts.append(analysis.katakana(unit.text))
            for text in texts:
                terms, compounds, _ = _a_terms(text)
                self.forms.update(form for form, _ in terms)
                self.forms.update(compounds)
            prefix = analysis.fold(unit.text).strip()
            if (unit.prefix or unit.last) and len(prefix) >= 2:
                self.prefixes.append(prefix)
        self.prefixes = tuple(self.prefixes)

    def matches(self, form):
        return form in self.forms or (self.prefixes and form.startswith(self.prefixes))

    def mark(self, text):
        spans = [(t.startchar, t.endchar) for t in self._analyzer(text, chars=True)
                 if self.matches(t.text)]
        return snippets.mark(text, snippets.merge(spans))


# ------------------------------------------------------------------ service

class _Column:
    """A column as small integer codes per document (numpy) numbering its
    distinct values in their sort order, so a code is also the document's
    rank for sorting (by date) and counts by code come out sorted."""

    def __init__(self, reader):
        values = list(reader)
        self.values = sorted(set(values))
        index = {v: i for i, v in enumerate(self.values)}
        self.codes = np.array([index[v] for v in values], dtype=np.int64)
        self.rank = self.codes
        self.value_array = np.array(self.values, dtype=object)

    def mask(self, keep):
        """Which documents have a value for which keep(value) is true."""
        ok = np.array([bool(keep(v)) for v in self.values], dtype=bool)
        return ok[self.codes] if len(self.values) else np.zeros(0, dtype=bool)


class _SharedIdf(scoring.BM25F):
    """Whoosh's per-field BM25, for what is scored per field (phrases and
    words completed from a prefix), with the idf of _idf: Whoosh's own,
    log(N / (n + 1)) + 1, never falls below 1, so the commonest words still
    weigh; and per field it makes a headline word rare, and heavy, in every
    passage of an article that shares the headline."""

    def scorer(self, searcher, fieldname, text, qf=1):
        scorer = super().scorer(searcher, fieldname, text, qf=qf)
        if isinstance(scorer, scoring.BM25FScorer):
            scorer.idf = _idf(searcher.get_parent(), text)
            scorer.setup(searcher, fieldname, text)
        return scorer


class SearchService:
    """Searches one index directory. Thread-safe: each thread keeps its own
    Whoosh searcher (sharing one gives wrong results under load), refreshed
    when a reindex commits a newer generation."""

    def __init__(self, index_dir):
        self.index_dir = index_dir
        self.local = threading.local()
        self.ix = None
        self.columns = {}
        self.counted = (None, None)  # ((generation, manifest mtime), index_stats)
        self.weighting = _SharedIdf(B=B, K1=K1)

    def searcher(self):
        local = self.local
        now = time.monotonic()
        s = getattr(local, "searcher", None)
        if s is not None and now - local.checked < REFRESH_SECONDS:
            return s
        for attempt in range(5):
            try:
                if s is None:
                    if self.ix is None:
                        self.ix = store.open_index(self.index_dir)
                    s = self.ix.searcher(weighting=self.weighting)
                elif not s.up_to_date():
                    s = s.refresh()
                else:
                    break
                store.pin_files(s)
                if s.up_to_date():  # no commit came while the files were opened
                    break
            except (OSError, EOFError):  # a commit removed files mid-open
                if attempt == 4:
                    raise
                s = None
                time.sleep(0.05 * (attempt + 1))
        local.searcher, local.checked = s, now
        return s

    def search(self, params):
        started = time.perf_counter()
        request = parse_request(params)
        s = self.searcher()
        q = build_query(s, request["groups"], request["op"])
        page, per_page = request["page"], request["per_page"]
        answer = {"query": request["q"], "total": 0, "page": page, "per_page": per_page,
                  "pages": 0, "took_ms": 0, "hits": [],
                  "facets": {"source": {}, "date": {}}}
        if q is not None:
            self._run(s, q, request, answer)
        answer["took_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return answer

    def _run(self, s, q, request, answer):
        if not s.doc_count_all():  # an empty index (every dump removed): nothing to count
            return
        page, per_page = request["page"], request["per_page"]
        # Every match and its score at once (search/evaluate.py): the total
        # and the facets count them all, the page shows the best.
        evaluation = evaluate.Evaluation(s)
        docnums, scores = evaluation.matches(q)
        allowed = self._allowed(s, request)
        if allowed is not None:
            keep = allowed[docnums]
            selected, selected_scores = docnums[keep], scores[keep]
        else:
            selected, selected_scores = docnums, scores
        if request["sources"]:  # multi-select: count sources as if none were chosen
            others = self._allowed(s, dict(request, sources=[]))
            by_source = self._count(s, "source", docnums if others is None
                                    else docnums[others[docnums]])
        else:
            by_source = self._count(s, "source", selected)
        top = self._top(s, selected, selected_scores, request["sort"], page * per_page)
        answer.update(
            total=len(selected),
            pages=math.ceil(len(selected) / per_page),
            hits=self._hits(s, top[(page - 1) * per_page:], _positive_terms(q), evaluation),
            facets={"source": dict(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
                    "date": dict(reversed(self._count(s, "date", selected).items()))})

    def _allowed(self, s, request):
        """The documents the filters allow, as a mask over every document of
        the searcher; None when there is no filter."""
        masks = []
        if request["sources"]:
            wanted = set(request["sources"])
            handles = Q.Or([Q.Term("handle", v.lstrip("@")) for v in wanted])
            masks.append(self._column(s, "source").mask(wanted.__contains__)
                         | self._docs(s, handles))
        if request["tags"]:
            masks.append(self._docs(s, Q.Or([Q.Term("tag", store.tag_key(t))
                                             for t in request["tags"]])))
        if request["from"] or request["to"]:
            low, high = request["from"] or "", request["to"] or "\uffff"
            masks.append(self._column(s, "date").mask(lambda day: low <= day <= high))
        if not masks:
            return None
        return np.logical_and.reduce(masks)

    @staticmethod
    def _docs(s, q):
        mask = np.zeros(s.doc_count_all(), dtype=bool)
        mask[np.fromiter(s.docs_for_query(q), dtype=np.int64)] = True
        return mask

    def _top(self, s, docnums, scores, sort, k):
        """The first k (docnum, score): by score, the earlier document first
        on ties (as Whoosh ranks); or by date, then score."""
        if sort == "relevance":
            if len(scores) > k:  # only those that can be in the first k get sorted
                cut = np.partition(scores, len(scores) - k)[len(scores) - k]
                keep = scores >= cut
                docnums, scores = docnums[keep], scores[keep]
            order = np.lexsort((docnums, -scores))
        else:
            days = self._column(s, "date").rank[docnums]
            order = np.lexsort((docnums, -scores, days if sort == "oldest" else -days))
        return [(int(docnums[i]), float(scores[i])) for i in order[:k]]

    def _column(self, s, field):
        """A sortable field's values for every document of this searcher's
        generation, read once and shared by the threads."""
        key = (s.reader().generation(), field)
        column = self.columns.get(key)
        if column is None:
            column = _Column(s.reader().column_reader(field, translate=True))
            self.columns = {k: v for k, v in self.columns.items() if k[0] == key[0]}
            self.columns[key] = column
        return column

    def _count(self, s, field, docnums):
        """{value: how many of docnums have it}, in the values' order."""
        column = self._column(s, field)
        counts = np.bincount(column.codes[docnums], minlength=len(column.values))
        found = np.flatnonzero(counts)
        return dict(zip(column.value_array[found].tolist(), counts[found].tolist()))

    def _hits(self, s, hits, terms, evaluation=None):
        spans = snippets.load_spans(s, [docnum for docnum, _ in hits], terms, evaluation)
        out = []
        for docnum, score in hits:
            doc = s.stored_fields(docnum)
            headline, body = doc.get("headline", ""), doc.get("body", "")
            urls = doc.get("urls") or []
            out.append({
                "id": doc["id"],
                "headline": headline,
                "headline_html": snippets.mark(headline, spans.get((docnum, "headline"), [])),
                "snippet": snippets.snippet(body, spans.get((docnum, "body"), [])),
                "source": doc.get("source", ""),
                "handle": doc.get("handle", ""),
                "date": doc.get("date", ""),
                "url": urls[0] if urls else "",
                "tags": doc.get("tags") or [],
                "score": round(score, 4),
            })
        return out

    def item(self, item_id, q=None):
        """The whole stored item, or QueryError 404. With a query, also its
        headline and body as HTML with the query's words marked."""
        doc = None
        item_id = item_id.lower() if isinstance(item_id, str) else ""
        if _ID.match(item_id):
            doc = self.searcher().document(id=item_id)
        if doc is None:
            raise QueryError("not_found", "指定された記事は見つかりません", status=404)
        doc.pop("tag", None)
        if q and q.strip():
            try:
                words = QueryWords(querylang.parse(q))
            except querylang.QuerySyntaxError as e:
                raise QueryError("invalid_query", str(e)) from None
            doc["headline_html"] = words.mark(doc.get("headline", ""))
            doc["body_html"] = words.mark(doc.get("body", ""))
        return doc

    def stats(self):
        """index_stats, counted again only when the index or its manifest
        changes: counting reads every document's source and the manifest
        (~120 ms on x4), and the search page shows them on every visit
        without a query. (A reindex that adds no item rewrites the manifest
        of the same generation.)"""
        s = self.searcher()
        generation = s.reader().generation()  # None for an empty index: not kept
        try:
            written = os.stat(store.manifest_path(self.index_dir, generation)).st_mtime_ns
        except OSError:
            written = None
        key = (generation, written)
        cached, counted = self.counted
        if generation is None or key != cached:
            counted = index_stats(self.index_dir, s)
            self.counted = (key, counted)
        return dict(counted)


def index_stats(index_dir, searcher=None):
    """Counts for /api/stats and `python -m search stats`."""
    own = searcher is None
    if own:
        searcher = store.open_index(index_dir).searcher()
    try:
        reader = searcher.reader()
        results = searcher.search(Q.Every(), limit=1, groupedby={
            "source": sorting.FieldFacet("source", maptype=sorting.Count)})
        sources = dict(sorted(results.groups("source").items(), key=lambda kv: (-kv[1], kv[0])))
        dates = [d.decode() if isinstance(d, bytes) else d for d in reader.lexicon("date")]
        manifest = store.read_manifest(index_dir, searcher._ix.latest_generation()) or {}
        return {"items": searcher.doc_count(), "sources": sources,
                "dumps": len(manifest.get("files", {})),
                "first_date": dates[0] if dates else None,
                "last_date": dates[-1] if dates else None,
                "indexed_at": manifest.get("indexed_at")}
    finally:
        if own:
            searcher.close()
