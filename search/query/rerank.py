"""op=or (questions sent whole): the engine's best candidates re-ranked by a
character-level signal computed at query time, no index change.

Words can miss what characters see: a question's words cut otherwise than
the passage's (an unknown name, a compound split differently), or its words
spread over a passage while one sentence of another holds them together.
Each of the engine's first RERANK_DEPTH candidates is scored by its best
sentence's share of the question's distinct character bigrams (width- and
case-folded), each bigram weighted by its idf among the candidates; that
and the engine's score, each min-max normalised over the candidates, are
added with equal weights (CHARACTER_WEIGHT). ../shared/KNOWLEDGE.md
("Relevance leads") measured it first; docs/vocabulary.md has the numbers
on every set.
"""

import math
import re
import unicodedata

RERANK_DEPTH = 100  # candidates re-ranked: the first ten pages of ten
CHARACTER_WEIGHT = 1.0  # the bigram cover's weight, the engine's being 1
_SENTENCES = re.compile(r"[。！？!?\n]+")


def fold(text):
    return unicodedata.normalize("NFKC", text or "").lower()


def _counts(c):
    """Whether a character can be part of a counted bigram: no spaces,
    punctuation, symbols or controls (a question's ？ says nothing)."""
    return unicodedata.category(c)[0] not in "PZSC"


def bigrams(text):
    """The distinct character bigrams of folded text, of countable characters."""
    return {text[i:i + 2] for i in range(len(text) - 1)
            if _counts(text[i]) and _counts(text[i + 1])}


def text_of(headline, body):
    """What rerank reads of an item: its headline (a sentence of its own)
    and its body, folded."""
    return fold(headline) + "\n" + fold(body)


def rerank(question, top, texts):
    """top: [(docnum, score)] in the engine's order; texts(docnum) → the
    item's text_of. Returns the first RERANK_DEPTH of top in their new
    order (the engine's scores kept), then the rest as they were."""
    head, rest = top[:RERANK_DEPTH], top[RERANK_DEPTH:]
    wanted = bigrams(fold(question))
    if len(head) < 2 or not wanted:
        return top
    found = []  # per candidate: its sentences, each as the set of wanted bigrams it holds
    df = dict.fromkeys(wanted, 0)
    for docnum, _ in head:
        text = texts(docnum)
        present = [b for b in wanted if b in text]
        for b in present:
            df[b] += 1
        found.append([[b for b in present if b in s] for s in _SENTENCES.split(text) if s]
                     if present else [])
    n = len(head)
    idf = {b: math.log(1 + (n - k + 0.5) / (k + 0.5)) for b, k in df.items()}
    total = sum(idf.values())
    cover = [max((sum(idf[b] for b in s) for s in sentences), default=0.0) / total
             for sentences in found]
    engine = [score for _, score in head]
    combined = [a + CHARACTER_WEIGHT * b for a, b in zip(_normalised(engine), _normalised(cover))]
    order = sorted(range(n), key=lambda i: (-combined[i], i))
    return [head[i] for i in order] + rest


def _normalised(values):
    low, high = min(values), max(values)
    if high <= low:
        return [0.0] * len(values)
    return [(v - low) / (high - low) for v in values]
