"""Smoke test of the benchmark harness: `python -m bench --quick` runs end to
end (300 items, 30 queries, HTTP against the real server) and writes its JSON
and its page with every section. No timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench/ is the repository's, not an installed package
    sys.path.insert(0, str(ROOT))


def test_quick_bench_writes_every_section(tmp_path, shared_file):
    # The bench reads the livedoor corpus and writes dumps with the tool beside it.
    shared_file("eval/news/articles.jsonl")
    shared_file("tools/to_dumps.py")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out),
         "--data", str(tmp_path / "data")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    results = json.loads((out / "bench.json").read_text())
    for section in ("meta", "indexing", "queries", "scale", "profile", "bars"):
        assert section in results and "error" not in results[section], section
    assert results["errors"] == []

    ix = results["indexing"]
    for step in ("floor", "full", "noop", "add_day"):
        assert ix[step]["seconds"] > 0, step
    assert ix["full"]["items"] == 300
    assert ix["add_day"]["added"] == ix["add_day"]["new_items"] > 0
    assert ix["index_mb"] > 0 and ix["full"]["peak_rss_mb"] > 0

    q = results["queries"]
    assert q["queries"] == 30
    for run in ("one_client", "concurrent"):
        assert q["http"][run]["errors"] == 0
        assert q["http"][run]["latency_ms"]["n"] == 30
    assert q["http"]["server_peak"]["peak_rss_mb"] > 0
    assert q["inprocess"]["latency_ms"]["n"] == 30
    assert q["fts5"]["latency_ms"]["n"] == 30 and q["fts5"]["items"] == 330
    # Queries are drawn from the corpus: nearly all of them find something.
    assert q["inprocess"]["hits"]["queries_with_hits"] >= 25

    assert results["scale"]["rows"][0]["copies"] == 1
    assert results["profile"]["reindex"]["top"] and results["profile"]["queries"]["top"]
    assert {b["key"] for b in results["bars"]} >= {"full_over_floor", "qps8_over_qps1",
                                                   "server_rss_mb"}
    assert all(b["result"] in ("PASS", "FAIL") for b in results["bars"])

    # --quick leaves the x40 section out, and its bars with it.
    assert results["x40"]["skipped"]
    assert not any(b["key"].startswith("x40") for b in results["bars"])

    doc = (out / "performance.md").read_text()
    for heading in ("## Bars", "## Indexing", "## Queries", "## Scale", "## What dominates"):
        assert heading in doc


# The x40 section, the report and the plot, from made-up results: nothing is
# measured here (make test runs none of the x40 section).

def _x40_results(copies=40):
    maps = {k: {"rss": 10.0, "pss": 5.0, "anon": 1.0}
            for k in ("index", "dictionary", "code", "other_files", "heap", "stack")}
    maps["files"] = [{"path": "/x/resources/system.dic", "rss_mb": 10.0}]
    latency = {"n": 300, "p50": 5.0, "p95": 20.0, "p99": 30.0, "mean": 7.0, "max": 40.0}
    run = {"latency_ms": latency, "qps": 150.0, "errors": 0, "clients": 1,
           "hits": {"queries_with_hits": 298, "queries": 300, "mean_total": 6000.0}}
    memory = {"rss_mb": 550.0, "anon_mb": 300.0, "pss_mb": 400.0, "pss_anon_mb": 250.0,
              "pss_file_mb": 150.0, "processes": 3}
    return {
        "indexing": {"floor": {"seconds": 18.0}},
        "queries": {"queries": 300, "corpus": {"copies": 4},
                    "http": {"server_end_maps": maps}},
        "scale": {"rows": [
            {"copies": 1, "items": 7367, "index_mb": 125.0, "http": {"p50": 3.7, "p95": 6.7}},
            {"copies": 4, "items": 29468, "index_mb": 433.0, "http": {"p50": 3.7, "p95": 6.8}}]},
        "x40": {"copies": copies, "x1_floor_seconds": 18.0,
                "corpus": {"copies": copies, "limit": 0, "items": 294680, "files": 977,
                           "mb": 1040.0},
                "build": {"seconds": 800.0, "cpu_seconds": 1500.0, "items": 294680,
                          "peak_rss_mb": 1400.0, "processes": 3, "largest_process_hwm_mb": 600.0},
                "extrapolated_floor_seconds": 18.0 * copies, "full_over_floor": 800 / (18 * copies),
                "index_mb": 5000.0, "index_bytes_per_item": 16968, "queries": 300,
                "http": {"server_start_seconds": 2.0, "one_client": run,
                         "grouped": dict(run, latency_ms=dict(latency, p95=22.0)),
                         "concurrent": dict(run, clients=8, qps=280.0),
                         "server_start_rss": memory, "server_idle_rss": memory,
                         "server_end_rss": memory,
                         "server_peak": {"peak_rss_mb": 580.0, "peak_anon_mb": 310.0},
                         "server_end_maps": maps}},
    }


def test_x40_bars_and_report():
    from bench import perf, report

    results = _x40_results()
    got = {b["key"]: b for b in perf.bars(results)}
    assert got["x40_full_over_floor"]["result"] == "PASS"  # 800 / 720 = 1.11
    assert got["x40_http_p95_ms"]["result"] == "PASS"
    assert got["x40_server_rss_mb"]["value"] == 580.0
    results["bars"] = list(got.values())
    text = report.bars_section(results) + report.x40_section(results)
    assert "x40: full reindex / (40 × the x1 analyzer floor) | 1.11 | <= 1.25 | **PASS**" in text
    assert "| 20.00 ms | <= 25 ms |" in text
    assert "## x40: a decade's archive" in text and "`group=story`" in text
    assert "| kind | x4 RSS | x4 PSS | x40 RSS | x40 PSS | grows |" in text

    skipped = dict(results, x40={"skipped": True, "copies": 40})
    assert not any(b["key"].startswith("x40") for b in perf.bars(skipped))
    assert "Not run" in report.x40_section(skipped)
    assert report.x40_section({}) == ""  # results from before the section existed


def test_a_run_that_skips_x40_keeps_the_last_one_measured_and_says_so(tmp_path):
    import json

    from bench import perf, report

    before = dict(_x40_results(), meta={"date": "2026-12-01T20:00:00+00:00", "commit": "b3fecda"})
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(before))
    args = perf.build_parser().parse_args(["--skip-x40"])
    carried = perf.carried_x40(path, args)
    assert carried["build"] == before["x40"]["build"]
    assert carried["carried_from"] == {"date": "2026-12-01T20:00:00+00:00", "commit": "b3fecda"}
    results = dict(before, x40=carried)
    results["bars"] = perf.bars(results)
    assert any(b["key"] == "x40_http_p95_ms" for b in results["bars"])
    text = report.bars_section(results) + report.x40_section(results)
    assert text.count("not of this run (`--skip-x40`)") == 2 and "commit `b3fecda`" in text

    # Carried again, it still names the run that measured it; nothing to
    # carry (a quick run, another size, a skipped section): None.
    path.write_text(json.dumps(dict(results, meta={"date": "later", "commit": "c0ffee0"})))
    assert perf.carried_x40(path, args)["carried_from"]["commit"] == "b3fecda"
    assert perf.carried_x40(path, perf.build_parser().parse_args(["--quick"])) is None
    assert perf.carried_x40(path, perf.build_parser().parse_args(
        ["--skip-x40", "--x40-copies", "2"])) is None
    path.write_text(json.dumps({"x40": {"skipped": True, "copies": 40}}))
    assert perf.carried_x40(path, args) is None
    assert perf.carried_x40(tmp_path / "none.json", args) is None

def test_x40_options():
    from bench import perf

    args = perf.build_parser().parse_args(["--x40-copies", "2", "--limit", "300"])
    assert args.x40_copies == 2 and not args.skip_x40
    assert perf.build_parser().parse_args(["--skip-x40"]).skip_x40


def test_smaps_breakdown_adds_up_to_rss():
    import os

    from bench import common

    maps = common.smaps_breakdown(os.getpid())
    rss = sum(maps[k]["rss"] for k, _, _ in common.MAP_KINDS)
    status = common.tree_memory(os.getpid())["rss"]
    assert maps["heap"]["anon"] > 0 and maps["code"]["rss"] > 0
    assert abs(rss - status) < max(8.0, 0.1 * status), (rss, status)


def test_scale_plot_is_drawn_the_same_each_time(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    from bench import plot

    results = _x40_results()
    got = plot.write_scale_plot(results, tmp_path / "a.svg")
    assert got["file"] == "a.svg"
    assert [p["copies"] for p in got["points"]] == [1, 4, 40]
    plot.write_scale_plot(results, tmp_path / "b.svg")
    svg = (tmp_path / "a.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and "x40" in svg
    assert svg == (tmp_path / "b.svg").read_text()
