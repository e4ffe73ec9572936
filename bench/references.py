"""Two plain-Python reference rankers for `make eval`.

Both are textbook Okapi BM25 (k1=1.2, b=0.75) over one bag of words made of
the passage's title and text, queried as OR of the question's words (each
distinct word once), top 10. They are deliberately simple: they tell whether
the engine's ranking is at least as good as what a few dozen lines give.

- ``bigram``: NFKC, lowercase, punctuation and spaces removed; every run of
  letters/digits cut into overlapping character bigrams (a run of one
  character is a unigram).
- ``sudachi``: SudachiPy split mode C, normalized form (Latin words kept as
  lowercased surfaces), particles, auxiliaries, symbols and spaces dropped.
"""

import math
import re
import unicodedata
from collections import Counter

K1, B = 1.2, 0.75
_RUN = re.compile(r"[^\W_]+")  # letters and digits; punctuation, spaces, _ cut runs


def bigrams(text):
    text = unicodedata.normalize("NFKC", text).lower()
    grams = []
    for run in _RUN.findall(text):
        if len(run) == 1:
            grams.append(run)
        else:
            grams.extend(run[i:i + 2] for i in range(len(run) - 1))
    return grams


class SudachiWords:
    """Mode-C normalized forms without particles, auxiliaries, symbols."""

    STOP = ("助詞", "助動詞", "補助記号", "記号", "空白")

    def __init__(self):
        from sudachipy import Dictionary, SplitMode

        self.tokenizer = Dictionary().tokenizer(SplitMode.C)

    def __call__(self, text):
        words = []
        for line in text.split("\n"):  # lines stay far below Sudachi's input limit
            if not line.strip():
                continue
            for m in self.tokenizer.tokenize(line):
                if m.part_of_speech()[0] in self.STOP:
                    continue
                surface = unicodedata.normalize("NFKC", m.surface())
                word = surface if surface.isascii() else m.normalized_form()
                word = unicodedata.normalize("NFKC", word).lower().strip()
                if word:
                    words.append(word)
        return words


class BM25:
    """An inverted index of (doc, weight) postings; weights precomputed."""

    def __init__(self, docs, analyze):
        """docs: list of (doc_id, text); analyze: text -> list of words."""
        self.analyze = analyze
        self.ids = []
        counts, lengths = [], []
        for doc_id, text in docs:
            words = analyze(text)
            self.ids.append(doc_id)
            counts.append(Counter(words))
            lengths.append(len(words))
        n = len(self.ids)
        avg = sum(lengths) / max(n, 1)
        postings = {}
        for d, tf in enumerate(counts):
            norm = K1 * (1 - B + B * lengths[d] / avg)
            for word, f in tf.items():
                postings.setdefault(word, []).append((d, f * (K1 + 1) / (f + norm)))
        self.postings = {}
        for word, plist in postings.items():
            idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
            self.postings[word] = [(d, w * idf) for d, w in plist]

    def search(self, query, k=10):
        scores = {}
        get = scores.get
        for word in dict.fromkeys(self.analyze(query)):
            for d, w in self.postings.get(word, ()):
                scores[d] = get(d, 0.0) + w
        top = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [self.ids[d] for d, _ in top]


def build(kind, passages):
    """A BM25 ranker over passages ({"id", "title", "text"}) of the given kind."""
    analyze = bigrams if kind == "bigram" else SudachiWords()
    return BM25([(p["id"], f"{p['title']}\n{p['text']}") for p in passages], analyze)
