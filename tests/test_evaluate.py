"""Bulk evaluation (search/evaluate.py) finds and scores exactly what
Whoosh's own matcher tree does, whether a word is read from the posting
arrays or from Whoosh's postings, over several segments with deletions."""

import json
import os
import random
import shutil
import zlib

import numpy as np
import pytest
from whoosh import query as Q

from search import analysis
from search.index import posting_arrays as postings
from search.index.postings import Postings
from search.ingest import reindex as indexer
from search.ingest.dumps import parse_text
from search.query import evaluate, snippets
from search.query import language as querylang
from search.query import SearchService
from search.query.builder import build_query
from search.query.nodes import Near

from helpers import NEWS_DUMPS, search_json

QUERIES = [
    ("ロシア", "and"),
    ("ウクライナ 大統領", "and"),
    ("ロシア -ウクライナ", "and"),
    ("トランプ OR 関税", "and"),
    ('"大統領府報道官"', "and"),
    ("大統領府報道官", "and"),
    ("ゼレンスキ", "and"),  # completed from a prefix
    ("鉱物*", "and"),
    ("ぺすこふ", "and"),
    ("NATO 首脳", "and"),
    ("大統", "and"),  # tiers: completions (大統領) above the scattered pieces (大, 統)
    ("株", "and"),  # the word, then the words it begins (株価, 株式)
    ("ウクライナ 鉱*", "and"),
    ("ぜれんす", "and"),  # hiragana typed so far: its katakana completed
    ("ロシアの大統領報道官は誰ですか", "or"),
    ("ウクライナ 停戦 交渉 ロシア", "or"),
]


def _build(make_index, folder, **writing):
    """Two news dumps in one segment; then the third added (a second
    segment) and the first item dropped from the first dump (a deletion).
    writing: reindex's settings (min_postings)."""
    first, second, third = NEWS_DUMPS
    index_dir = make_index([first, second], into=folder, **writing)
    dumps = folder / "dumps"
    shutil.copy(third, dumps / third.name)
    changed = dumps / first.name
    text = changed.read_text(encoding="utf-8")
    lines = text.split("\n")
    second_item = parse_text(text).items[1]
    changed.write_text("\n".join(lines[second_item.line - 1:]), encoding="utf-8")
    summary = indexer.reindex(str(dumps), index_dir, **writing)
    assert summary.removed == 1 and summary.added > 1
    return index_dir


@pytest.fixture(scope="module", params=["posting arrays", "rare records", "whoosh postings"])
def service(request, tmp_path_factory, make_index):
    folder = tmp_path_factory.mktemp(request.param.replace(" ", "-"))
    if request.param == "posting arrays":
        index_dir = _build(make_index, folder, min_postings=1)  # every term in the arrays
    elif request.param == "rare records":  # most terms rarer than MIN_POSTINGS: records
        index_dir = _build(make_index, folder)
    else:
        index_dir = _build(make_index, folder)
        for name in os.listdir(index_dir):
            if name.endswith(postings.EXTENSION):
                os.remove(os.path.join(index_dir, name))
    return SearchService(index_dir)


def test_the_index_has_what_the_comparison_needs(service):
    s = service.searcher()
    readers = [r for r, _ in s.reader().leaf_readers()]
    assert len(readers) >= 2 and any(r.has_deletions() for r in readers)
    arrays = [postings.open_arrays(r) for r in readers]
    assert all(a is not None for a in arrays) or all(a is None for a in arrays)


def whoosh_matches(s, q):
    """The documents and scores of Whoosh's matcher tree, an exclusion
    applied to them afterwards: Whoosh 2.7.4's AndNotMatcher checks a
    segment's first required document against the excluded ones only when
    both start on the same document, so it keeps that document when the
    excluded word's first posting comes earlier
    (test_whooshs_and_not_keeps_an_early_excluded_document)."""
    if isinstance(q, Q.AndNot):
        excluded = {hit.docnum for hit in s.search(q.b, limit=None)}
        return {d: score for d, score in whoosh_matches(s, q.a).items() if d not in excluded}
    return {hit.docnum: hit.score for hit in s.search(q, limit=None)}


def test_whooshs_and_not_keeps_an_early_excluded_document(service):
    # In the second segment ウクライナ starts on its first document and ロシア
    # on its second, which has ウクライナ too: Whoosh's tree keeps it, the
    # engine's evaluation does not.
    s = service.searcher()
    q = build_query(s, querylang.parse("ロシア -ウクライナ"), "and")
    assert isinstance(q, Q.AndNot)
    excluded = {hit.docnum for hit in s.search(q.b, limit=None)}
    tree = {hit.docnum for hit in s.search(q, limit=None)}
    assert tree & excluded, "Whoosh's AndNot excludes it now: drop the workaround"
    docnums, _ = evaluate.matches(s, q)
    assert set(docnums.tolist()) == set(whoosh_matches(s, q)) == tree - excluded


@pytest.mark.parametrize("text,op", QUERIES)
def test_bulk_scores_equal_the_matcher_tree(service, text, op):
    s = service.searcher()
    q = build_query(s, querylang.parse(text), op)
    assert q is not None
    expected = whoosh_matches(s, q)
    docnums, scores = evaluate.matches(s, q)
    found = dict(zip(docnums.tolist(), scores.tolist()))
    assert expected, f"{text!r} should match something in the sample"
    assert found.keys() == expected.keys()
    for docnum, score in expected.items():
        assert found[docnum] == pytest.approx(score, rel=1e-9), docnum



@pytest.mark.parametrize("text,op", QUERIES)
def test_sparse_and_dense_evaluation_score_to_the_last_bit(service, text, op, monkeypatch):
    s = service.searcher()
    q = build_query(s, querylang.parse(text), op, synonyms=True)
    answers = []
    for share in (0.0, 1.0):  # every node it can as whole-segment arrays; every node sparse
        monkeypatch.setattr(evaluate, "SPARSE_SHARE", share)
        docnums, scores = evaluate.matches(s, q)
        answers.append((docnums.tolist(), scores.tolist()))
    assert answers[0][0], text
    assert answers[0] == answers[1]  # to the last bit: the same sums in the same order

def _near_draws(s, rng, per_text=3):
    """Near queries of two to four words drawn from a window of a stored
    text, in any order, chained as a phrase's are: a compound and its first
    part share a position (an overlap, distance 0), a later word may stand
    within the span of those before. The distances are mostly the words'
    own, so that most draws match."""
    analyzer = analysis.japanese_analyzer()
    for docnum in rng.sample(range(s.doc_count_all()), min(60, s.doc_count_all())):
        stored = s.stored_fields(docnum)
        for field in ("headline", "body"):
            tokens = [(t.text, t.pos)
                      for t in analyzer(stored.get(field, "")[:400], positions=True)]
            for _ in range(per_text if len(tokens) >= 8 else 0):
                k = rng.randrange(len(tokens) - 7)
                words = rng.sample(tokens[k:k + 8], rng.choice([2, 3, 3, 4]))
                if rng.random() < 0.8:
                    words.sort(key=lambda w: w[1])  # in the text's order: most match
                (text, end) = words[0]
                q = Q.Term(field, text)
                for text, at in words[1:]:
                    gap = max(0, abs(at - end) + rng.choice([-1, 0, 0, 0, 1]))
                    q = Near(q, Q.Term(field, text), slop=gap,
                             mindist=rng.choice([0, 0, 1, gap]), ordered=True)
                    end = max(end, at)
                yield q
            yield from _inner_word(field, tokens)


def _inner_word(field, tokens):
    """Four words at consecutive positions p..p+3, chained so that the third
    (at p+1) stands inside the span of the first two (p, p+2): the chain
    goes on from that span's end, p+2, and the fourth is 1 after it."""
    at = {pos: text for text, pos in reversed(tokens)}
    for p in sorted(at):
        if all(p + i in at for i in range(4)) and len({at[p + i] for i in range(4)}) == 4:
            q = Near(Q.Term(field, at[p]), Q.Term(field, at[p + 2]), slop=2, mindist=2)
            q = Near(q, Q.Term(field, at[p + 1]), slop=0, mindist=0)
            yield Near(q, Q.Term(field, at[p + 3]), slop=1, mindist=1)
            return


@pytest.mark.parametrize("share", [evaluate.SPARSE_SHARE, 0.0])  # 0: every word dense
def test_phrases_match_and_score_as_whooshs_span_near(service, share, monkeypatch):
    """Near (a phrase's words in order, a synonym typed as a sequence, op=or's
    nearness bonus), evaluated over whole posting lists
    (search/query/phrases.py), finds and scores what Whoosh's SpanNear
    matcher does, in pairs and chains of three (_near_draws)."""
    monkeypatch.setattr(evaluate, "SPARSE_SHARE", share)
    s = service.searcher()
    compared = matched = 0
    for q in _near_draws(s, random.Random(15)):
        expected = whoosh_matches(s, q)
        docnums, scores = evaluate.matches(s, q)
        assert dict(zip(docnums.tolist(), scores.tolist())) == pytest.approx(expected, rel=1e-9)
        compared, matched = compared + 1, matched + bool(expected)
    assert compared >= 120 and matched >= compared // 4, (compared, matched)  # it says something


def test_ranked_page_is_the_matcher_trees_order(service):
    s = service.searcher()
    q = build_query(s, querylang.parse("ロシア"), "and", synonyms=True)  # as the service does
    whoosh = [hit.docnum for hit in s.search(q, limit=10)]
    ours = search_json(service, {"q": "ロシア"})["hits"]
    assert [h["id"] for h in ours] == [s.stored_fields(d)["id"] for d in whoosh]


def _written(writer, folder):
    """The posting arrays writer's file, written into folder and opened."""
    class Storage:
        def create_file(self, name):
            from whoosh.filedb.structfile import StructFile

            return StructFile(open(os.path.join(str(folder), name), "wb"))

    class Segment:
        def segment_id(self):
            return "MAIN_test"

    writer.write(Storage(), Segment())
    return postings.SegmentArrays(os.path.join(str(folder), "MAIN_test" + postings.EXTENSION))


def test_arrays_round_trip(tmp_path):
    writer = postings.ArraysWriter(3)
    copies = postings.MIN_POSTINGS // 3 + 1
    many = [(d, float(d + 1), b"") for d in range(3)] * copies  # MIN_POSTINGS or more: kept
    writer.add_field("body", [5, None, 7], [(b"common", Postings.of(many)),
                                            (b"rare", Postings.of([(1, 2.0, b"")]))])
    arrays = _written(writer, tmp_path)
    ids, weights = arrays.postings("body", "common")
    assert ids.tolist() == [0, 1, 2] * copies and weights.tolist() == [1.0, 2.0, 3.0] * copies
    assert arrays.postings("body", "rare") is None  # below MIN_POSTINGS: a record of its own
    assert arrays.postings("headline", "common") is None
    assert np.array_equal(arrays.lengths("body"), [5.0, 0.0, 7.0])
    arrays.close()


def test_rare_terms_are_read_from_their_records_and_a_shared_hash_is_told_apart(tmp_path):
    """A term rarer than MIN_POSTINGS comes back from its record with its
    values; "plumless" and "buckeroo" have the same CRC-32, and each gets
    its own postings; a term the segment lacks is ABSENT, even when its
    hash is there."""
    assert zlib.crc32(b"plumless") == zlib.crc32(b"buckeroo")
    many = [(d, 1.0, b"x") for d in range(3)] * postings.MIN_POSTINGS
    terms = sorted([(b"buckeroo", Postings.of([(0, 1.5, b"ab"), (2, 3.0, b"")])),
                    (b"common", Postings.of(many)),
                    (b"plumless", Postings.of([(1, 2.0, b"cde")])),
                    ("ロシア".encode(), Postings.of([(2, 1.0, b"\x01\x02")]))])
    writer = postings.ArraysWriter(3)
    writer.add_field("body", [1, 2, 3], terms)
    arrays = _written(writer, tmp_path)

    def read(text, how=arrays.rare_postings):
        found = how("body", text)
        if found is None or found is postings.ABSENT:
            return found
        ids, weights, values = found
        return ids.tolist(), weights.tolist(), values if values is None else [
            values[k] for k in range(len(values))]

    # rare_postings reads the records; lookup, what a query reads, any term.
    for how in (arrays.rare_postings, arrays.lookup):
        assert read("buckeroo", how) == ([0, 2], [1.5, 3.0], [b"ab", b""])
        assert read("plumless", how) == ([1], [2.0], [b"cde"])
        assert read("ロシア", how) == ([2], [1.0], [b"\x01\x02"])
        assert read("missing", how) is postings.ABSENT
        assert how("headline", "plumless") is None  # no such field here
    assert read("common") is None  # kept: postings() reads it, and lookup
    assert read("common", arrays.lookup) == ([0, 1, 2] * postings.MIN_POSTINGS,
                                             [1.0] * 3 * postings.MIN_POSTINGS, None)
    arrays.close()

    # A file from before the records (hashes only), or before the hashes:
    # lookup reads the kept terms, and says what it cannot tell (None:
    # Whoosh's postings tell) or, with the hashes, what the segment lacks.
    path = os.path.join(str(tmp_path), "MAIN_test" + postings.EXTENSION)
    for dropped, missing in ((("records", "record_index"), postings.ABSENT),
                             (("records", "record_index", "hashes"), None)):
        older = _without(path, tmp_path, dropped)
        assert read("common", older.lookup)[0] == [0, 1, 2] * postings.MIN_POSTINGS
        assert older.lookup("body", "buckeroo") is None  # rare: in Whoosh's postings alone
        assert older.lookup("body", "missing") is missing
        older.close()


def _without(path, folder, names):
    """A copy of a posting arrays file whose header lacks names (as files
    written before them), opened."""
    with open(path, "rb") as f:
        data = f.read()
    start = len(postings.MAGIC) + postings._HEADER_SIZE.size
    (size,) = postings._HEADER_SIZE.unpack(data[len(postings.MAGIC):start])
    header = json.loads(data[start:start + size])
    for entry in header["fields"].values():
        for name in names:
            entry.pop(name, None)
    head = json.dumps(header).encode("utf-8")
    older = os.path.join(str(folder), "older" + postings.EXTENSION)
    with open(older, "wb") as f:
        f.write(postings.MAGIC + postings._HEADER_SIZE.pack(len(head)) + head + data[start + size:])
    return postings.SegmentArrays(older)


def test_kept_terms_find_each_index_and_tell_a_shared_hash_apart():
    kept = postings.KeptTerms(["buckeroo", "common", "ロシア", "plumless", ""])
    assert [kept.get(t) for t in ["buckeroo", "common", "ロシア", "plumless", ""]] == [0, 1, 2, 3, 4]
    assert kept.get("missing") is None and kept.get("ロシ") is None
    assert postings.KeptTerms(["plumless"]).get("buckeroo") is None  # same CRC-32, other bytes
    assert postings.KeptTerms([]).get("common") is None


@pytest.mark.parametrize("text,op", QUERIES)
def test_snippet_spans_read_from_blocks_equal_whooshs(service, text, op):
    """The page's marks come from the blocks the posting arrays point to
    (or Whoosh's postings): the same spans either way."""
    s = service.searcher()
    q = build_query(s, querylang.parse(text), op)
    evaluation = evaluate.Evaluation(s)
    docnums, scores = evaluation.matches(q)
    page = docnums[np.argsort(-scores, kind="stable")][:20].tolist()
    terms = query_terms(q)
    spans = snippets.load_spans(s, page, terms, evaluation)
    assert spans == snippets.load_spans(s, page, terms)
    assert any(spans.values())


def query_terms(q):
    from search.query.builder import positive_terms as _positive_terms

    return _positive_terms(q)


# ------------------------------------------- the usual mix, on a larger index

WORDS = ["ロシア", "ウクライナ", "停戦", "交渉", "大統領", "会談", "経済", "制裁", "首脳", "協議"]


def _doc(i, extra=""):
    words = [WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7)]
    body = f"ロシアと{words[1]}の{words[2]}について。{extra}" * (1 + i % 4)
    return dict(id=f"{i:016x}", headline=f"{words[1]}の{WORDS[i % len(WORDS)]}", body=body,
                source="テスト", handle="test", date=f"2025-01-{1 + i % 28:02d}",
                urls=[], tags=[], tag=None, dumps=["test.txt"])


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """300 documents whose common words fill several blocks and are kept in
    the posting arrays while rarer ones are not; then an update: the only
    document with ペスコフ deleted and written again in a second segment
    without it, and more documents."""
    from search.ingest.parallel import FastSegmentWriter
    from search.index import storage

    index_dir = str(tmp_path_factory.mktemp("mixed"))
    ix = storage.create(index_dir)
    writer = FastSegmentWriter(ix, min_postings=20)
    for i in range(300):
        writer.add_document(**_doc(i, "ペスコフ。" if i == 7 else ("モスクワ。" if i % 50 == 0 else "")))
    writer.commit()
    writer = FastSegmentWriter(ix, min_postings=20)
    writer.delete_by_term("id", f"{7:016x}")
    for i in [7] + list(range(300, 340)):
        writer.add_document(**_doc(i))
    writer.commit(merge=False)
    return SearchService(index_dir)


MIXED = [("ロシア", "and"), ("ロシア 停戦", "and"), ("経済 ペスコフ", "or"), ("ペスコフ OR 制裁", "and"),
         ("モスクワ 首脳", "or"), ("ロシア -制裁", "and"), ('"停戦について"', "and")]


def test_mixed_index_has_several_blocks_and_a_deleted_only_word(mixed):
    s = mixed.searcher()
    readers = [r for r, _ in s.reader().leaf_readers()]
    assert len(readers) == 2 and readers[0].has_deletions()
    arrays = postings.open_arrays(readers[0])
    assert arrays.count("body", "ロシア") > 256  # three blocks of 128
    assert arrays.count("body", "ペスコフ") is None and ("body", "ペスコフ") in readers[0]


@pytest.mark.parametrize("text,op", MIXED)
def test_mixed_index_scores_and_spans_equal_whooshs(mixed, text, op):
    s = mixed.searcher()
    q = build_query(s, querylang.parse(text), op)
    expected = whoosh_matches(s, q)
    evaluation = evaluate.Evaluation(s)
    docnums, scores = evaluation.matches(q)
    assert expected and dict(zip(docnums.tolist(), scores.tolist())) == pytest.approx(expected)
    # Spans for hits spread over every block and both segments.
    page = sorted(expected)[::7]
    terms = query_terms(q)
    assert snippets.load_spans(s, page, terms, evaluation) == snippets.load_spans(s, page, terms)
    answer = search_json(mixed, {"q": text, "op": op, "per_page": 100})
    assert answer["total"] == len(expected)


def test_threads_share_the_norms_and_completions_their_segments_make(service):
    # Each server thread keeps its own searcher, and so its own segment
    # readers: what depends only on the segments' files is made once for
    # all of them (search/query/shared.py), not once a thread.
    from search.index import storage
    from search.query import scoring, shared

    first, second = (storage.open_index(service.index_dir).searcher() for _ in range(2))
    assert first.reader() is not second.reader()
    combined = [evaluate.Combined(e, e.segments) for e in map(evaluate.Evaluation, (first, second))]
    norms = combined[0].length_norm("body")
    assert combined[1].length_norm("body") is norms
    evaluation = combined[0].evaluation
    avg = evaluation.avg_field_length("body")
    expected = np.concatenate([scoring.length_norm(p.lengths("body"), avg, scoring.B)
                               for p in evaluation.segments])
    assert np.array_equal(norms, expected)
    assert combined[0].length_norm("headline") is not norms
    # The words a prefix completes: found by the first searcher, kept for the second.
    build_query(first, querylang.parse("ゼレンスキ"), "and")
    kept = shared.completions.get(shared.segments_key(second.reader()), dict)
    assert "ゼレンスキ" in kept and any(w.startswith("ゼレンスキ") for w, _ in kept["ゼレンスキ"])
    assert shared.segments_key(second.reader()) == shared.segments_key(first.reader())
    first.close()
    second.close()


def test_kept_values_are_the_newest_asked_for_and_made_once():
    from search.query.shared import Kept

    made = []
    kept = Kept(2)

    def make(key):
        return lambda: made.append(key) or [key]

    a = kept.get("a", make("a"))
    assert kept.get("a", make("a")) is a and made == ["a"]
    kept.get("b", make("b"))
    kept.get("a", make("a"))  # "a" asked for again: "b" is the older now
    kept.get("c", make("c"))
    assert kept.get("a", make("a")) is a and made == ["a", "b", "c"]
    kept.get("b", make("b"))
    assert made == ["a", "b", "c", "b"]  # "b" was let go, and made again
    assert kept.get(None, make(None)) == [None] and kept.get(None, make(None)) == [None]
    assert made[-2:] == [None, None]  # no key: made each time, never kept
