"""A year of daily reindexes (`python -m bench.year`, `make bench-year`).

Replays a year of `make reindex`: the x4 news corpus (29,468 items) is cut
into 365 daily dumps of ~80 items (oldest items first, in the dump layout via
search.ingest.dumps.format_item); starting from an empty index, each day's
dump is added to the dumps folder and `python -m search reindex --quiet`
runs as a subprocess (incremental), while `python -m search serve` answers
the benchmark's keyword queries from a client thread. Recorded for each day:
the reindex's wall and CPU time, the segments (count, documents, deleted),
the merges the commit made, the index's size on disk and the files beside it
(stories, readings, manifest).

After the year: a fresh `--full` build of the same dumps, a second server on
it, and HTTP latency of the same queries with the same client against both
servers, in alternating rounds. Bars: every daily reindex <= 2 s; query p95
<= 1.25 x the fresh build's; index size <= 1.3 x the fresh build's.

Results: bench-data/year.json and bench-data/year.md (or --out DIR); the full
year also replaces the "A year of daily reindexes" section of
docs/performance.md (nothing else of the page is touched). `--days N`
replays the first N days only (a quick run; the docs are not touched).
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

from search.ingest import background_merge

from . import common as C
from .common import log
from .perf import meta, reindex_cmd, run_clients, _summary_line

DAYS = 365
COPIES = 4
QUERIES = 300
ROUNDS = 5
DAILY_BAR_S = 2.0
P95_BAR = 1.25
SIZE_BAR = 1.3
BACKGROUND_PAUSE_S = 0.05  # between the background client's queries (<= 20 q/s)
SECTION = "## A year of daily reindexes"
FIRST_DAY = datetime.date(2025, 1, 1)


# ------------------------------------------------------------------ the days

def cut_days(items, days=DAYS):
    """The items, oldest first (date, then id), cut into `days` slices of
    nearly equal size (len // days or one more)."""
    order = sorted(items, key=lambda it: (it.date, it.id))
    out, start = [], 0
    for d in range(days):
        end = (len(order) * (d + 1)) // days
        out.append(order[start:end])
        start = end
    return out


def write_day(dumps_dir, day, items):
    """The day's dump file (dumps_dir/YYYY-MM-DD.txt); returns its path."""
    from search.ingest.dumps import format_item

    path = Path(dumps_dir) / f"{FIRST_DAY + datetime.timedelta(days=day)}.txt"
    tmp = path.with_name("." + path.name + ".tmp")  # hidden: never read half-written
    with open(tmp, "w", encoding="utf-8") as f:
        for it in items:
            f.write(format_item(it))
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------ the index on disk

def segments(index_dir):
    """[(segment id, documents, deleted)] of the index's latest generation,
    read from its table of contents."""
    from whoosh.index import TOC

    from search.index import storage

    toc = TOC.read(storage.PreadStorage(str(index_dir)), storage.INDEX_NAME)
    return [(s.segment_id(), s.doc_count_all(), s.deleted_count()) for s in toc.segments]


def files_beside(index_dir):
    """Bytes of the files beside Whoosh's, by kind (stories, readings,
    manifest, user dictionary) and of Whoosh's own (segments, TOC)."""
    out = {"stories": 0, "readings": 0, "manifest": 0, "other": 0, "whoosh": 0}
    for name in os.listdir(index_dir):
        try:
            size = os.lstat(os.path.join(index_dir, name)).st_size
        except OSError:
            continue
        kind = name.split("-", 1)[0]
        if kind in ("stories", "readings", "manifest"):
            out[kind] += size
        elif name.startswith(("MAIN", "_MAIN")) or "." in name and name.split(".")[-1] in (
                "seg", "trm", "pst", "fvz", "col", "arr", "toc", "dci", "dcz", "fln"):
            out["whoosh"] += size
        else:
            out["other"] += size
    return out


# ---------------------------------------------------------- background queries

class Background(threading.Thread):
    """One keep-alive client sending the query list round and round while
    the year is replayed: the server answers meanwhile (latency, errors, by
    day)."""

    def __init__(self, port, paths):
        super().__init__(daemon=True)
        self.port, self.paths = port, paths
        self.day = 0
        self.samples = []  # (day, ms, status)
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        client = C.Client(self.port)
        i = 0
        while not self.stop.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            started = time.perf_counter()
            try:
                status, body = client.get(path)
            except OSError as e:
                self.errors.append(f"day {self.day}: {e!r}")
                client = C.Client(self.port)
                self.stop.wait(0.5)
                continue
            ms = (time.perf_counter() - started) * 1000
            self.samples.append((self.day, ms, status))
            if status != 200:
                self.errors.append(f"day {self.day}: HTTP {status} {body[:200]!r}")
            self.stop.wait(BACKGROUND_PAUSE_S)
        client.close()

    def finish(self):
        self.stop.set()
        self.join()
        by_day = {}
        for day, ms, _ in self.samples:
            by_day.setdefault(day, []).append(ms)
        return {"requests": len(self.samples), "errors": len(self.errors),
                "error_samples": self.errors[:5],
                "latency_ms": C.percentiles([ms for _, ms, _ in self.samples]),
                "p50_by_day": {d: round(statistics.median(v), 2) for d, v in by_day.items()}}


# -------------------------------------------------------------- the replay

def replay(args, work, day_items, paths):
    dumps, index = work / "dumps", work / "index"
    shutil.rmtree(dumps, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    dumps.mkdir(parents=True)
    days, server, background = [], None, None
    before = []
    try:
        for d, items in enumerate(day_items):
            write_day(dumps, d, items)
            if background is not None:
                background.day = d + 1
            log_path = work / "logs" / f"day-{d + 1:03d}.log"
            result = C.run_measured(reindex_cmd(dumps, index), log_path)
            result.update(_summary_line(log_path))
            # A day is a day: a merge the reindex started in the background
            # (search/ingest/background_merge.py) ends before the next dump
            # comes, as it would in the hours between two; the replay waits
            # for it and records how long it took.
            waited = time.monotonic()
            background_state = background_merge.wait(index)
            waited = time.monotonic() - waited
            started_merge = background_merge.last_merge(index) \
                if background_state == "done" else None
            after = segments(index)
            gone = {s[0] for s in before} - {s[0] for s in after}
            merged = [s for s in before if s[0] in gone]
            beside = files_beside(index)
            days.append({
                "day": d + 1, "items": len(items), "seconds": result["seconds"],
                "cpu_seconds": result["cpu_seconds"], "peak_rss_mb": result["peak_rss_mb"],
                "added": result.get("added"), "updated": result.get("updated"),
                "docs": result.get("items"),
                "segments": len(after), "segment_docs": [s[1] for s in after],
                "deleted": sum(s[2] for s in after),
                "merged_segments": len(merged), "merged_docs": sum(s[1] for s in merged),
                "background_merge": started_merge, "background_wait_s": round(waited, 3),
                "index_bytes": C.dir_size(index), **{f"{k}_bytes": v for k, v in beside.items()},
            })
            before = after
            if (d + 1) % 10 == 0 or d + 1 == len(day_items) or result["seconds"] > DAILY_BAR_S:
                log(f"  day {d + 1}: {result['seconds']:.2f} s (CPU {result['cpu_seconds']:.2f} s), "
                    f"{len(after)} segments "
                    f"{[s[1] for s in after]}, merged {sum(s[1] for s in merged)} docs, "
                    f"{days[-1]['index_bytes'] / 1e6:.1f} MB")
            if server is None:  # the index exists from the first day on
                server = C.Server(index, work / "year-server.log").start()
                background = Background(server.port, paths)
                background.day = d + 1
                background.start()
        return days, server, background
    except BaseException:
        if background is not None:
            background.finish()
        if server is not None:
            server.stop()
        raise


def compare(year_server, fresh_server, paths, rounds):
    """HTTP latency of the same queries with the same client (one keep-alive
    connection) against both servers: both warmed up with the whole list,
    then `rounds` rounds, each the year's server then the fresh one's (the
    order alternating), so both see the same machine."""
    for server in (year_server, fresh_server):
        run_clients(server.port, paths, 2)
    out = {"year": [], "fresh": []}
    for r in range(rounds):
        order = (("year", year_server), ("fresh", fresh_server))
        for name, server in (order if r % 2 == 0 else order[::-1]):
            got = run_clients(server.port, paths, 1)
            out[name].append(got)
    summary = {}
    for name, runs in out.items():
        summary[name] = {
            "p50_ms": round(statistics.median(g["latency_ms"]["p50"] for g in runs), 2),
            "p95_ms": round(statistics.median(g["latency_ms"]["p95"] for g in runs), 2),
            "p99_ms": round(statistics.median(g["latency_ms"]["p99"] for g in runs), 2),
            "errors": sum(g["errors"] for g in runs),
            "mean_total": runs[0]["hits"]["mean_total"],
            "rounds": [{k: g["latency_ms"][k] for k in ("p50", "p95", "p99")} for g in runs],
        }
    ratios = [y["latency_ms"]["p95"] / f["latency_ms"]["p95"]
              for y, f in zip(out["year"], out["fresh"])]
    summary["p95_ratio_rounds"] = [round(x, 3) for x in ratios]
    summary["p95_ratio"] = round(statistics.median(ratios), 3)
    summary["p50_ratio"] = round(statistics.median(
        y["latency_ms"]["p50"] / f["latency_ms"]["p50"]
        for y, f in zip(out["year"], out["fresh"])), 3)
    return summary


def run(args):
    started = time.perf_counter()
    load = C.Load()
    data = Path(args.data).resolve()
    work = data / "work-year"
    (work / "logs").mkdir(parents=True, exist_ok=True)
    if args.corpus:
        src = Path(args.corpus)
    else:
        src, _ = C.corpus(data, args.copies)
    items = C.parse_items(src)
    day_items = cut_days(items, DAYS)[:args.days]
    queries = C.draw_queries(items, args.queries)
    paths = [C.search_path(words) for words in queries]
    log(f"{len(items)} items cut into {DAYS} days of {len(day_items[0])}-{len(day_items[-1])}; "
        f"replaying {len(day_items)}; {len(queries)} queries")
    results = {"meta": meta(["year", *args.argv]), "days_replayed": len(day_items),
               "items": sum(len(d) for d in day_items), "queries": len(queries),
               "corpus": str(src)}
    results["meta"]["command"] = " ".join(["python -m bench.year", *args.argv])
    days, year_server, background = replay(args, work, day_items, paths)
    fresh_server = None
    try:
        results["background"] = background.finish()
        results["days"] = days
        fresh = work / "fresh-index"
        shutil.rmtree(fresh, ignore_errors=True)
        log("fresh --full build of the same dumps")
        build = C.run_measured(reindex_cmd(work / "dumps", fresh, full=True),
                               work / "logs" / "fresh.log")
        build.update(_summary_line(work / "logs" / "fresh.log"))
        fresh_segments = segments(fresh)
        results["fresh"] = {"build": build, "index_bytes": C.dir_size(fresh),
                            "segments": len(fresh_segments),
                            "segment_docs": [s[1] for s in fresh_segments],
                            **{f"{k}_bytes": v for k, v in files_beside(fresh).items()}}
        fresh_server = C.Server(fresh, work / "fresh-server.log").start()
        log(f"HTTP: {args.rounds} rounds against the year's index and the fresh one")
        results["http"] = compare(year_server, fresh_server, paths, args.rounds)
        results["server_rss_mb"] = {"year": year_server.memory()["rss_mb"],
                                    "fresh": fresh_server.memory()["rss_mb"]}
    finally:
        if fresh_server is not None:
            fresh_server.stop()
        year_server.stop()
    results["summary"] = summarize(results)
    results["load"] = load.read()
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def summarize(r):
    secs = [d["seconds"] for d in r["days"]]
    last = r["days"][-1]
    worst = sorted(r["days"], key=lambda d: -d["seconds"])[:5]
    size_ratio = last["index_bytes"] / r["fresh"]["index_bytes"]
    whoosh_ratio = last["whoosh_bytes"] / r["fresh"]["whoosh_bytes"] \
        if r["fresh"]["whoosh_bytes"] else None
    http = r["http"]
    bars = [
        {"key": "daily_max_s", "label": "slowest daily reindex (s)", "value": max(secs),
         "op": "<=", "bar": DAILY_BAR_S},
        {"key": "p95_over_fresh", "label": "HTTP p95, year / fresh build", "value": http["p95_ratio"],
         "op": "<=", "bar": P95_BAR},
        {"key": "size_over_fresh", "label": "index size on disk, year / fresh build",
         "value": round(size_ratio, 3), "op": "<=", "bar": SIZE_BAR},
    ]
    for b in bars:
        b["result"] = "PASS" if b["value"] <= b["bar"] else "FAIL"
    cpu = [d["cpu_seconds"] for d in r["days"]]
    quiet = [d for d in r["days"] if not d["merged_docs"]]
    quarters = []
    for q in range(4):  # CPU of the days without a merge, by quarter: what grows with the index
        got = [d["cpu_seconds"] for d in quiet
               if q * len(r["days"]) / 4 < d["day"] <= (q + 1) * len(r["days"]) / 4]
        quarters.append(round(statistics.median(got), 2) if got else None)
    merging_days = [d for d in r["days"] if d["merged_docs"]]
    background = [d["background_merge"] for d in r["days"] if d.get("background_merge")]
    return {"daily_p50_s": round(statistics.median(secs), 3), "daily_max_s": max(secs),
            "daily_cpu_p50_s": round(statistics.median(cpu), 2), "daily_cpu_max_s": max(cpu),
            "days_over_bar": sum(1 for x in secs if x > DAILY_BAR_S),
            "days_over_bar_cpu": sum(1 for x in cpu if x > DAILY_BAR_S),
            "no_merge_cpu_by_quarter": quarters,
            "merge_days": len(merging_days),
            "largest_merge_docs": max((d["merged_docs"] for d in merging_days), default=0),
            "merge_cpu_p50_s": round(statistics.median(d["cpu_seconds"] for d in merging_days), 2)
            if merging_days else None,
            "daily_p95_s": C.percentiles([s * 1000 for s in secs])["p95"] / 1000,
            "daily_mean_s": round(statistics.fmean(secs), 3),
            "worst_days": [{k: d[k] for k in ("day", "seconds", "cpu_seconds", "segments",
                                              "merged_segments", "merged_docs")} for d in worst],
            "max_segments": max(d["segments"] for d in r["days"]),
            "final_segments": last["segments"], "final_segment_docs": last["segment_docs"],
            "size_ratio": round(size_ratio, 3),
            "whoosh_size_ratio": round(whoosh_ratio, 3) if whoosh_ratio else None,
            "background_merges": len(background),
            "background_max_s": round(max((b["seconds"] for b in background), default=0), 2),
            "background_max_docs": max((b["docs"] for b in background), default=0),
            "background_total_cpu_s": round(sum(b["cpu_seconds"] for b in background), 1),
            "bars": bars}


# ------------------------------------------------------------------ the page

def _mb(n):
    return f"{n / 1e6:.1f}"


def markdown(r):
    s, http, fresh, last = r["summary"], r["http"], r["fresh"], r["days"][-1]
    m = r["meta"]
    days = r["days"]
    lines = [SECTION, "",
             f"Generated by `{m['command']}` (`make bench-year`) on {m['date']}, commit "
             f"`{(m.get('commit') or '?')[:7]}`; raw numbers: `bench-data/year.json`. "
             f"{r['days_replayed']} days of ~{round(r['items'] / r['days_replayed'])} items "
             f"({r['items']:,} in all: the x4 news corpus cut into {DAYS} daily dumps, oldest "
             f"first); each day one dump added and `python -m search reindex --quiet` run as a "
             f"subprocess (incremental), while a server (`python -m search serve`) answered the "
             f"benchmark's {r['queries']} keyword queries from a client thread "
             f"({r['background']['requests']:,} requests during the replay, "
             f"{r['background']['errors']} errors). Then a fresh `--full` build of the same dumps, "
             f"and the same queries with the same client (one keep-alive connection) against "
             f"both servers, {len(http['year']['rounds'])} rounds alternating. The whole run took "
             f"{r['seconds']:.0f} s; other processes used {r['load']['other_cores']:.2f} cores "
             f"on average meanwhile.", "",
             "| measure | value | bar | result |", "| --- | --- | --- | --- |"]
    for b in s["bars"]:
        lines.append(f"| {b['label']} | {b['value']:.2f} | {b['op']} {b['bar']} | "
                     f"**{b['result']}** |")
    lines += ["",
              "| | after the year | fresh `--full` build |", "| --- | --- | --- |",
              f"| HTTP p50 / p95 / p99 ms (median of the rounds) | {http['year']['p50_ms']} / "
              f"{http['year']['p95_ms']} / {http['year']['p99_ms']} | {http['fresh']['p50_ms']} / "
              f"{http['fresh']['p95_ms']} / {http['fresh']['p99_ms']} |",
              f"| mean hits per query | {http['year']['mean_total']} | "
              f"{http['fresh']['mean_total']} |",
              f"| segments (documents each) | {last['segments']} ({', '.join(map(str, last['segment_docs']))}) "
              f"| {fresh['segments']} ({', '.join(map(str, fresh['segment_docs']))}) |",
              f"| deleted documents kept | {last['deleted']} | 0 |",
              f"| index on disk, MB | {_mb(last['index_bytes'])} | {_mb(fresh['index_bytes'])} |",
              f"| of which Whoosh's segments, MB | {_mb(last['whoosh_bytes'])} | "
              f"{_mb(fresh['whoosh_bytes'])} |",
              f"| stories / readings / manifest files, MB | {_mb(last['stories_bytes'])} / "
              f"{_mb(last['readings_bytes'])} / {_mb(last['manifest_bytes'])} | "
              f"{_mb(fresh['stories_bytes'])} / {_mb(fresh['readings_bytes'])} / "
              f"{_mb(fresh['manifest_bytes'])} |",
              f"| build time, s | {sum(d['seconds'] for d in days):.0f} in {len(days)} reindexes | "
              f"{fresh['build']['seconds']:.1f} |",
              "",
              f"Daily reindex: median {s['daily_p50_s']:.2f} s, p95 {s['daily_p95_s']:.2f} s, "
              f"max {s['daily_max_s']:.2f} s (mean {s['daily_mean_s']:.2f} s); HTTP p95 ratio by "
              f"round {', '.join(map(str, http['p95_ratio_rounds']))}; the year's index is "
              f"{s['size_ratio']:.2f}x the fresh one on disk ({s['whoosh_size_ratio']:.2f}x for "
              f"Whoosh's files alone). CPU time of the daily reindexes (all their processes; "
              f"the wall time above includes waiting for cores other processes held): median "
              f"{s['daily_cpu_p50_s']:.2f} s, max {s['daily_cpu_max_s']:.2f} s; "
              f"{s['days_over_bar']} days over {DAILY_BAR_S:g} s in wall time, "
              f"{s['days_over_bar_cpu']} in CPU time. Days without a merge, median CPU by quarter "
              f"of the year: {' / '.join(f'{x:.2f}' for x in s['no_merge_cpu_by_quarter'] if x is not None)} s; "
              f"{s['merge_days']} days merged (the largest merge {s['largest_merge_docs']} documents), "
              f"median CPU {s['merge_cpu_p50_s']} s. "
              f"Background merges (started after a reindex had committed, committed by the "
              f"next; the replay waits for each before the next day's dump, as the hours "
              f"between two days would): {s.get('background_merges', 0)}, the longest "
              f"{s.get('background_max_s', 0)} s ({s.get('background_max_docs', 0)} documents), "
              f"{s.get('background_total_cpu_s', 0)} s of CPU in all. Server RSS at the end: "
              f"{r['server_rss_mb']['year']:.0f} MB on the year's index, "
              f"{r['server_rss_mb']['fresh']:.0f} MB on the fresh one. Slowest days:", "",
              "| day | wall s | CPU s | segments after | segments merged | documents merged |",
              "| --- | --- | --- | --- | --- | --- |"]
    for w in s["worst_days"]:
        lines.append(f"| {w['day']} | {w['seconds']:.2f} | {w['cpu_seconds']:.2f} | "
                     f"{w['segments']} | {w['merged_segments']} | {w['merged_docs']} |")
    lines += ["", "Over the year (every 30th day and the last):", "",
              "| day | documents | reindex s | segments | largest merge that day | index MB | "
              "stories MB | readings MB | manifest MB | background HTTP p50 ms |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    p50_by_day = r["background"]["p50_by_day"]
    for d in days:
        if d["day"] % 30 and d is not days[-1]:
            continue
        window = days[max(0, d["day"] - 30):d["day"]]
        lines.append(f"| {d['day']} | {d['docs']} | {d['seconds']:.2f} | {d['segments']} | "
                     f"{max(x['merged_docs'] for x in window)} (in the last 30 days) | "
                     f"{_mb(d['index_bytes'])} | {_mb(d['stories_bytes'])} | "
                     f"{_mb(d['readings_bytes'])} | {_mb(d['manifest_bytes'])} | "
                     f"{p50_by_day.get(d['day'], p50_by_day.get(str(d['day']), '–'))} |")
    return "\n".join(lines) + "\n"


def splice(page, section):
    """The page with its year section replaced by section (or section put
    before "## How it is measured", or at the end); the rest as it was."""
    start = page.find(SECTION + "\n")
    if start >= 0:
        end = page.find("\n## ", start + len(SECTION))
        rest = page[end + 1:] if end >= 0 else ""
        return page[:start] + section.rstrip("\n") + "\n\n" + rest
    at = page.find("## How it is measured")
    if at >= 0:
        return page[:at] + section.rstrip("\n") + "\n\n" + page[at:]
    return page.rstrip("\n") + "\n\n" + section


def carry_section(old_page, new_page):
    """new_page (python -m bench's page, regenerated) with old_page's year
    section put back in, where splice puts it."""
    start = old_page.find(SECTION + "\n")
    if start < 0 or SECTION + "\n" in new_page:
        return new_page
    end = old_page.find("\n## ", start + len(SECTION))
    return splice(new_page, old_page[start:end + 1 if end >= 0 else len(old_page)])


# ------------------------------------------------------------------- main

def build_parser():
    p = argparse.ArgumentParser(prog="python -m bench.year", description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=DAYS, metavar="N",
                   help=f"replay the first N of the {DAYS} days (default all; the docs are only "
                        "rewritten for the full year)")
    p.add_argument("--queries", type=int, default=QUERIES, metavar="N",
                   help=f"keyword queries (default {QUERIES})")
    p.add_argument("--rounds", type=int, default=ROUNDS, metavar="N",
                   help=f"HTTP rounds against each server after the year (default {ROUNDS})")
    p.add_argument("--copies", type=int, default=COPIES, help=argparse.SUPPRESS)
    p.add_argument("--corpus", default=None, metavar="DIR",
                   help="a dumps folder of the x4 corpus already made (default: built and "
                        "cached under --data)")
    p.add_argument("--data", default=str(C.DATA), help="cache and work folder (default bench-data/)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write year.json and year.md here (default bench-data/)")
    p.add_argument("--doc", default=None, metavar="FILE",
                   help="the page whose year section is replaced (default docs/performance.md "
                        "for a full year, none for --days N)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a bar fails")
    p.add_argument("--report", default=None, metavar="YEAR_JSON",
                   help="only write the section again from a run's year.json (to --doc, or "
                        "docs/performance.md)")
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    args.days = max(1, min(DAYS, args.days))
    if args.report:
        results = json.loads(Path(args.report).read_text())
        results["summary"] = summarize(results)
        section = markdown(results)
        doc = Path(args.doc) if args.doc else C.ROOT / "docs" / "performance.md"
        doc.write_text(splice(doc.read_text() if doc.exists() else "", section))
        log(f"wrote the year section of {doc} from {args.report}")
        return 0
    C.compile_sources()
    results = run(args)
    out = Path(args.out) if args.out else Path(args.data)
    out.mkdir(parents=True, exist_ok=True)
    (out / "year.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
    section = markdown(results)
    (out / "year.md").write_text(section)
    doc = Path(args.doc) if args.doc else (C.ROOT / "docs" / "performance.md"
                                           if args.days == DAYS else None)
    if doc is not None:
        doc.write_text(splice(doc.read_text() if doc.exists() else "", section))
        log(f"wrote the year section of {doc}")
    print(section)
    log(f"wrote {out / 'year.json'} and {out / 'year.md'}")
    if args.strict and any(b["result"] == "FAIL" for b in results["summary"]["bars"]):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
