"""The figures docs/scale-out.md sizes a cluster with, measured in process on
one core (`python -m bench.scaleout`):

- analysis: items per second per core, bare Sudachi (split mode C) and our
  whole analyzer (search.analysis.postings: forms, mode-A parts, positions,
  characters) over the headline and body of the first N items of the x1
  corpus; terms and text bytes an item;
- index: bytes per item of existing index directories, by kind of file;
- queries: the cost of a search per matching item: the bench's queries run
  in process (SearchService, as /api/search answers them: 10 hits with
  snippets, stories, facets, synonyms), each timed (the median of
  --repeat runs) against its total, fitted as a + b x total (Theil-Sen: the
  median pairwise slope; least squares beside it), and timelines likewise.

    python -m bench.scaleout --index bench-data/work/x4-index [--index ...] \\
        [--items 1000] [--queries bench-data/work/queries.json] [--json OUT]

One thread, one process: the figures are per core. The corpus is the bench's
(bench-data/corpora/, built when missing).
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from . import common as C
from .common import log

# What Whoosh's files (and ours beside them) hold, by file name ending.
FILE_KINDS = (
    (".pst", "postings (positions and characters, blocks)"),
    (".trm", "term table (inlined rare postings)"),
    (".arr", "posting arrays (frequent terms' ids and weights)"),
    ("_stored.col", "stored fields (headline, body, ...)"),
    ("_len.col", "field lengths"),
    (".col", "columns (source, date, ...)"),
    (".pickle", "story tables"),
    (".json", "manifests, readings"),
    (".dic", "user dictionary"),
)


def analysis_figures(items):
    """CPU seconds of bare Sudachi and of our analyzer over the items."""
    from sudachipy import Dictionary

    from search import analysis

    texts = [(it.headline, it.body) for it in items]
    size = sum(len(h.encode()) + len(b.encode()) for h, b in texts)
    tokenizer = Dictionary().tokenizer("C")
    started = time.process_time()
    morphemes = 0
    for h, b in texts:
        for _, chunk in analysis.chunks(f"{h}\n{b}"):
            for found, _ in analysis.tokenize_chunk(tokenizer, chunk, 0):
                morphemes += len(found)
    bare = time.process_time() - started
    analysis.load()
    analysis.postings("準備")  # the tokenizer of this thread
    started = time.process_time()
    terms = postings = 0
    for h, b in texts:
        for text in (h, b):
            got = analysis.postings(text)
            terms += len(got)
            postings += sum(len(a) for a in got.values()) // 3
    ours = time.process_time() - started
    n = len(texts)
    return {"items": n, "text_bytes_per_item": round(size / n), "morphemes_per_item":
            round(morphemes / n, 1),
            "bare_sudachi": {"cpu_seconds": round(bare, 2), "items_per_core_second":
                             round(n / bare, 1), "mb_per_core_second": round(size / 1e6 / bare, 2)},
            "our_analyzer": {"cpu_seconds": round(ours, 2), "items_per_core_second":
                             round(n / ours, 1), "mb_per_core_second": round(size / 1e6 / ours, 2),
                             "distinct_terms_per_item": round(terms / n, 1),
                             "postings_per_item": round(postings / n, 1)}}


def index_figures(index_dir):
    """Bytes per item of an index directory, by kind of file."""
    from search.query import SearchService

    docs = SearchService(str(index_dir)).searcher().doc_count()
    kinds = {}
    total = 0
    for name in os.listdir(index_dir):
        size = os.path.getsize(os.path.join(index_dir, name))
        total += size
        kind = next((label for end, label in FILE_KINDS if name.endswith(end)), "other")
        kinds[kind] = kinds.get(kind, 0) + size
    return {"index": str(index_dir), "items": docs, "mb": round(total / 1e6, 1),
            "bytes_per_item": round(total / docs),
            "by_kind_bytes_per_item": {k: round(v / docs) for k, v in
                                       sorted(kinds.items(), key=lambda kv: -kv[1])}}


def _fit(xs, ys):
    """Least squares y = a + b x: (a, b, r^2)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx if sxx else 0.0
    a = my - b * mx
    ss = sum((y - my) ** 2 for y in ys)
    res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    return a, b, (1 - res / ss) if ss else 0.0


def _theil_sen(xs, ys):
    """The median of the pairwise slopes and the median residual: a fit that
    a few slow outliers (a query with many synonyms, a page fault) do not
    drag, unlike least squares. (a, b)."""
    slopes = sorted((ys[j] - ys[i]) / (xs[j] - xs[i]) for i in range(len(xs))
                    for j in range(i + 1, len(xs)) if xs[j] != xs[i])
    b = slopes[len(slopes) // 2] if slopes else 0.0
    a = statistics.median(y - b * x for x, y in zip(xs, ys))
    return a, b


def query_figures(index_dir, queries, repeat):
    """Each query's latency (median of `repeat`) against its total, searches
    and timelines, fitted as a + b x total."""
    from search import render
    from search.query import SearchService, parse_request

    from .perf import search_json

    service = SearchService(str(index_dir))
    params = [{"q": " ".join(words), "per_page": "10"} for words in queries]
    for p in params:  # warm-up: columns, searchers, dictionary pages
        search_json(service, p)
    rows = []
    for p in params:
        times, total = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            total = search_json(service, p)["total"]
            times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        render.timeline_json(service.timeline(parse_request(p), "month"))
        timeline_ms = (time.perf_counter() - started) * 1000
        rows.append((total, statistics.median(times), timeline_ms))
    totals = [r[0] for r in rows]
    a, b, r2 = _fit(totals, [r[1] for r in rows])
    ta, tb, tr2 = _fit(totals, [r[2] for r in rows])
    ra, rb = _theil_sen(totals, [r[1] for r in rows])
    rta, rtb = _theil_sen(totals, [r[2] for r in rows])
    buckets = []
    for low, high in ((0, 100), (100, 1000), (1000, 5000), (5000, 10 ** 9)):
        got = [r[1] for r in rows if low <= r[0] < high]
        if got:
            buckets.append({"totals": f"{low}-{high if high < 10 ** 9 else ''}",
                            "queries": len(got), "median_ms": round(statistics.median(got), 2)})
    return {"index": str(index_dir), "queries": len(rows), "repeat": repeat,
            "mean_total": round(sum(totals) / len(totals), 1), "max_total": max(totals),
            "search": {"fixed_ms": round(ra, 3), "us_per_matching_item": round(rb * 1000, 3),
                       "least_squares": {"fixed_ms": round(a, 3), "us_per_matching_item":
                                         round(b * 1000, 3), "r2": round(r2, 3)},
                       "p50_ms": round(statistics.median(r[1] for r in rows), 2),
                       "p95_ms": round(C.percentiles([r[1] for r in rows])["p95"], 2)},
            "timeline_month": {"fixed_ms": round(rta, 3), "us_per_matching_item":
                               round(rtb * 1000, 3),
                               "least_squares": {"fixed_ms": round(ta, 3), "us_per_matching_item":
                                                 round(tb * 1000, 3), "r2": round(tr2, 3)},
                               "p50_ms": round(statistics.median(r[2] for r in rows), 2)},
            "by_total": buckets}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__.split("\n\n")[0])
    p.add_argument("--index", action="append", default=[], metavar="DIR",
                   help="an index to measure (repeatable)")
    p.add_argument("--items", type=int, default=1000, metavar="N",
                   help="items of the x1 corpus analysed (default 1000)")
    p.add_argument("--queries", default=None, metavar="JSON",
                   help="the bench's query list (queries.json of a bench run; default: drawn "
                        "from the x1 corpus as the bench draws them)")
    p.add_argument("--repeat", type=int, default=3, metavar="N", help="runs per query (default 3)")
    p.add_argument("--data", default=str(C.DATA), help="the bench's cache folder")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the figures here")
    args = p.parse_args(argv)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core: figures per core

    dumps, _ = C.corpus(args.data, 1)
    items = C.parse_items(dumps)
    out = {"meta": {"command": " ".join(["python -m bench.scaleout", *(argv or sys.argv[1:])]),
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    log(f"analysis of {args.items} items")
    out["analysis"] = analysis_figures(items[:args.items])
    queries = (json.loads(Path(args.queries).read_text()) if args.queries
               else C.draw_queries(items, 300))
    out["indexes"], out["queries"] = [], []
    for index in args.index:
        log(f"index {index}")
        out["indexes"].append(index_figures(index))
        out["queries"].append(query_figures(index, queries, args.repeat))
    text = json.dumps(out, ensure_ascii=False, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
