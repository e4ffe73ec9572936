"""Ranking quality on judged keyword queries over the seed dump.

tests/judged_seed.json holds 50+ queries a reader of the seed would type
(katakana names, hiragana readings, full-width Latin, compounds and their
parts, quoted phrases, exclusions, OR), each with the items that should come
first. They run as ``op=and`` through the service, as /api/search does.
``make eval`` reports the same measures next to the JaQuAD sets. They need
the seed in ../shared and skip, naming it, without it.
"""

import json
from pathlib import Path

import pytest

from search.ingest.dumps import read_dump

from helpers import search_json

JUDGED = Path(__file__).with_name("judged_seed.json")
JUDGMENTS = json.loads(JUDGED.read_text(encoding="utf-8"))
K = 10
# MRR@10 measured 1.00 on 55 queries (0.98 before issue 14 found モスクワ 株); a drop below this
# floor means several queries lost their first place.
MRR_FLOOR = 0.95
TOP = 3  # each query's first relevant item must be within the top 3


def _resolve(ref, items):
    found = [it.id for it in items
             if ref.get("handle", it.handle) == it.handle
             and ref.get("source", it.source) == it.source
             and it.headline.startswith(ref.get("headline", ""))
             and it.body.startswith(ref.get("body", ""))]
    assert len(found) == 1, f"{ref} matches {len(found)} items of the seed"
    return found[0]


@pytest.fixture(scope="module")
def ids(seed_path):
    """Name of a judged item -> its item id in the seed."""
    items = read_dump(seed_path).items
    return {name: _resolve(ref, items) for name, ref in JUDGMENTS["items"].items()}


def _ranked(service, q):
    hits = search_json(service, {"q": q, "op": JUDGMENTS["op"], "per_page": str(K)})["hits"]
    return [h["id"] for h in hits]


def _first_rank(ranked, relevant):
    return next((i for i, doc in enumerate(ranked, 1) if doc in relevant), None)


def test_judged_items_are_distinct(ids):
    assert len(set(ids.values())) == len(ids) == 21


def test_judged_set_mrr(seed_service, ids):
    ranks = [_first_rank(_ranked(seed_service, q["q"]), {ids[n] for n in q["relevant"]})
             for q in JUDGMENTS["queries"]]
    mrr = sum(1 / r for r in ranks if r) / len(ranks)
    assert len(ranks) >= 30
    assert mrr >= MRR_FLOOR, f"MRR@10 {mrr:.3f} on the judged seed queries"


def _params():
    for q in JUDGMENTS["queries"]:
        marks = ()
        if q.get("known_miss"):
            marks = pytest.mark.xfail(reason=q["known_miss"], strict=True)
        yield pytest.param(q, marks=marks, id=q["q"])


@pytest.mark.parametrize("judged", list(_params()))
def test_judged_query(seed_service, ids, judged):
    ranked = _ranked(seed_service, judged["q"])
    relevant = {ids[n] for n in judged["relevant"]}
    absent = {ids[n] for n in judged.get("absent", ())}
    assert not absent & set(ranked), f"{judged['q']!r} returned an excluded item"
    rank = _first_rank(ranked, relevant)
    assert rank is not None and rank <= TOP, (
        f"{judged['q']!r}: first relevant item at rank {rank}; "
        f"wanted one of {sorted(judged['relevant'])} in the top {TOP}")
