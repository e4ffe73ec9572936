"""Smoke test of the benchmark harness: `python -m bench --quick` runs end to
end (300 items, 30 queries, HTTP against the real server) and writes its JSON
and its page with every section. No timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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

    doc = (out / "performance.md").read_text()
    for heading in ("## Bars", "## Indexing", "## Queries", "## Scale", "## What dominates"):
        assert heading in doc
