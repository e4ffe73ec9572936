"""Soak test (`python -m bench.soak`, `make soak`): the server under steady
load while the index is rebuilt under it.

Starts `python -m search serve` on the x1 corpus (loopback only), runs
--clients concurrent clients (keep-alive connections, the benchmark's query
list) for --seconds, and meanwhile runs an incremental reindex (one new day's
dump) and then a `--full` reindex as subprocesses. Reports requests, errors,
latency percentiles (overall and while a reindex runs), server RSS at the
start and the end; writes bench-data/soak.json.

An error is a failed connection, a status other than 200, an answer without
hits, or a total below the one the same query had before the reindexes (the
readers must see the old index or the new one, never a half-built one).
Exit status 1 on any error, 0 otherwise.
"""

import argparse
import json
import shutil
import sys
import threading
import time
from pathlib import Path

from . import common as C
from .common import log
from .perf import NEW_DAY_ITEMS, reindex_cmd

HARD_CAP_SECONDS = 900  # the longest the load runs past --seconds, waiting for a reindex


def _expect_items(port, expected, timeout=15.0):
    """Seconds until /api/stats reports `expected` items, or None."""
    client = C.Client(port)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            status, body = client.get("/api/stats")
            if status == 200 and json.loads(body).get("items") == expected:
                return round(time.monotonic() - started, 2)
            time.sleep(0.1)
    finally:
        client.close()
    return None


class Load:
    """`clients` threads sending the queries in a loop until stopped."""

    def __init__(self, port, paths, baseline, clients):
        self.port, self.paths, self.baseline, self.clients = port, paths, baseline, clients
        self.stop = threading.Event()
        self.reindexing = threading.Event()
        self.lock = threading.Lock()
        self.latency = {"quiet": [], "reindexing": []}
        self.errors = []
        self.requests = 0
        self.threads = [threading.Thread(target=self._client, args=(k,), daemon=True)
                        for k in range(clients)]

    def _client(self, k):
        client = C.Client(self.port)
        i = k * len(self.paths) // self.clients
        while not self.stop.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            during = self.reindexing.is_set()
            started = time.perf_counter()
            error = None
            try:
                status, body = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                if status != 200:
                    error = f"HTTP {status}: {body[:200]!r}"
                else:
                    answer = json.loads(body)
                    if "hits" not in answer:
                        error = f"no hits in the answer: {body[:200]!r}"
                    elif answer.get("total", 0) < self.baseline.get(path, 0):
                        error = (f"total {answer.get('total')} below the baseline "
                                 f"{self.baseline[path]}")
            except (OSError, ValueError) as e:
                elapsed = (time.perf_counter() - started) * 1000
                error = repr(e)
                client.close()
                client = C.Client(self.port)
            with self.lock:
                self.requests += 1
                if error:
                    self.errors.append({"path": path, "error": error,
                                        "during_reindex": during})
                else:
                    self.latency["reindexing" if during else "quiet"].append(elapsed)
        client.close()

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--limit", type=int, default=0, metavar="N",
                   help="first N articles only (default: all 7,367)")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--data", default=str(C.DATA), help="cache and work folder (default bench-data/)")
    p.add_argument("--out", default=None, help="JSON report (default DATA/soak.json)")
    args = p.parse_args(argv)
    if not 1 <= args.clients <= 64 or args.seconds <= 0:
        p.error("--clients must be 1–64 and --seconds positive")

    data = Path(args.data).resolve()
    work = data / "soak"
    work.mkdir(parents=True, exist_ok=True)
    x1, _ = C.corpus(data, 1, args.limit)
    x2, _ = C.corpus(data, 2, args.limit)
    dumps, index = work / "dumps", work / "index"
    C.link_tree(x1, dumps)
    shutil.rmtree(index, ignore_errors=True)
    log("building the x1 index")
    C.run_measured(reindex_cmd(dumps, index, full=True), work / "build.log")
    items = C.parse_items(x1)
    paths = [C.search_path(q) for q in C.draw_queries(items, args.queries)]
    report = {"seconds": args.seconds, "clients": args.clients, "items": len(items),
              "queries": len(paths), "reindexes": []}

    server = C.Server(index, work / "server.log").start()
    try:
        report["server_rss_start"] = server.memory()
        # The baseline totals: the warm-up pass, before anything changes.
        baseline = {}
        client = C.Client(server.port)
        for path in paths:
            status, body = client.get(path)
            if status == 200:
                baseline[path] = json.loads(body).get("total", 0)
        client.close()

        load = Load(server.port, paths, baseline, args.clients)
        started = time.monotonic()
        load.start()
        log(f"{args.clients} clients on http://{C.HOST}:{server.port}/ for {args.seconds:.0f} s")
        steps = [("incremental (one new day)", args.seconds * 0.2, False),
                 ("full", args.seconds * 0.4, True)]
        expected = len(items)
        for name, at, full in steps:
            time.sleep(max(0.0, started + at - time.monotonic()))
            if not full:
                added = C.write_new_day(dumps / "2099-12-31.txt", items, C.parse_items(x2),
                                        NEW_DAY_ITEMS)
                expected += added
            load.reindexing.set()
            t0 = time.monotonic() - started
            try:
                result = C.run_measured(reindex_cmd(dumps, index, full=full),
                                        work / f"reindex-{len(report['reindexes'])}.log")
                failed = None
            except RuntimeError as e:
                result, failed = {}, str(e)
            load.reindexing.clear()
            seen = _expect_items(server.port, expected)
            report["reindexes"].append({
                "kind": name, "started_at_s": round(t0, 1), "seconds": result.get("seconds"),
                "error": failed, "items_expected": expected, "items_seen_after_s": seen})
            log(f"  {name} reindex at {t0:.0f} s: {result.get('seconds')} s"
                + (f", failed: {failed}" if failed else "")
                + (f"; the server saw {expected} items {seen} s later" if seen is not None
                   else f"; the server did not report {expected} items"))
        end = max(started + args.seconds, time.monotonic())
        end = min(end, started + args.seconds + HARD_CAP_SECONDS)
        time.sleep(max(0.0, end - time.monotonic()))
        load.finish()
        report["load_seconds"] = round(time.monotonic() - started, 1)
        report["server_rss_end"] = server.memory()
    finally:
        server.stop()

    quiet, during = load.latency["quiet"], load.latency["reindexing"]
    report.update(
        requests=load.requests, errors=len(load.errors), error_samples=load.errors[:10],
        qps=round(load.requests / report["load_seconds"], 1),
        latency_ms=C.percentiles(quiet + during), latency_quiet_ms=C.percentiles(quiet),
        latency_during_reindex_ms=C.percentiles(during))
    failures = report["errors"] + sum(
        1 for r in report["reindexes"] if r["error"] or r["items_seen_after_s"] is None)
    report["result"] = "PASS" if failures == 0 else "FAIL"
    out = Path(args.out) if args.out else data / "soak.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1))

    lat = report["latency_ms"]
    print(f"soak: {report['requests']} requests in {report['load_seconds']} s "
          f"({report['qps']} q/s, {args.clients} clients), {report['errors']} errors; "
          f"latency p50 {lat.get('p50')} / p95 {lat.get('p95')} / p99 {lat.get('p99')} ms "
          f"(during reindex: p95 {report['latency_during_reindex_ms'].get('p95')} ms); "
          f"server RSS {report['server_rss_start']['rss_mb']:.0f} MB at the start, "
          f"{report['server_rss_end']['rss_mb']:.0f} MB at the end: {report['result']}")
    for e in load.errors[:10]:
        print(f"  error: {e['path']}: {e['error']}", file=sys.stderr)
    log(f"wrote {out}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
