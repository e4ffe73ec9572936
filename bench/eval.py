"""Retrieval quality: ``python -m bench.eval`` (``make eval``).

For each question→passage set in ../shared/eval/ (JaQuAD dev and train):

1. the passages are written as dump files by ../shared/tools/to_dumps.py
   (headline = article title, handle = passage id with non-word characters
   replaced by ``_``) and indexed by the project's own ``reindex``, into
   ``bench-data/cache/<set>-<key>/``; the key hashes the passages, the
   converter and the code that decides what is indexed (analysis, schema,
   dump parser, indexer), so an index is reused until one of them changes;
2. every question goes through the code path of ``/api/search``
   (``SearchService.search(parse_request({"q": question, "op": "or", "per_page": 10}))``)
   and hits are mapped back to passages by their stored ``handle``;
3. the same questions are ranked by two plain-Python references
   (bench/references.py: character-bigram BM25 and Sudachi-C BM25).

It also runs the judged keyword queries on the seed dump
(tests/judged_seed.json, op=and). It prints R@1, R@10 and MRR@10 of every
ranking side by side and writes them, with every query's rank of its first
relevant passage, to bench-data/eval.json (or --out).

R@k: the share of queries with a relevant passage in the top k.
MRR@10: the mean of 1/rank of the first relevant passage (0 beyond 10).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
EVAL_DIR = SHARED / "eval"
TO_DUMPS = SHARED / "tools" / "to_dumps.py"
SEED = SHARED / "seed" / "000_0d03cf4c130cef51.txt"
JUDGED = ROOT / "tests" / "judged_seed.json"
BENCH_DATA = ROOT / "bench-data"
DEFAULT_SETS = ("jaquad-dev", "jaquad-train")
REFERENCES = ("bigram", "sudachi")
K = 10
# What decides the content of an index built from the same dump files.
INDEX_CODE = ("search/analysis.py", "search/index/schema.py", "search/ingest/dumps.py",
              "search/ingest/reindex.py")


# ------------------------------------------------------------------ measures

def first_rank(ranked, relevant):
    """1-based rank of the first relevant id in ranked (top K), else None."""
    for i, doc in enumerate(ranked[:K], 1):
        if doc in relevant:
            return i
    return None


def measures(ranks):
    """R@1, R@10 and MRR@10 of a list of first-relevant ranks (None = miss)."""
    n = len(ranks) or 1
    return {"R@1": sum(r == 1 for r in ranks) / n,
            "R@10": sum(r is not None for r in ranks) / n,
            "MRR@10": sum(1 / r for r in ranks if r) / n,
            "n": len(ranks)}


# ------------------------------------------------------------------- indexes

def _sha1(paths, extra=""):
    h = hashlib.sha1(extra.encode())
    for path in paths:
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:12]


def cached_index(name, make_dumps, inputs, log):
    """The index dir for a set, built once per content key; returns (dir, seconds
    spent building, None when reused)."""
    key = _sha1(list(inputs) + [ROOT / p for p in INDEX_CODE], name)
    base = BENCH_DATA / "cache" / f"{name}-{key}"
    index_dir, done = base / "index", base / "done.json"
    if done.exists():
        return str(index_dir), None
    if base.exists():
        shutil.rmtree(base)  # a build that did not finish
    dumps_dir = base / "dumps"
    make_dumps(dumps_dir)
    from search.ingest import reindex

    started = time.perf_counter()
    summary = reindex.reindex(str(dumps_dir), str(index_dir))
    seconds = time.perf_counter() - started
    if summary.skipped:
        raise SystemExit(f"{name}: dump files skipped by reindex: {summary.skipped}")
    done.write_text(json.dumps({"items": summary.items, "seconds": round(seconds, 1)}))
    log(f"{name}: indexed {summary.items} items in {seconds:.1f} s into {index_dir}")
    for old in (BENCH_DATA / "cache").glob(f"{name}-*"):
        if old != base:
            shutil.rmtree(old, ignore_errors=True)
    return str(index_dir), seconds


def qa_dumps(passages_path):
    def make(outdir):
        subprocess.run([sys.executable, str(TO_DUMPS), "qa", str(passages_path), str(outdir)],
                       check=True, stdout=subprocess.DEVNULL)
    return make


def seed_dumps(outdir):
    os.makedirs(outdir, exist_ok=True)
    shutil.copy(SEED, Path(outdir) / SEED.name)


# ------------------------------------------------------------------- engine

def engine_ranks(index_dir, questions, op, to_id, jobs=1):
    """First-relevant rank of each (question, relevant ids) via SearchService,
    plus the number of questions the service refused and the seconds taken.
    jobs > 1 splits the questions over forked processes (each opens the
    index itself, after the fork)."""
    started = time.perf_counter()
    if jobs > 1 and len(questions) > 1:
        import multiprocessing

        chunks = [questions[i::jobs] for i in range(jobs)]
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs) as pool:
            parts = pool.starmap(_engine_chunk, [(index_dir, c, op, to_id) for c in chunks])
        ranks = [None] * len(questions)
        for i, (part, _) in enumerate(parts):
            ranks[i::jobs] = part
        refused = sum(r for _, r in parts)
    else:
        ranks, refused = _engine_chunk(index_dir, questions, op, to_id)
    return ranks, refused, time.perf_counter() - started


def _engine_chunk(index_dir, questions, op, to_id):
    from search import render
    from search.query import QueryError, SearchService, parse_request

    service = SearchService(index_dir)
    ranks, refused = [], 0
    for q, relevant in questions:
        try:
            hits = render.search_json(
                service.search(parse_request({"q": q, "op": op, "per_page": K})))["hits"]
        except QueryError:
            refused += 1
            hits = []
        ranks.append(first_rank([to_id(h) for h in hits], relevant))
    return ranks, refused


def qa_set(name, limit, refs, log, jobs=1):
    folder = EVAL_DIR / name
    passages_path, queries_path = folder / "passages.jsonl", folder / "queries.jsonl"
    passages = [json.loads(line) for line in open(passages_path, encoding="utf-8")]
    queries = [json.loads(line) for line in open(queries_path, encoding="utf-8")]
    if limit:
        queries = queries[:limit]
    by_handle = {re.sub(r"\W", "_", p["id"]): p["id"] for p in passages}
    assert len(by_handle) == len(passages), "passage ids collide as handles"
    questions = [(q["query"], set(q["relevant"])) for q in queries]

    index_dir, built = cached_index(name, qa_dumps(passages_path), [passages_path, TO_DUMPS], log)
    ranks, refused, seconds = engine_ranks(index_dir, questions, "or",
                                           _HandleToId(by_handle), jobs)
    result = {"engine": measures(ranks)}
    timing = {"index_s": round(built, 1) if built is not None else "cached",
              "engine_s": round(seconds, 1)}
    log(f"{name}: engine {len(questions)} questions in {seconds:.1f} s")
    per_query = {"engine": ranks}
    from bench import references

    for kind in refs:
        started = time.perf_counter()
        ranker = references.build(kind, passages)
        ref_ranks = [first_rank(ranker.search(q), rel) for q, rel in questions]
        result[kind] = measures(ref_ranks)
        per_query[kind] = ref_ranks
        timing[f"{kind}_s"] = round(time.perf_counter() - started, 1)
        log(f"{name}: {kind} reference in {timing[f'{kind}_s']} s")
    return {"set": name, "queries": len(questions), "op": "or", "refused": refused,
            "measures": result, "seconds": timing,
            "per_query": {q["qid"]: [per_query[s][i] for s in per_query]
                          for i, q in enumerate(queries)},
            "per_query_columns": list(per_query)}


class _HandleToId:
    """hit -> passage id, through the stored handle (picklable for --jobs)."""

    def __init__(self, by_handle):
        self.by_handle = by_handle

    def __call__(self, hit):
        return self.by_handle.get(hit["handle"])


def _hit_id(hit):
    return hit["id"]


# --------------------------------------------------------------- judged seed

def load_judged(path=JUDGED):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def seed_items(seed_path=SEED):
    from search.ingest.dumps import read_dump

    return read_dump(seed_path).items


def resolve(ref, items):
    """The id of the one item matching a stable identification: handle or
    source, and the start of the headline (and of the body, when the
    headline is not unique). Raises LookupError unless exactly one matches."""
    found = [it.id for it in items
             if ref.get("handle", it.handle) == it.handle
             and ref.get("source", it.source) == it.source
             and it.headline.startswith(ref.get("headline", ""))
             and it.body.startswith(ref.get("body", ""))]
    if len(found) != 1:
        raise LookupError(f"{ref} matches {len(found)} items of the seed")
    return found[0]


def judged_queries(judged, items):
    """[(query dict, set of relevant ids, set of ids that must not appear)],
    the judged set's named items resolved to the ids of the seed's items."""
    ids = {name: resolve(ref, items) for name, ref in judged["items"].items()}
    return [(q, {ids[n] for n in q["relevant"]}, {ids[n] for n in q.get("absent", ())})
            for q in judged["queries"]]


def seed_set(log):
    judged = load_judged()
    items = seed_items()
    queries = judged_queries(judged, items)
    index_dir, _ = cached_index("seed", seed_dumps, [SEED], log)
    ranks, refused, seconds = engine_ranks(
        index_dir, [(q["q"], rel) for q, rel, _ in queries], judged.get("op", "and"),
        _hit_id)
    return {"set": "seed-judged", "queries": len(queries), "op": judged.get("op", "and"),
            "refused": refused, "measures": {"engine": measures(ranks)},
            "seconds": {"engine_s": round(seconds, 2)},
            "per_query": {q["q"]: [r] for (q, _, _), r in zip(queries, ranks)},
            "per_query_columns": ["engine"]}


# -------------------------------------------------------------------- report

def table(results, refs):
    systems = ["engine", *refs]
    head = f"{'set':<13} {'n':>5}  " + "  ".join(f"{s:^22}" for s in systems)
    sub = f"{'':<13} {'':>5}  " + "  ".join(f"{'R@1':>6} {'R@10':>6} {'MRR@10':>8}"
                                             for _ in systems)
    lines = [head, sub, "-" * len(sub)]
    for r in results:
        cells = []
        for s in systems:
            m = r["measures"].get(s)
            cells.append(f"{m['R@1']:6.3f} {m['R@10']:6.3f} {m['MRR@10']:8.3f}" if m
                         else f"{'–':>6} {'–':>6} {'–':>8}")
        lines.append(f"{r['set']:<13} {r['queries']:>5}  " + "  ".join(cells))
    margins = []
    for r in results:
        ref = [r["measures"][s]["MRR@10"] for s in refs if s in r["measures"]]
        if ref:
            margins.append(f"{r['set']}: engine MRR@10 − best reference = "
                           f"{r['measures']['engine']['MRR@10'] - max(ref):+.3f}")
    return "\n".join(lines + [""] + margins)


def ranking_config():
    from search.query import builder, scoring

    return {name: getattr(module, name) for module in (scoring, builder) for name in dir(module)
            if (name.endswith("_BOOST") or name in ("K1", "B"))
            and isinstance(getattr(module, name), (int, float))}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(DEFAULT_SETS),
                    help="comma-separated sets of ../shared/eval (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions of each set")
    ap.add_argument("--out", default=str(BENCH_DATA / "eval.json"), help="JSON report path")
    ap.add_argument("--jobs", type=int, default=1,
                    help="processes for the engine's questions (default 1: the machine is shared)")
    ap.add_argument("--no-refs", action="store_true", help="skip the two reference rankers")
    ap.add_argument("--no-seed", action="store_true", help="skip the judged seed queries")
    args = ap.parse_args(argv)
    started = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    for name in sets:
        if not (EVAL_DIR / name / "queries.jsonl").exists():
            ap.error(f"no question set {name!r} in {EVAL_DIR}")
    refs = () if args.no_refs else REFERENCES
    results = [qa_set(name, args.limit, refs, log, args.jobs) for name in sets]
    if not args.no_seed:
        results.append(seed_set(log))
    total = time.perf_counter() - started
    print(table(results, refs))
    print(f"\ntotal {total:.0f} s")
    report = {"k": K, "limit": args.limit or None, "ranking": ranking_config(),
              "total_s": round(total, 1), "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
