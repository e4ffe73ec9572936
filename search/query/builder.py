"""From parsed groups (search/query/language.py) to a Whoosh query tree.

Each typed word becomes its finest (mode-A) terms, required; the whole
compound and the words in their typed order add to the score. With op=or
(questions sent whole), any word may match, question and function words are
left out, and typed neighbours found near each other add a bonus. The last
word of a query, or one ending in ``*``, may still be being typed: its
completions in the index are searched too, below typed words.
"""

import math
import re

from whoosh import query as Q
from whoosh.query.spans import SpanNear

from .. import analysis
from .. import readings
from .. import synonyms as synonyms_module
from ..index import whoosh_internals as internals
from ..index.schema import TEXT_FIELDS
from . import scoring, shared
from .nodes import Constant, FieldsTerm, Near, Tier

COMPOUND_BOOST = 1.0  # the whole compound, on top of its parts
PART_BOOST = 0.5  # op=or: a part of a compound found without the compound
PHRASE_BOOST = 1.0  # parts adjacent as typed
NEAR_BOOST = 0.5  # op=or: typed neighbours as near in the text as typed, × the idf of the commoner
PREFIX_BOOST = 0.5  # words completed from a prefix rank below typed words
SYNONYM_BOOST = 0.4  # synonyms (search/synonyms.py) rank below the words typed
MAX_PREFIX_TERMS = 50
MAX_COMPLETIONS = 20  # op=and: words a word typed so far (not ending in *) is completed to
# A last word in this many documents (or this share of the index) is taken as
# typed whole: not completed (see Builder._typed_halfway).
TYPED_WHOLE_DOCS = 10
TYPED_WHOLE_SHARE = 0.001
COMPLETIONS_WITH_SYNONYMS = 3  # the likeliest completions also find their synonyms (0.4 ms a lookup)
SHORT_WORD_CHARS = 2  # op=and: words this short also find the longer index words they begin (株 → 株式)
KANJI_OR_KATAKANA = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff\u3005\u30a1-\u30fa\u30fc]+$")
# Question and function words, left out of op=or queries (a question is sent
# whole, as one OR): by Sudachi's part of speech (pronouns: 何 誰 どこ いつ;
# adnominals: どの その; auxiliary-like verbs and adjectives: する ある いる
# なる できる ない; よう そう), and a few interrogatives by form.
FUNCTION_POS = (("代名詞",), ("連体詞",), ("動詞", "非自立可能"), ("形容詞", "非自立可能"),
                ("形状詞", "助動詞語幹"))
FUNCTION_FORMS = frozenset(["何", "幾つ", "幾ら", "何故", "如何", "如何に", "どう", "どんな"])
_COUNTER_QUESTION = re.compile(r"^[何幾][\u4e00-\u9fff]+$")  # 何歳 何月 何時間: asks for 歳 月 時間


def a_terms(text):
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
    tokenizer = analysis.sudachi_tokenizer()
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
    mode-A parts), their mode-A terms as (form, position) like a_terms, and
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


def _either(make):
    """The same clause in the headline (boosted) or the body."""
    return Q.Or([make(field, weight) for field, weight in scoring.FIELD_WEIGHTS])


def _sequence(field, terms, boost):
    """Terms at exactly their typed distances: a phrase that lets stop words
    (not indexed, but counted in positions) stand between its words."""
    if len(terms) == 1:
        return Q.Term(field, terms[0][0], boost=boost)
    q, last = Q.Term(field, terms[0][0]), terms[0][1]
    for form, position in terms[1:]:
        gap = position - last
        q = Near(q, Q.Term(field, form), slop=gap, mindist=gap, ordered=True)
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


class Builder:
    def __init__(self, searcher, op, drop_function_words=False, synonyms=None, read_as=None,
                 frequencies=None):
        self.reader = searcher.reader()
        # Where a word's document frequency is read: the evaluation that will
        # score the query (evaluate.Evaluation) reads the word's postings in
        # each segment and keeps them, so that a segment's term table is
        # looked up once a word, not once here and once to score it.
        self.frequencies = frequencies or self.reader
        self.read_as = read_as or {}  # katakana reading → the index's forms (search/readings.py)
        self.op = op
        self.drop = drop_function_words
        self.synonyms = synonyms  # search.synonyms.Synonyms, or None: no expansion
        self.expanded = {}  # what was typed → the synonyms searched too
        self.df = {}  # word → its document frequency (the larger of the fields), as read

    def frequency(self, text):
        """The document frequency of a word (the larger of the fields), read once."""
        n = self.df.get(text)
        if n is None:
            n = self.df[text] = max(self.frequencies.doc_frequency(f, text) for f in TEXT_FIELDS)
        return n

    def idf(self, text):
        """scoring.idf of a word."""
        return scoring.idf_of(self.reader, self.frequency(text))

    def unit(self, unit):
        """The Whoosh query for one typed word or phrase; None if it has no
        searchable word (only particles or symbols)."""
        if self.op == "and" and not unit.phrase and not unit.negated:
            return self._tiered(unit)
        alternatives = [self._text(unit, unit.text)]
        if not unit.phrase and analysis.is_hiragana(unit.text):
            # A word typed as its reading finds the words read so (かんぜい →
            # 関税), rather than the single kana Sudachi cuts hiragana into.
            read = readings.forms(self.read_as, unit.text)
            if read:
                if not _one_word(unit.text):
                    alternatives = []
                found = [FieldsTerm(f) for f in read]
                alternatives.append(found[0] if len(found) == 1 else Q.Or(found))
            # Readings typed in hiragana find katakana words (ぺすこふ → ペスコフ).
            alternatives.append(self._text(unit, analysis.katakana(unit.text)))
        if unit.prefix or (unit.last and not unit.phrase and self._unknown(unit.text)):
            alternatives.append(self._prefix(unit.text))
        alternatives = [a for a in alternatives if a is not None]
        if not alternatives:
            return None
        return alternatives[0] if len(alternatives) == 1 else Q.Or(alternatives)

    def _tiered(self, unit):
        """op=and: a typed word (not a phrase, not excluded) in tiers, each
        ranked above the next (Tier offsets under a DisjunctionMax):

        1. the word as typed, whole: the word itself (and its synonyms,
           below it), or, for what Sudachi cuts into pieces (a word the
           dictionary does not know: イーロンマスク → イーロン/マスク; a
           compound: 防衛費), the pieces adjacent as typed or the compound;
        2. index words that start with it, below it (MAX_PREFIX_TERMS, the
           most frequent, at PREFIX_BOOST): the last word as typed so far
           (大統 → 大統領, 鉱 → 鉱物), a word ending in *, a one- or
           two-character word inside longer words (株 → 株式), and a word
           cut into pieces whose characters begin a longer word;
        3. the pieces anywhere in the item (scattered).

        A word in hiragana is searched as the words read so (かんぜい → 関税,
        and, typed so far, かんぜ → 関税, 完全) and in katakana (ぺすこ →
        ペスコフ); its own analysis only when Sudachi reads it as one word
        (すし → 寿司), never as the single kana it cuts the rest into."""
        text = unit.text
        hiragana = analysis.is_hiragana(text)
        texts = [text]
        if hiragana:
            texts = ([text] if _one_word(text) else []) + [analysis.katakana(text)]
        whole, scattered, typed, pieces = [], [], set(), False
        for t in texts:
            exact, low, forms = self._whole_and_scattered(unit, t)
            if exact is not None:
                whole.append(exact)
                typed.update(forms)
            if low is not None:
                scattered.append(low)
                pieces = True
        if hiragana:
            read = readings.forms(self.read_as, text)
            whole.extend(FieldsTerm(f) for f in read)
            typed.update(read)
        completions = []
        if self._completes(unit, pieces or not whole):
            # As many as a * asks for; fewer for a word that may be whole.
            limit = MAX_PREFIX_TERMS if unit.prefix else MAX_COMPLETIONS
            for t in texts:
                completions.extend(self._completions(analysis.fold(t).strip())[:limit])
            if hiragana:
                completions.extend(readings.completions(self.read_as, text, limit))
        completions = [c for c in dict.fromkeys(completions) if c not in typed]
        return self._tiers(whole, [self._completion(c, i < COMPLETIONS_WITH_SYNONYMS)
                                   for i, c in enumerate(completions)], scattered)

    def _completion(self, form, synonyms):
        """A word completed from what was typed, with its synonyms (below
        it) when asked: what the whole word would have found, below the
        typed word."""
        word = FieldsTerm(form, PREFIX_BOOST)
        targets = self.synonyms.of(form) if synonyms and self.synonyms is not None else ()
        if not targets:
            return word
        self._record(form, targets)
        return Q.Or([word] + [_target(t, PREFIX_BOOST) for t in targets])

    def _whole_and_scattered(self, unit, text):
        """(the word whole, its pieces anywhere or None, the forms typed)."""
        terms, compounds, n_words = a_terms(text)
        if not terms:
            return None, None, ()
        forms = list(dict.fromkeys(form for form, _ in terms))
        alone = len(forms) == 1 and n_words == 1 and not compounds
        words = [self._synonyms_of(w, unit.text.strip() if alone else w) for w in forms]
        required = words[0] if len(words) == 1 else Q.And(words)
        alternatives = self._unit_synonyms(unit, text, compounds, n_words)
        if alone:
            return (Q.Or([required] + alternatives) if alternatives else required), None, forms
        bonus = [FieldsTerm(c, COMPOUND_BOOST) for c in dict.fromkeys(compounds)]
        if n_words > 1:
            bonus.append(_either(lambda f, b: _sequence(f, terms, b * PHRASE_BOOST)))
        exact = Q.And([required, bonus[0] if len(bonus) == 1 else Q.Or(bonus)])
        low = Q.Or([required] + alternatives) if alternatives else required
        return exact, low, list(dict.fromkeys(compounds))

    def _completes(self, unit, unknown):
        """Whether the word also finds the index words it begins (see _tiered)."""
        prefix = analysis.fold(unit.text).strip()
        if not prefix:
            return False
        if unit.prefix:
            return True
        short = len(prefix) <= SHORT_WORD_CHARS and bool(KANJI_OR_KATAKANA.match(prefix))
        if unit.last:
            return (len(prefix) >= 2 or short) and self._typed_halfway(prefix)
        # Elsewhere: a word cut into pieces or not in the index, or one
        # character (株 inside 株式), or two not in the index as a word.
        return unknown or short and (len(prefix) == 1 or not self.frequency(prefix))

    def _typed_halfway(self, prefix):
        """Whether the last word looks typed so far: some index word it
        begins is more frequent than the word itself (大統, 1 item, begins
        大統領, 84; システム, in 800 items, begins no commoner word, and is
        not completed: its completions would cost every query of it 20
        more words for hits that rank below all of its own). One character
        is always completed (株 is read as the beginning of 株式, 株価), and
        hiragana through the readings, whatever the index holds."""
        if len(prefix) == 1 or analysis.is_hiragana(prefix):
            return True
        n = self.frequency(prefix)
        if n >= max(TYPED_WHOLE_DOCS, self.reader.doc_count() * TYPED_WHOLE_SHARE):
            return False  # common as it is: typed whole (and no term list read for it)
        found = self._completions(prefix)
        return bool(found) and self.df.get(found[0], 0) > n

    def _completions(self, prefix):
        """The most frequent index words that start with prefix, other than
        prefix itself (MAX_PREFIX_TERMS; kept for the index's segments, for
        every thread of the process: shared.completions)."""
        if not prefix:
            return []
        key = shared.segments_key(self.reader)
        cache = shared.completions.get(key, dict) if key is not None else \
            internals.reader_cache(self.reader).setdefault("completions", {})
        found = cache.get(prefix)
        if found is None:
            if len(cache) > 4096:
                cache.clear()
            counts, found = {}, []
            for field in TEXT_FIELDS:
                for i, word in enumerate(self.reader.expand_prefix(field, prefix)):
                    if i >= MAX_PREFIX_TERMS * 40:
                        break
                    form = word.decode("utf-8") if isinstance(word, bytes) else word
                    if form != prefix:
                        counts[form] = max(counts.get(form, 0),
                                           self.reader.doc_frequency(field, word))
                        found.append(form)
            found = sorted(set(found), key=lambda w: (-counts[w], w))[:MAX_PREFIX_TERMS]
            found = cache[prefix] = [(w, counts[w]) for w in found]
        self.df.update(found)
        return [w for w, _ in found]

    def _tiers(self, whole, completions, scattered):
        """One query of the tiers (best first), each found document scored
        in the best tier it is in: its score there plus an offset above
        what any lower tier can score (bound)."""
        tiers = [_any_of(whole), _best_of(completions), _any_of(scattered)]
        present = [t for t in tiers if t is not None]
        if len(present) <= 1:
            return present[0] if present else None
        clauses, offset = [], 0.0
        for clause in reversed(present):
            clauses.append(Tier(clause, offset) if offset else clause)
            offset += bound(clause, self.idf)
        if offset == math.inf:  # a node bound() does not know: plain OR
            return Q.Or(present)
        return Q.DisjunctionMax(list(reversed(clauses)))

    def _text(self, unit, text):
        terms, compounds, n_words = a_terms(text)
        if not terms:
            return None
        if unit.phrase:
            return _either(lambda f, b: _sequence(f, terms, b))
        if self.op == "or" and not unit.negated:
            return self._any(text)
        forms = list(dict.fromkeys(form for form, _ in terms))
        if unit.negated:
            words = [FieldsTerm(w) for w in forms]
            return words[0] if len(words) == 1 else Q.And(words)
        alone = len(forms) == 1 and n_words == 1 and not compounds
        words = [self._synonyms_of(w, unit.text.strip() if alone else w) for w in forms]
        required = words[0] if len(words) == 1 else Q.And(words)
        q = self._with_bonus(required, terms, compounds, n_words)
        alternatives = self._unit_synonyms(unit, text, compounds, n_words)
        return Q.Or([q] + alternatives) if alternatives else q

    def _with_bonus(self, required, terms, compounds, n_words):
        bonus = [FieldsTerm(c, COMPOUND_BOOST) for c in dict.fromkeys(compounds)]
        if n_words > 1:
            # Words typed together rank higher in their typed order. (One
            # compound needs no phrase: its whole-word term says the same,
            # at a fraction of the cost of position matching.)
            bonus.append(_either(lambda f, b: _sequence(f, terms, b * PHRASE_BOOST)))
        if not bonus:
            return required
        return Q.AndMaybe(required, Q.Or(bonus))

    def _synonyms_of(self, form, shown):
        """A required word: the word, or any of its synonyms (below it)."""
        targets = self.synonyms.of(form) if self.synonyms is not None else ()
        if not targets:
            return FieldsTerm(form)
        self._record(shown, targets)
        return Q.Or([FieldsTerm(form)] + [_target(t) for t in targets])

    def _unit_synonyms(self, unit, text, compounds, n_words):
        """Alternatives of a whole typed word: the synonyms of its words
        together (北大西洋条約機構) or of its compound (米大統領), and a
        compound of abbreviations as its characters' synonyms (米露)."""
        if self.synonyms is None:
            return []
        shown = unit.text.strip()
        key, form, _ = synonyms_module.describe(text)
        found = []
        if n_words > 1 or compounds:
            targets = self.synonyms.of(key)
            if targets:
                self._record(shown, targets)
                found.extend(_target(t) for t in targets)
        if form is not None and not compounds and not self.synonyms.of(form):
            chars = self.synonyms.compound(form)
            if chars:
                for c, targets in chars:
                    self._record(c, targets[1:])
                found.append(Q.And([Q.Or([_target(t) for t in targets]) for _, targets in chars]))
        return found

    def _record(self, shown, targets):
        listed = self.expanded.setdefault(shown, [])
        listed.extend(t.display for t in targets if t.display not in listed and t.display != shown)

    def _any(self, text):
        """op=or: any of the words. Each dictionary word is one clause (a
        compound, or its parts found apart at PART_BOOST, so a compound's
        meaning is not counted once per part); words typed next to each
        other rank higher found as near each other in the text."""
        words, _, placed = _words(text, self.drop)
        if not words:
            return None
        clauses = [Q.Or([FieldsTerm(form)] + [FieldsTerm(p, PART_BOOST) for p in parts])
                   if parts else FieldsTerm(form) for form, parts in words]
        required = clauses[0] if len(clauses) == 1 else Q.Or(clauses)
        bonus = [self._near(*pair) for pair in _neighbours(placed)] if NEAR_BOOST else []
        return Q.AndMaybe(required, Q.Or(bonus)) if bonus else required

    def _near(self, a, b, gap):
        """a then b at most gap positions apart, in the headline or the body:
        a bonus of NEAR_BOOST × the idf of the commoner word (two common
        words side by side say little)."""
        spans = Q.Or([Near(Q.Term(f, a), Q.Term(f, b), slop=gap, ordered=True)
                      for f in TEXT_FIELDS])
        return Constant(spans, NEAR_BOOST * min(scoring.idf(self.reader, a),
                                                scoring.idf(self.reader, b)))

    def _unknown(self, text):
        """A last word none of whose forms is in the index is still being typed."""
        terms, _, _ = a_terms(text)
        return not terms or any(
            not any(self.reader.doc_frequency(f, form) for f in TEXT_FIELDS)
            for form, _ in terms)

    def _prefix(self, text):
        prefix = analysis.fold(text).strip()
        if len(prefix) < 2:  # one character would expand to most of the vocabulary
            return None
        clauses = []
        for field, boost in scoring.FIELD_WEIGHTS:
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


def _one_word(text):
    """Whether Sudachi reads text as one word (すし → 寿司; not かんぜい →
    かん/ぜ/い)."""
    words = [(start, end) for info, start, end, _ in analysis.iter_words(text)
             if info.form is not None]
    return words == [(0, len(text))]


def _any_of(clauses):
    clauses = [c for c in clauses if c is not None]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else Q.Or(clauses)


def _best_of(clauses):
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else Q.DisjunctionMax(clauses)


def bound(q, idf):
    """The highest score q can give a document (math.inf for a node it does
    not know), from the formulas of search/query/scoring.py, with a margin
    for rounding; idf(word) as scoring.idf gives it."""
    if isinstance(q, FieldsTerm):
        return scoring.max_saturated(idf(q.text) * q.boost) * 1.01
    if isinstance(q, Tier):
        return bound(q.child, idf) + q.offset
    if isinstance(q, Constant):
        return q.score
    kind = type(q)
    if kind is Q.Term:
        text = q.text.decode("utf-8") if isinstance(q.text, bytes) else q.text
        return scoring.max_saturated(idf(text) * q.boost) * 1.01
    if kind in (Q.Or, Q.And) and q.boost == 1.0:
        return sum(bound(c, idf) for c in q.subqueries)
    if kind is Q.DisjunctionMax and q.boost == 1.0:
        return max(bound(c, idf) for c in q.subqueries)
    if kind is Q.AndMaybe:
        return bound(q.a, idf) + bound(q.b, idf)
    if isinstance(q, SpanNear):  # Whoosh scores a span as its words' sum (no boost)
        return (bound(q.a, idf) + bound(q.b, idf)) * max(1.0, getattr(q, "boost", 1.0))
    return math.inf


def _target(t, boost=1.0):
    """The clause of a synonym: its word, or its words in order, below a typed word."""
    if t.form is not None:
        return FieldsTerm(t.form, SYNONYM_BOOST * boost)
    return _either(lambda f, b: _sequence(f, list(t.terms), b * SYNONYM_BOOST * boost))


def build_query(searcher, groups, op="and", synonyms=False, expanded=None, read_as=None,
                evaluation=None):
    """The Whoosh query for parsed groups; None when nothing is searchable.
    synonyms: expand the typed words (op=and, not phrases, not excluded
    words) with search/synonyms.py's; expanded, a dict, receives what was
    expanded to what ({typed: [synonyms shown]}). read_as: the index's
    readings table (search/readings.py), for words typed in hiragana.
    evaluation: the evaluate.Evaluation that will score the query (the
    words' frequencies are read through it), or None."""
    table = synonyms_module.get() if synonyms and op == "and" else None
    if op == "or":
        # Question and function words carry nothing an answer shares: they
        # are searched for only when nothing else was typed.
        q = _build(searcher, groups, op, drop_function_words=True, read_as=read_as,
                   frequencies=evaluation)
        if q is not None:
            return q
    return _build(searcher, groups, op, synonyms=table, expanded=expanded, read_as=read_as,
                  frequencies=evaluation)


def _build(searcher, groups, op, drop_function_words=False, synonyms=None, expanded=None,
           read_as=None, frequencies=None):
    builder = Builder(searcher, op, drop_function_words, synonyms, read_as, frequencies)
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
    if expanded is not None:
        expanded.update(builder.expanded)
    if not positive:
        return None
    combined = positive[0] if len(positive) == 1 else (
        Q.Or(positive) if op == "or" else Q.And(positive))
    if negative:
        combined = Q.AndNot(combined, Q.Or(negative))
    return combined


def positive_terms(q):
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
