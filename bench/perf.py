"""The performance benchmark behind `make bench` (`python -m bench`).

Measures, in one run and side by side with its references:

- indexing (the x1 corpus, 7,367 items): the analyzer floor (bare Sudachi
  tokenization in one process), a full reindex, a reindex with nothing
  changed, a reindex after one new day's dump, index size, peak memory;
- queries (the x4 corpus): latency through HTTP against the real server, one
  client and 8 concurrent clients, the same in-process, and SQLite FTS5
  (trigram) on the same items and queries; server memory;
- scale: index time and query latency on the x1, x4 and x14 corpora;
- x40 (~295,000 items): full reindex against 40 x the x1 analyzer floor,
  indexer peak memory, index size, HTTP latency (flat and group=story),
  8-client throughput, server memory by kind of mapping;
- profiles (cProfile) of an in-process reindex and of in-process queries.

Results go to bench-data/bench.json and docs/performance.md (or --out DIR).
See docs/performance.md for what each number means and how it is measured.
"""

import argparse
import cProfile
import datetime
import io
import json
import os
import platform
import pstats
import re
import shutil
import sqlite3
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path

from . import common as C
from .common import dig as _get, log

SCALE_COPIES = 14
X40_COPIES = 40
X40_SERVER_START = 900  # seconds the x40 server may take to answer its first request
PLOT_FILE = "performance-scale.svg"
NEW_DAY_ITEMS = 30
CLIENTS = 8
PROFILE_ITEMS = 1000
PROFILE_QUERIES = 100
TOP_FUNCTIONS = 15

# (key, label, operator, bar)
BARS = [
    ("full_over_floor", "full reindex / analyzer floor", "<=", 1.2),
    ("noop_over_full", "no-op reindex / full reindex", "<=", 0.05),
    ("add_day_over_full", "add one day / full reindex", "<=", 0.10),
    ("p50_inproc_over_fts5", "p50 ours in-process / FTS5 in-process", "<=", 2.0),
    ("p95_inproc_over_fts5", "p95 ours in-process / FTS5 in-process", "<=", 2.0),
    ("p50_http_over_fts5", "p50 ours HTTP / FTS5 in-process", "<=", 2.0),
    ("p95_http_over_fts5", "p95 ours HTTP / FTS5 in-process", "<=", 2.0),
    ("qps8_over_qps1", f"QPS {CLIENTS} clients / 1 client (HTTP)", ">=", 1.6),
    ("server_rss_mb", "server RSS, peak, master + workers (MB)", "<=", 400.0),
    # The same without file pages (the index files whoosh mmaps, counted once per
    # mapping in RSS): the memory the server really takes for itself.
    ("server_anon_mb", "server anonymous RSS, peak, master + workers (MB)", "<=", 400.0),
    # Issue 15: the reindex's memory is bounded by --memory-mb (default 1500),
    # not by the corpus: the peak of what its processes take together (PSS:
    # pages they share, Sudachi's dictionary file and what the writers
    # inherit at the fork, counted once, where summed RSS counts them once a
    # process), at the largest corpus this run indexed (x1, x4, x14 or x40).
    ("indexer_peak_pss_mb",
     ("full reindex peak memory, its processes together (PSS), largest corpus run (MB)"),
     "<=", 1500.0),
]
# The x40 section's bars, listed only when it ran (labels name its corpus).
X40_BARS = [
    ("x40_full_over_floor", "x{k}: full reindex / ({k} × the x1 analyzer floor)", "<=", 1.25),
    ("x40_http_p95_ms", "x{k}: HTTP p95, 1 client, the queries with snippets (ms)", "<=", 25.0),
    ("x40_server_rss_mb", "x{k}: server RSS, peak, master + workers (MB)", "<=", 600.0),
]


# ------------------------------------------------------------------ helpers

def reindex_cmd(dumps, index, full=False):
    cmd = [sys.executable, "-m", "search", "reindex", "--dumps", str(dumps),
           "--index", str(index), "--quiet"]
    return cmd + ["--full"] if full else cmd


def _summary_line(log_path):
    text = Path(log_path).read_text(errors="replace")
    m = re.search(r"items: (\d+) added, (\d+) updated, (\d+) removed, (\d+) in the index", text)
    return ({"added": int(m[1]), "updated": int(m[2]), "removed": int(m[3]), "items": int(m[4])}
            if m else {"log": text[-500:]})


def reindex(run, dumps, index, name, full=False):
    log_path = run.work / f"{name}.log"
    result = C.run_measured(reindex_cmd(dumps, index, full), log_path)
    result.update(_summary_line(log_path))
    log(f"  {name}: {result['seconds']:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB")
    return result


def _ratio(a, b):
    return round(a / b, 4) if a is not None and b else None


def tokenize_floor(items):
    """Seconds one process spends on nothing but Sudachi tokenization of the
    items' headline + body (mode C), chunked as search/analysis.py chunks."""
    from sudachipy import Dictionary

    from search.analysis import chunks, tokenize_chunk  # the indexer's own chunking

    tokenizer = Dictionary().tokenizer("C")
    texts = [f"{it.headline}\n{it.body}" for it in items]
    morphemes = 0
    started, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        for _, chunk in chunks(text):
            for found, _ in tokenize_chunk(tokenizer, chunk, 0):
                morphemes += len(found)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    size = sum(len(t.encode("utf-8")) for t in texts)
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 2),
            "items": len(texts), "morphemes": morphemes,
            "mb": round(size / 1e6, 2), "mb_per_s": round(size / 1e6 / seconds, 2)}


# ------------------------------------------------------------ query clients

def run_clients(port, paths, clients):
    """Send every path once, spread over `clients` threads with a keep-alive
    connection each. Latency is from sending the request to the last byte."""
    n = len(paths)
    latency, took, totals = [None] * n, [None] * n, [None] * n
    errors = []
    lock = threading.Lock()
    todo = iter(range(n))
    barrier = threading.Barrier(clients + 1)
    reconnects = [0]

    def client():
        c = C.Client(port)
        barrier.wait()
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                status, body = c.get(paths[i])
            except OSError as e:
                errors.append(f"{paths[i]}: {e!r}")
                continue
            latency[i] = (time.perf_counter() - started) * 1000
            if status != 200:
                errors.append(f"{paths[i]}: HTTP {status} {body[:200]!r}")
                continue
            answer = json.loads(body)
            totals[i], took[i] = answer.get("total"), answer.get("took_ms")
        with lock:
            reconnects[0] += c.reconnects
        c.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    done = [x for x in latency if x is not None]
    return {"clients": clients, "requests": n, "seconds": round(wall, 3),
            "qps": round(len(done) / wall, 1) if wall else None,
            "latency_ms": C.percentiles(done),
            "server_took_ms": C.percentiles([x for x in took if x is not None]),
            "errors": len(errors), "error_samples": errors[:5], "reconnects": reconnects[0],
            "hits": _hits_summary(totals)}


def _hits_summary(totals):
    got = [t for t in totals if t is not None]
    return {"queries_with_hits": sum(1 for t in got if t > 0), "queries": len(got),
            "mean_total": round(sum(got) / len(got), 1) if got else None}


def http_bench(run, index, queries, name, concurrent=True, references=None):
    """Start the server on index, warm it up (every query once, CLIENTS
    clients), then, `run.query_rounds` times when `references` is given (else
    once): one client over the query list (latency, QPS), the references
    (FTS5 and the in-process engine, measured between the HTTP runs so that
    both sides of a ratio see the same machine), and CLIENTS clients over
    the same list (QPS). The round with the median p50 ratio to FTS5 is
    reported, every round's ratios are kept. Server memory from /proc."""
    paths = [C.search_path(words) for words in queries]
    out, rounds = {}, []
    with C.Server(index, run.work / f"{name}-server.log") as server:
        out["server_start_rss"] = server.memory()
        run_clients(server.port, paths, CLIENTS)  # warm-up
        out["server_idle_rss"] = server.memory()
        sampler = C.Sampler(server.proc.pid, interval=0.1)
        sampler.start()
        for _ in range(run.query_rounds if references else 1):
            one = run_clients(server.port, paths, 1)
            measured = {"one_client": one, **(references() if references else {})}
            if concurrent:
                measured["concurrent"] = run_clients(server.port, paths, CLIENTS)
            rounds.append(measured)
        out["server_peak"] = sampler.finish()
        out["server_end_rss"] = server.memory()
        out["server_end_maps"] = C.smaps_breakdown(server.proc.pid, index)
        stats = C.Client(server.port).get("/api/stats")
        out["items"] = json.loads(stats[1]).get("items") if stats[0] == 200 else None
    if references:
        for r in rounds:
            r["ratios"] = {b["key"]: b["value"] for b in bars({"queries": {
                "http": r, "fts5": r["fts5"], "inprocess": r["inprocess"]}})
                if b["value"] is not None}
        rounds.sort(key=lambda r: r["ratios"].get("p50_http_over_fts5", 0))
        out["rounds"] = [r["ratios"] for r in rounds]
    out.update(rounds[len(rounds) // 2])
    out.pop("ratios", None)
    one = out["one_client"]
    log(f"  {name} HTTP 1 client: p50 {one['latency_ms'].get('p50')} ms, "
        f"p95 {one['latency_ms'].get('p95')} ms, {one['qps']} q/s"
        + (f"; {CLIENTS} clients: {out['concurrent']['qps']} q/s" if concurrent else "")
        + f"; server RSS peak {out['server_peak']['peak_rss_mb']} MB")
    return out


class InProcess:
    """SearchService.search called directly, one thread, after a warm-up pass."""

    def __init__(self, index, queries):
        from search.query import SearchService

        self.service = SearchService(str(index))
        self.params = [{"q": " ".join(words), "per_page": "10"} for words in queries]
        for p in self.params:
            search_json(self.service, p)

    def measure(self, **extra):
        """Latency of each query, as the API answers it (extra: more parameters)."""
        latency, totals = [], []
        for p in self.params:
            p = dict(p, **extra)
            started = time.perf_counter()
            answer = search_json(self.service, p)
            latency.append((time.perf_counter() - started) * 1000)
            totals.append(answer["total"])
        return {"latency_ms": C.percentiles(latency), "hits": _hits_summary(totals)}

    def measure_timeline(self, interval="day"):
        """Latency of each query's timeline, as /api/timeline answers it."""
        from search import render
        from search.query import parse_request

        latency = []
        for p in self.params:
            started = time.perf_counter()
            render.timeline_json(self.service.timeline(parse_request(p), interval))
            latency.append((time.perf_counter() - started) * 1000)
        return {"latency_ms": C.percentiles(latency)}


# ------------------------------------------------------------------- FTS5

FTS5_QUERY = ("SELECT id, highlight(docs, 0, '<mark>', '</mark>'), "
              "snippet(docs, 1, '<mark>', '</mark>', '…', 64), source, date "
              "FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 10")
FTS5_COUNT = "SELECT count(*) FROM docs WHERE docs MATCH ?"


def fts5_match(words):
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)


class FTS5:
    """The same items in SQLite FTS5 (trigram), the same queries: AND of the
    quoted words, 10 rows by bm25 (headline weighted 2, as ours), with
    highlight() and snippet(); one connection, in-process, after a warm-up."""

    def __init__(self, items, queries, db_path):
        for suffix in ("", "-journal", "-wal"):
            try:
                os.remove(f"{db_path}{suffix}")
            except FileNotFoundError:
                pass
        rows = [(it.headline, it.body, it.id, it.source, it.date.isoformat()) for it in items]
        started = time.perf_counter()
        con = self.con = sqlite3.connect(db_path)
        con.execute("CREATE VIRTUAL TABLE docs USING fts5(headline, body, id UNINDEXED, "
                    "source UNINDEXED, date UNINDEXED, tokenize='trigram')")
        con.execute("INSERT INTO docs(docs, rank) VALUES ('rank', 'bm25(2.0, 1.0)')")
        with con:
            con.executemany("INSERT INTO docs(headline, body, id, source, date) "
                            "VALUES (?, ?, ?, ?, ?)", rows)
        build = time.perf_counter() - started
        self.info = {"build_seconds": round(build, 3), "items": len(rows),
                     "size_mb": round(os.path.getsize(db_path) / 1e6, 1),
                     "sqlite": sqlite3.sqlite_version}
        self.matches = [fts5_match(words) for words in queries]
        for m in self.matches:  # warm-up
            con.execute(FTS5_QUERY, (m,)).fetchall()
        log(f"  FTS5: build {build:.1f} s")

    def measure(self):
        con, latency, with_count, totals = self.con, [], [], []
        for m in self.matches:
            started = time.perf_counter()
            con.execute(FTS5_QUERY, (m,)).fetchall()
            latency.append((time.perf_counter() - started) * 1000)
        for m in self.matches:
            started = time.perf_counter()
            con.execute(FTS5_QUERY, (m,)).fetchall()
            total = con.execute(FTS5_COUNT, (m,)).fetchone()[0]
            with_count.append((time.perf_counter() - started) * 1000)
            totals.append(total)
        return dict(self.info, latency_ms=C.percentiles(latency),
                    latency_with_count_ms=C.percentiles(with_count), hits=_hits_summary(totals))

    def close(self):
        self.con.close()


# --------------------------------------------------------------- profiles

def _where(path):
    for marker in ("site-packages/", str(C.ROOT) + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return os.path.basename(path)


def _package(path, name):
    if "sudachipy" in name or "sudachipy" in path:
        return "sudachipy"
    if path == "~":
        return "built-ins (C)"
    if "/whoosh/" in path:
        return "whoosh"
    if path.startswith(str(C.ROOT / "search")):
        return "search (project)"
    return "other Python (stdlib, ...)"


def profile_summary(profiler, seconds):
    stats = pstats.Stats(profiler)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(TOP_FUNCTIONS)
    entries = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])
    total = sum(v[2] for _, v in entries) or 1.0
    top = []
    for (path, line, name), (cc, nc, tt, ct, _) in entries[:TOP_FUNCTIONS]:
        where = name if path == "~" else f"{_where(path)}:{line}({name})"
        top.append({"function": where, "ncalls": nc, "tottime": round(tt, 3),
                    "cumtime": round(ct, 3), "share": round(tt / total, 3)})
    shares = {}
    for (path, _, name), v in entries:
        key = _package(path, name)
        shares[key] = shares.get(key, 0.0) + v[2]
    return {"seconds": round(seconds, 2),
            "by_package": {k: round(v / total, 3) for k, v in
                           sorted(shares.items(), key=lambda kv: -kv[1])},
            "top": top, "text": text.getvalue()}


def search_json(service, params):
    """What the API answers for params, in process: the request parsed, the
    search, the answer rendered (highlights as HTML)."""
    from search import render
    from search.query import parse_request

    return render.search_json(service.search(parse_request(params)))


def section_profile(run, query_index, queries):
    from search.ingest import reindex as indexer
    from search.query import SearchService

    limit = min(PROFILE_ITEMS, run.limit) if run.limit else PROFILE_ITEMS
    dumps, items = C.corpus(run.data, 1, limit)
    index = run.work / "profile-index"
    shutil.rmtree(index, ignore_errors=True)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    indexer.reindex(str(dumps), str(index), full=True, procs=1)
    profiler.disable()
    out = {"reindex": dict(profile_summary(profiler, time.perf_counter() - started), items=items)}
    log(f"  profiled reindex of {items} items")

    service = SearchService(str(query_index))
    params = [{"q": " ".join(w), "per_page": "10"} for w in queries[:PROFILE_QUERIES]]
    for p in params:
        search_json(service, p)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for p in params:
        search_json(service, p)
    profiler.disable()
    out["queries"] = dict(profile_summary(profiler, time.perf_counter() - started),
                          queries=len(params), index=str(query_index.name))
    log(f"  profiled {len(params)} queries")
    shutil.rmtree(index, ignore_errors=True)
    return out


# --------------------------------------------------------------- sections

class Run:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.data = Path(args.data).resolve()
        self.work = self.data / ("work-quick" if args.quick else "work")
        self.work.mkdir(parents=True, exist_ok=True)
        self.limit = args.limit if args.limit is not None else (300 if args.quick else 0)
        self.n_queries = args.queries or (30 if args.quick else 300)
        self.rounds = args.rounds or (1 if args.quick else 5)
        self.query_rounds = args.query_rounds or (1 if args.quick else 5)
        self.copies_query = 1 if args.quick else args.copies_query
        self.scale = [] if (args.quick or args.skip_x14) else [args.copies_scale]
        self.x40 = None if (args.quick or args.skip_x40) else args.x40_copies
        self.profile = args.profile if args.profile is not None else True
        self.results = {}
        self.errors = []

    def section(self, name, fn, *a):
        log(f"== {name}")
        load = C.Load()
        try:
            value = fn(*a)
        except Exception as e:  # record it, go on with the other sections
            traceback.print_exc()
            self.errors.append(f"{name}: {e}")
            value = {"error": f"{type(e).__name__}: {e}"}
        if isinstance(value, dict):
            value["load"] = load.read()
        self.results[name] = value
        return value


def section_indexing(run):
    x1, n1 = C.corpus(run.data, 1, run.limit)
    x2, _ = C.corpus(run.data, 2, run.limit)
    started = time.perf_counter()
    items = C.parse_items(x1)
    parse_seconds = time.perf_counter() - started
    out = {"corpus": {"copies": 1, "limit": run.limit, "items": len(items),
                      "files": len(os.listdir(x1)), "mb": round(C.dir_size(x1) / 1e6, 1),
                      "parse_seconds": round(parse_seconds, 2)}}
    log(f"  corpus x1: {len(items)} items, {out['corpus']['mb']} MB")
    dumps, index = run.work / "x1-dumps", run.work / "x1-index"
    C.link_tree(x1, dumps)
    # The floor and the full reindex alternate, `rounds` times: on this
    # virtual machine the same run varies by ±10 % from minute to minute
    # (one run's three rounds: 1.07, 1.35, 1.24), so one pair can land on
    # either side of the bar. The round with the median ratio is the one
    # reported; every round's figures are kept.
    rounds = []
    for i in range(run.rounds):
        floor = tokenize_floor(items)
        log(f"  analyzer floor: {floor['seconds']:.2f} s")
        shutil.rmtree(index, ignore_errors=True)
        full = reindex(run, dumps, index, f"x1-full-{i + 1}", full=True)
        rounds.append({"floor": floor, "full": full,
                       "ratio": round(full["seconds"] / floor["seconds"], 4)})
    median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    out["floor"], out["full"] = median["floor"], median["full"]
    out["rounds"] = [{"floor_seconds": r["floor"]["seconds"], "full_seconds": r["full"]["seconds"],
                      "ratio": r["ratio"]} for r in rounds]
    out["noop"] = reindex(run, dumps, index, "x1-noop")
    added = C.write_new_day(dumps / "2099-12-31.txt", items, C.parse_items(x2), NEW_DAY_ITEMS)
    out["add_day"] = dict(reindex(run, dumps, index, "x1-add-day"), new_items=added)
    out["index_mb"] = round(C.dir_size(index) / 1e6, 1)
    out["dumps"], out["index"] = str(dumps), str(index)
    return out


def section_queries(run):
    if run.copies_query == 1:
        ix = run.results["indexing"]
        dumps, index, build = Path(ix["dumps"]), Path(ix["index"]), None
    else:
        src, _ = C.corpus(run.data, run.copies_query, run.limit)
        dumps, index = src, run.work / f"x{run.copies_query}-index"
        shutil.rmtree(index, ignore_errors=True)
        build = reindex(run, dumps, index, f"x{run.copies_query}-full", full=True)
        build["index_mb"] = round(C.dir_size(index) / 1e6, 1)
    started = time.perf_counter()
    items = C.parse_items(dumps)
    parse_seconds = time.perf_counter() - started
    queries = C.draw_queries(items, run.n_queries)
    run.queries, run.query_index = queries, index
    (run.work / "queries.json").write_text(json.dumps(queries, ensure_ascii=False, indent=0))
    out = {"corpus": {"copies": run.copies_query, "limit": run.limit, "items": len(items),
                      "mb": round(C.dir_size(dumps) / 1e6, 1),
                      "parse_seconds": round(parse_seconds, 2)},
           "build": build, "queries": len(queries),
           "two_word_queries": sum(1 for q in queries if len(q) == 2),
           "sample": [" ".join(q) for q in queries[:10]]}
    log(f"  {len(queries)} queries, e.g. {out['sample'][:5]}")
    fts5 = FTS5(items, queries, run.work / f"fts5-x{run.copies_query}.sqlite")
    inprocess = InProcess(index, queries)
    try:
        http = http_bench(run, index, queries, f"x{run.copies_query}", references=lambda: {
            "fts5": fts5.measure(), "inprocess": inprocess.measure()})
    finally:
        fts5.close()
    out["fts5"], out["inprocess"] = http.pop("fts5"), http.pop("inprocess")
    out["http"] = http
    # Stories and the timeline, in process, after the rounds: what grouping
    # a result by story and drawing its timeline cost on top of the search.
    out["stories"] = {"flat": inprocess.measure(), "grouped": inprocess.measure(group="story"),
                      "timeline_day": inprocess.measure_timeline("day"),
                      "timeline_month": inprocess.measure_timeline("month")}
    log(f"  in-process: p50 {out['inprocess']['latency_ms']['p50']} ms, "
        f"p95 {out['inprocess']['latency_ms']['p95']} ms; FTS5: p50 "
        f"{out['fts5']['latency_ms']['p50']} ms, p95 {out['fts5']['latency_ms']['p95']} ms")
    return out


def section_scale(run):
    """Index time and query latency (HTTP, one client) against corpus size."""
    rows = []
    ix, q = run.results.get("indexing", {}), run.results.get("queries", {})
    queries = getattr(run, "queries", None)
    if "full" in ix:
        row = {"copies": 1, "items": _get(ix, "full", "items"),
               "index_seconds": ix["full"]["seconds"], "index_mb": ix.get("index_mb"),
               "indexer_peak_rss_mb": ix["full"]["peak_rss_mb"],
               "indexer_peak_pss_mb": ix["full"].get("peak_pss_mb")}
        if run.copies_query == 1 and "http" in q:
            row["http"] = q["http"]["one_client"]["latency_ms"]
        elif queries:
            http = http_bench(run, Path(ix["index"]), queries, "x1", concurrent=False)
            row["http"] = http["one_client"]["latency_ms"]
            row["server_peak_rss_mb"] = http["server_peak"]["peak_rss_mb"]
            row["server_peak_anon_mb"] = http["server_peak"].get("peak_anon_mb")
        rows.append(row)
    if q.get("build"):
        rows.append({"copies": run.copies_query, "items": q["build"].get("items"),
                     "index_seconds": q["build"]["seconds"], "index_mb": q["build"]["index_mb"],
                     "indexer_peak_rss_mb": q["build"]["peak_rss_mb"],
                     "indexer_peak_pss_mb": q["build"].get("peak_pss_mb"),
                     "http": _get(q, "http", "one_client", "latency_ms"),
                     "server_peak_rss_mb": _get(q, "http", "server_peak", "peak_rss_mb"),
                     "server_peak_anon_mb": _get(q, "http", "server_peak", "peak_anon_mb")})
    for copies in run.scale:
        dumps, _ = C.corpus(run.data, copies, run.limit)
        index = run.work / f"x{copies}-index"
        shutil.rmtree(index, ignore_errors=True)
        build = reindex(run, dumps, index, f"x{copies}-full", full=True)
        row = {"copies": copies, "items": build.get("items"), "index_seconds": build["seconds"],
               "index_mb": round(C.dir_size(index) / 1e6, 1),
               "indexer_peak_rss_mb": build["peak_rss_mb"],
               "indexer_peak_pss_mb": build.get("peak_pss_mb"), "build": build}
        if queries:
            http = http_bench(run, index, queries, f"x{copies}", concurrent=False)
            row["http"] = http["one_client"]["latency_ms"]
            row["server_peak_rss_mb"] = http["server_peak"]["peak_rss_mb"]
            row["server_peak_anon_mb"] = http["server_peak"].get("peak_anon_mb")
        rows.append(row)
        if not run.args.keep_indexes:
            shutil.rmtree(index, ignore_errors=True)
    return {"rows": rows, "skipped": [] if run.scale else [f"x{run.args.copies_scale}"]}


def section_x40(run):
    """The x40 corpus (~295,000 items; --x40-copies K for another size): a
    full reindex against K x the x1 analyzer floor measured in this run,
    the indexer's peak memory (summed over its processes), the index size;
    then the server on it: the query section's queries over HTTP, one
    client, flat and group=story, and 8 clients; server memory after the
    query benchmark, by kind of mapping (/proc/<pid>/smaps)."""
    copies = run.x40
    name = f"x40-section-x{copies}"
    out = {"copies": copies,
           "x1_section_floor_seconds": _get(run.results, "indexing", "floor", "seconds")}
    x1_items = C.parse_items(C.corpus(run.data, 1, run.limit)[0])
    dumps, items = C.corpus(run.data, copies, run.limit)
    out["corpus"] = {"copies": copies, "limit": run.limit, "items": items,
                     "files": len(os.listdir(dumps)), "mb": round(C.dir_size(dumps) / 1e6, 1)}
    log(f"  corpus x{copies}: {items} items, {out['corpus']['mb']} MB")
    index = run.work / f"{name}-index"
    shutil.rmtree(index, ignore_errors=True)
    # The index takes ~4-5x the dumps' size (x1: 125 MB for 26 MB); refuse
    # early rather than fail half an hour in.
    need = 6 * C.dir_size(dumps)
    free = shutil.disk_usage(run.work).free
    if free < need:
        raise RuntimeError(f"{free / 1e9:.1f} GB free under {run.work}, the x{copies} index "
                           f"needs about {need / 1e9:.1f} GB")
    try:
        # The floor beside the build, once before and once after it: this
        # host's speed drifts by tens of percent within the hour (one run's
        # x1 floor was 9.6 s at its start and 13.7-14.5 s an hour later),
        # so the x1 section's floor, half an hour earlier, is no reference.
        before = tokenize_floor(x1_items)["seconds"]
        build = reindex(run, dumps, index, f"{name}-full", full=True)
        after = tokenize_floor(x1_items)["seconds"]
        floor = round((before + after) / 2, 3)
        out.update(build=build, floor_before_seconds=before, floor_after_seconds=after,
                   x1_floor_seconds=floor)
        log(f"  x1 floor beside the x{copies} build: {before:.2f} s before, {after:.2f} s after")
        out["extrapolated_floor_seconds"] = round(copies * floor, 2)
        out["full_over_floor"] = _ratio(build["seconds"], out["extrapolated_floor_seconds"])
        out["index_mb"] = round(C.dir_size(index) / 1e6, 1)
        out["index_bytes_per_item"] = round(C.dir_size(index) / max(1, build.get("items") or items))
        log(f"  x{copies} reindex {build['seconds']:.1f} s (floor x{copies} "
            f"{out['extrapolated_floor_seconds']} s), index {out['index_mb']} MB")
        queries = getattr(run, "queries", None)
        if not queries:  # the query section failed: the same draw from the x1 corpus
            x1, _ = C.corpus(run.data, 1, run.limit)
            queries = C.draw_queries(C.parse_items(x1), run.n_queries)
        out["queries"] = len(queries)
        out["http"] = x40_http(run, index, queries, name)
    finally:
        if not run.args.keep_indexes:
            shutil.rmtree(index, ignore_errors=True)
    return out


def x40_http(run, index, queries, name):
    """The server on the x40 index: warm-up (every query once, CLIENTS
    clients), then one client over the queries (flat, as the query section
    sends them: 10 hits with snippets, stories and synonyms), one client with
    group=story, CLIENTS clients (flat); memory after start, after the
    warm-up, at its peak (sampled every 100 ms) and at the end, with the end
    broken down by kind of mapping."""
    flat = [C.search_path(words) for words in queries]
    grouped = [C.search_path(words, group="story") for words in queries]
    out = {}
    server = C.Server(index, run.work / f"{name}-server.log")
    started = time.perf_counter()
    server.start(timeout=X40_SERVER_START)
    try:
        out["server_start_seconds"] = round(time.perf_counter() - started, 1)
        out["server_start_rss"] = server.memory()
        run_clients(server.port, flat, CLIENTS)  # warm-up
        out["server_idle_rss"] = server.memory()
        sampler = C.Sampler(server.proc.pid, interval=0.1)
        sampler.start()
        out["one_client"] = run_clients(server.port, flat, 1)
        out["grouped"] = run_clients(server.port, grouped, 1)
        out["concurrent"] = run_clients(server.port, flat, CLIENTS)
        out["server_peak"] = sampler.finish()
        out["server_end_rss"] = server.memory()
        out["server_end_maps"] = C.smaps_breakdown(server.proc.pid, index)
    finally:
        server.stop()
    one = out["one_client"]
    log(f"  x40 HTTP 1 client: p50 {one['latency_ms'].get('p50')} ms, "
        f"p95 {one['latency_ms'].get('p95')} ms; group=story p95 "
        f"{out['grouped']['latency_ms'].get('p95')} ms; {CLIENTS} clients: "
        f"{out['concurrent']['qps']} q/s; server RSS peak {out['server_peak']['peak_rss_mb']} MB")
    return out


def _largest_indexer_peak(results):
    """The full reindex's peak PSS on the largest corpus indexed."""
    found = [(1, _get(results, "indexing", "full", "peak_pss_mb"))]
    found += [(row.get("copies", 0), row.get("indexer_peak_pss_mb"))
              for row in _get(results, "scale", "rows") or []]
    found.append((_get(results, "x40", "copies") or 0, _get(results, "x40", "build", "peak_pss_mb")))
    found = [(k, v) for k, v in found if v is not None]
    return max(found)[1] if found else None


def bars(results):
    ix, q = results.get("indexing", {}), results.get("queries", {})
    full = _get(ix, "full", "seconds")
    fts = _get(q, "fts5", "latency_ms")
    values = {
        "full_over_floor": _ratio(full, _get(ix, "floor", "seconds")),
        "noop_over_full": _ratio(_get(ix, "noop", "seconds"), full),
        "add_day_over_full": _ratio(_get(ix, "add_day", "seconds"), full),
        "p50_inproc_over_fts5": _ratio(_get(q, "inprocess", "latency_ms", "p50"), _get(fts, "p50")),
        "p95_inproc_over_fts5": _ratio(_get(q, "inprocess", "latency_ms", "p95"), _get(fts, "p95")),
        "p50_http_over_fts5": _ratio(_get(q, "http", "one_client", "latency_ms", "p50"),
                                     _get(fts, "p50")),
        "p95_http_over_fts5": _ratio(_get(q, "http", "one_client", "latency_ms", "p95"),
                                     _get(fts, "p95")),
        "qps8_over_qps1": _ratio(_get(q, "http", "concurrent", "qps"),
                                 _get(q, "http", "one_client", "qps")),
        "server_rss_mb": _get(q, "http", "server_peak", "peak_rss_mb"),
        "server_anon_mb": _get(q, "http", "server_peak", "peak_anon_mb"),
        "indexer_peak_pss_mb": _largest_indexer_peak(results),
    }
    # Measured in rounds: each query ratio is its own median over them. (The
    # round with the median p50 ratio, whose figures the tables show, had
    # 8/1 clients 1.28 in a run whose five rounds gave 1.28-2.07.)
    rounds = _get(q, "http", "rounds") or []
    for key in {k for r in rounds for k in r}:
        got = [r[key] for r in rounds if r.get(key) is not None]
        values[key] = round(statistics.median(got), 4) if got else None
    x40 = results.get("x40") or {}
    listed = list(BARS)
    if x40 and not x40.get("skipped"):
        k = x40.get("copies", X40_COPIES)
        values.update({
            "x40_full_over_floor": x40.get("full_over_floor"),
            "x40_http_p95_ms": _get(x40, "http", "one_client", "latency_ms", "p95"),
            "x40_server_rss_mb": _get(x40, "http", "server_peak", "peak_rss_mb")})
        listed += [(key, label.format(k=k), op, bar) for key, label, op, bar in X40_BARS]
    out = []
    for key, label, op, bar in listed:
        v = values[key]
        ok = None if v is None else (v <= bar if op == "<=" else v >= bar)
        out.append({"key": key, "label": label, "value": v, "op": op, "bar": bar,
                    "result": "n/a" if ok is None else ("PASS" if ok else "FAIL")})
    return out


# ------------------------------------------------------------------ meta

def _cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _meminfo():
    out = {}
    try:
        for line in open("/proc/meminfo"):
            key, value = line.split(":", 1)
            if key in ("MemTotal", "MemAvailable", "MemFree"):
                out[key] = round(int(value.split()[0]) / 1024)
    except OSError:
        pass
    return out


def _version(dist):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _commit():
    """The checked-out commit, read from .git (no git command). In a git
    worktree .git is a file naming the worktree's own folder (its HEAD),
    whose commondir holds the refs."""
    git = C.ROOT / ".git"
    try:
        if git.is_file():
            git = (C.ROOT / git.read_text().strip().removeprefix("gitdir: ")).resolve()
        common = (git / (git / "commondir").read_text().strip()).resolve() \
            if (git / "commondir").exists() else git
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        for folder in (git, common):
            if (folder / ref).exists():
                return (folder / ref).read_text().strip()
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return None


def meta(argv):
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *argv]),
        "cpu": _cpu_model(), "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_mb": _meminfo(), "loadavg_at_start": list(os.getloadavg()),
        "python": platform.python_version(), "whoosh": _version("Whoosh"),
        "sudachipy": _version("SudachiPy"), "sudachidict_core": _version("sudachidict-core"),
        "gunicorn": _version("gunicorn"), "sqlite": sqlite3.sqlite_version,
        "commit": _commit(),
    }


def carried_x40(json_path, args):
    """The x40 section of the run bench.json holds, for a run that skips it
    (--skip-x40, not --quick): it takes ~30 minutes, so a run that measures
    the rest keeps the last one measured, marked with that run's date and
    commit (the report says so), instead of dropping it. None if there is
    none of the same size."""
    if args.quick:
        return None
    try:
        before = json.loads(Path(json_path).read_text())
    except (OSError, ValueError):
        return None
    x40 = before.get("x40") or {}
    if x40.get("skipped") or not x40.get("build") or x40.get("copies") != args.x40_copies:
        return None
    since = x40.get("carried_from") or {k: (before.get("meta") or {}).get(k)
                                        for k in ("date", "commit")}
    return dict(x40, carried_from=since)


# ------------------------------------------------------------------- main

def build_parser():
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                epilog="`python -m bench` runs everything (about 40 minutes on 2 "
                                       "cores: 5 of them the x14 corpus, --skip-x14; ~30 the "
                                       "x40 corpus, --skip-x40); --quick runs a small version "
                                       "in under a minute.")
    p.add_argument("--quick", action="store_true",
                   help="small run: --limit 300 corpus, 30 queries, no x4/x14/x40 corpora")
    p.add_argument("--skip-x14", action="store_true", help="skip the x14 (~100k items) scale run")
    p.add_argument("--skip-x40", action="store_true",
                   help="skip the x40 (~295k items, ~30 minutes) section; the report keeps "
                        "the last one bench.json holds, marked with its run's date and commit")
    p.add_argument("--x40-copies", type=int, default=X40_COPIES, metavar="K",
                   help=f"corpus copies for the x40 section (default {X40_COPIES}; a small K, "
                        "e.g. 2 with --limit 300, smoke-tests the section)")
    p.add_argument("--copies-query", type=int, default=4, metavar="K",
                   help="corpus copies for the query benchmark (default 4)")
    p.add_argument("--copies-scale", type=int, default=SCALE_COPIES, metavar="K",
                   help=f"corpus copies for the scale run (default {SCALE_COPIES})")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="first N articles only (default: all; 300 with --quick)")
    p.add_argument("--rounds", type=int, default=None, metavar="N",
                   help="floor and full reindex measured N times, alternating; the median "
                        "ratio is reported (default 5; 1 with --quick)")
    p.add_argument("--query-rounds", type=int, default=None, metavar="N",
                   help="x4 queries measured N times (HTTP, FTS5, in-process, 8 clients in "
                        "turn); each bar is its ratio's median over the rounds, the tables "
                        "show the round with the median p50 ratio (default 5; 1 with --quick)")
    p.add_argument("--queries", type=int, default=None, metavar="N",
                   help="number of queries (default 300; 30 with --quick)")
    prof = p.add_mutually_exclusive_group()
    prof.add_argument("--profile", dest="profile", action="store_true", default=None,
                      help="run the cProfile section (the default)")
    prof.add_argument("--no-profile", dest="profile", action="store_false",
                      help="skip the cProfile section")
    p.add_argument("--data", default=str(C.DATA),
                   help="cache and work folder (default bench-data/)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write bench.json and performance.md here (default: bench-data/bench.json "
                        "and docs/performance.md; bench-data/quick/ with --quick)")
    p.add_argument("--keep-indexes", action="store_true",
                   help="keep the x14 and x40 indexes after the run (they are large)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a bar fails")
    p.add_argument("--articles", default=str(C.ARTICLES), help=argparse.SUPPRESS)
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if not Path(args.articles).exists():
        print(f"error: {args.articles} not found (the livedoor corpus in ../shared/eval/news)",
              file=sys.stderr)
        return 2
    C.compile_sources()
    C.ARTICLES = Path(args.articles)
    if args.out:
        json_path = Path(args.out) / "bench.json"
        doc_path = Path(args.out) / "performance.md"
    elif args.quick:
        json_path = Path(args.data) / "quick" / "bench.json"
        doc_path = Path(args.data) / "quick" / "performance.md"
    else:
        json_path, doc_path = Path(args.data) / "bench.json", C.ROOT / "docs" / "performance.md"
    run = Run(args)
    whole = C.Load()
    run.results["meta"] = meta(argv)
    run.results["meta"]["quick"] = args.quick
    run.section("indexing", section_indexing, run)
    run.section("queries", section_queries, run)
    run.section("scale", section_scale, run)
    if run.x40:
        run.section("x40", section_x40, run)
    else:
        run.results["x40"] = carried_x40(json_path, args) or {"skipped": True,
                                                              "copies": args.x40_copies}
    if run.profile and getattr(run, "queries", None):
        run.section("profile", section_profile, run, run.query_index, run.queries)
    else:
        run.results["profile"] = {"skipped": True}
    run.results["bars"] = bars(run.results)
    run.results["meta"]["load"] = whole.read()
    run.results["meta"]["loadavg_at_end"] = list(os.getloadavg())
    run.results["errors"] = run.errors

    from .plot import write_scale_plot
    from .report import markdown

    run.results["plot"] = write_scale_plot(run.results, doc_path.parent / PLOT_FILE)
    doc = markdown(run.results)
    if doc_path.exists():  # the year replay's section (python -m bench.year) stays
        from .year import carry_section

        doc = carry_section(doc_path.read_text(), doc)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(run.results, ensure_ascii=False, indent=1))
    doc_path.parent.mkdir(parents=True, exist_ok=True)
    doc_path.write_text(doc)
    print(doc)
    log(f"wrote {json_path} and {doc_path}")
    if run.errors:
        log("errors: " + "; ".join(run.errors))
        return 1
    if args.strict and any(b["result"] == "FAIL" for b in run.results["bars"]):
        return 1
    return 0
