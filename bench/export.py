"""Taking the data away, measured on a news corpus (`python -m bench.export`):

- export throughput: /api/export of every item (NDJSON and CSV) and of a
  common word's matches, streamed by the real server (gunicorn), read to
  the end by one client: items/s, MB/s;
- server memory while it streams every item: the summed RSS (and
  anonymous RSS) of master and workers, sampled every 20 ms, against the
  same server idle: an export in constant memory adds a little, whatever
  the number of items;
- a cursor walk over every item (no query, per_page=100) and over a common
  word's matches (by relevance), through HTTP: pages/s, and every item seen
  exactly once (the walk's count against /api/export's);
- `python -m search export` of every item to a file: items/s.

The corpus is bench/common.py's (`--copies 4`: the x4 news corpus, built
once and cached under --data); its index goes to --data/work/export-x4-index
(an incremental reindex: nothing to do when it is up to date). Results go to
stdout as JSON (and --out FILE).
"""

import argparse
import http.client
import json
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from . import common as C
from .common import log

WORD = "日本"  # a common word of the news corpus


def _stream(port, path, chunk=1 << 16):
    """(status, bytes, lines, seconds, time to first byte, X-Total-Count) of
    a GET read to the end."""
    conn = http.client.HTTPConnection(C.HOST, port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    first, size, lines = None, 0, 0
    while True:
        data = response.read1(chunk) if hasattr(response, "read1") else response.read(chunk)
        if not data:
            break
        first = first or time.perf_counter() - started
        size += len(data)
        lines += data.count(b"\n")
    seconds = time.perf_counter() - started
    conn.close()
    return response.status, size, lines, seconds, first, response.getheader("X-Total-Count")


def export_run(server, params, label, sample=True):
    path = "/api/export?" + urllib.parse.urlencode(params)
    sampler = C.Sampler(server.proc.pid, interval=0.02) if sample else None
    if sampler:
        sampler.start()
    status, size, lines, seconds, first, total = _stream(server.port, path)
    memory = sampler.finish() if sampler else None
    if status != 200:
        raise RuntimeError(f"{path}: HTTP {status}")
    items = int(total)  # CSV rows hold line breaks: the header says how many items
    if params.get("format", "ndjson") == "ndjson" and lines != items:
        raise RuntimeError(f"{path}: {lines} lines for {items} items")
    out = {"path": path, "items": items, "mb": round(size / 1e6, 1), "seconds": round(seconds, 2),
           "items_per_s": round(items / seconds), "mb_per_s": round(size / 1e6 / seconds, 1),
           "first_byte_ms": round(first * 1000, 1) if first else None}
    if memory:
        out["server_during"] = memory
    log(f"  export {label}: {items} items in {seconds:.2f} s = {out['items_per_s']} items/s, "
        f"{out['mb_per_s']} MB/s" + (f"; server peak RSS {memory['peak_rss_mb']} MB, "
                                     f"anon {memory['peak_anon_mb']} MB" if memory else ""))
    return out


def walk_run(server, params, label, per_page=100):
    """Follow next_cursor to the end; every id once?"""
    client = C.Client(server.port, timeout=120)
    seen, dupes, pages, cursor = set(), 0, 0, "*"
    latencies = []
    started = time.perf_counter()
    while cursor is not None:
        path = "/api/search?" + urllib.parse.urlencode(dict(params, per_page=per_page,
                                                            cursor=cursor))
        t = time.perf_counter()
        status, body = client.get(path)
        latencies.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise RuntimeError(f"{path[:200]}: HTTP {status} {body[:200]!r}")
        answer = json.loads(body)
        for hit in answer["hits"]:
            dupes += hit["id"] in seen
            seen.add(hit["id"])
        pages += 1
        cursor = answer["next_cursor"]
        total = answer["total"]
    seconds = time.perf_counter() - started
    client.close()
    out = {"params": params, "per_page": per_page, "pages": pages, "items": len(seen),
           "total": total, "repeated": dupes, "seconds": round(seconds, 2),
           "pages_per_s": round(pages / seconds, 1), "items_per_s": round(len(seen) / seconds),
           "page_latency_ms": C.percentiles(latencies)}
    log(f"  walk {label}: {len(seen)} items of {total} in {pages} pages, {seconds:.1f} s "
        f"({out['pages_per_s']} pages/s, p50 {out['page_latency_ms'].get('p50')} ms), "
        f"{dupes} repeated")
    return out


def cli_run(index, work, params_args, label):
    out_path = work / "export-cli.out"
    cmd = [sys.executable, "-m", "search", "export", *params_args, "--index", str(index)]
    started = time.perf_counter()
    with open(out_path, "wb") as f:
        subprocess.run(cmd, check=True, stdout=f, cwd=C.ROOT)
    seconds = time.perf_counter() - started
    data = out_path.read_bytes()
    items = data.count(b"\n")
    out_path.unlink()
    log(f"  cli {label}: {items} items in {seconds:.2f} s = {round(items / seconds)} items/s "
        "(with the process start)")
    return {"args": params_args, "items": items, "seconds": round(seconds, 2),
            "items_per_s": round(items / seconds), "mb": round(len(data) / 1e6, 1)}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.split("\n")[0])
    p.add_argument("--copies", type=int, default=4, help="the corpus: xK copies (default 4)")
    p.add_argument("--limit", type=int, default=0, metavar="N",
                   help="a corpus of the first N articles only (a quick run)")
    p.add_argument("--data", default=str(C.DATA), help="the bench-data folder (corpora, work)")
    p.add_argument("--articles", default=str(C.ARTICLES), help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, metavar="FILE", help="also write the results here")
    args = p.parse_args(argv)

    data = Path(args.data)
    work = data / "work"
    work.mkdir(parents=True, exist_ok=True)
    dumps, n_items = C.corpus(data, args.copies, args.limit, articles=args.articles)
    index = work / (f"export-x{args.copies}" + (f"-l{args.limit}" if args.limit else "") + "-index")
    log(f"corpus x{args.copies}: {n_items} items; reindexing {index} (incremental)")
    reindexed = C.run_measured([sys.executable, "-m", "search", "reindex", "--dumps", str(dumps),
                                "--index", str(index), "--quiet"], work / "export-reindex.log")
    results = {"corpus": f"news-x{args.copies}", "corpus_items": n_items,
               "reindex_seconds": reindexed["seconds"]}
    with C.Server(index, work / f"export-x{args.copies}-server.log") as server:
        status, body = C.Client(server.port).get("/api/stats")
        results["index_items"] = json.loads(body)["items"]
        C.Client(server.port).get("/api/search?q=" + urllib.parse.quote(WORD))  # warm
        export_run(server, {"format": "ndjson"}, "warm-up", sample=False)
        results["server_idle"] = server.memory()
        log(f"  server idle: RSS {results['server_idle']['rss_mb']} MB, "
            f"anon {results['server_idle']['anon_mb']} MB")
        results["export"] = {
            "all_ndjson": export_run(server, {"format": "ndjson"}, "every item, NDJSON"),
            "all_csv": export_run(server, {"format": "csv"}, "every item, CSV"),
            "word_ndjson": export_run(server, {"q": WORD, "format": "ndjson"},
                                      f"q={WORD}, NDJSON"),
            "half_ndjson": export_run(server, {"format": "ndjson", "sort": "oldest",
                                               "to": _middle_day(server)},
                                      "the older half, NDJSON"),
        }
        results["server_after"] = server.memory()
        results["walk"] = {
            "all": walk_run(server, {}, "every item (newest)"),
            "word": walk_run(server, {"q": WORD}, f"q={WORD} (relevance)"),
        }
    results["cli"] = cli_run(index, work, ["--format", "ndjson"], "every item, NDJSON")
    ok = (results["walk"]["all"]["items"] == results["index_items"]
          and not results["walk"]["all"]["repeated"] and not results["walk"]["word"]["repeated"]
          and results["walk"]["word"]["items"] == results["export"]["word_ndjson"]["items"]
          and results["export"]["all_ndjson"]["items"] == results["index_items"])
    results["every_item_once"] = ok
    text = json.dumps(results, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0 if ok else 1


def _middle_day(server):
    """The median day of the index, for an export of about half of it."""
    status, body = C.Client(server.port).get("/api/search?per_page=1")
    days = sorted(json.loads(body)["facets"]["date"].items())
    total, running = sum(n for _, n in days), 0
    for day, n in days:
        running += n
        if running >= total / 2:
            return day
    return days[-1][0] if days else "9999-12-31"


if __name__ == "__main__":
    sys.exit(main())
