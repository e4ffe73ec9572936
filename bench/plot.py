"""The scale plot of docs/performance.md: HTTP latency (p50, p95) and index
size against corpus size (x1, x4, x14, x40: whichever the run measured),
drawn with matplotlib (Agg backend) as an SVG.

    python -m bench.plot [BENCH_JSON] [OUT.svg]   # redraw from saved results

matplotlib is in the project's `bench` extra (`make bench` installs it);
without it the bench goes on and the page says the plot was not drawn.
"""

import sys
from pathlib import Path

from .common import dig as _get

INSTALL = "pip install -e '.[bench]'"


def scale_points(results):
    """[{copies, items, p50, p95, index_mb}] by corpus size, from the Scale
    rows and the x40 section; one point per corpus, the x40 section's where
    both measured it."""
    points = {}
    for row in _get(results, "scale", "rows") or []:
        h = row.get("http") or {}
        points[row["copies"]] = {"copies": row["copies"], "items": row.get("items"),
                                 "p50": h.get("p50"), "p95": h.get("p95"),
                                 "index_mb": row.get("index_mb")}
    x40 = results.get("x40") or {}
    if x40.get("build"):
        h = _get(x40, "http", "one_client", "latency_ms") or {}
        k = x40["copies"]
        points[k] = {"copies": k, "items": x40["build"].get("items") or
                     _get(x40, "corpus", "items"), "p50": h.get("p50"), "p95": h.get("p95"),
                     "index_mb": x40.get("index_mb")}
    return [points[k] for k in sorted(points) if points[k].get("items")]


def write_scale_plot(results, path):
    """Draw the plot to path; returns what the report needs: {"file",
    "points"}, or {"error"} when it could not be drawn."""
    points = scale_points(results)
    if not points:
        return {"error": "no corpus was measured"}
    try:
        import matplotlib
    except ImportError:
        return {"error": f"matplotlib is not installed ({INSTALL})"}
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # The same results draw the same file: no date in it, fixed element ids,
    # text kept as text.
    plt.rcParams.update({"svg.hashsalt": "nhk-search-bench", "svg.fonttype": "none",
                         "font.size": 9})
    items = [p["items"] for p in points]
    ticks = [f"x{p['copies']}\n{p['items']:,}" for p in points]
    fig, (lat, size) = plt.subplots(1, 2, figsize=(8.0, 3.2), layout="constrained")
    for key, style, label in (("p50", "o-", "p50"), ("p95", "s--", "p95")):
        xs = [p["items"] for p in points if p.get(key) is not None]
        ys = [p[key] for p in points if p.get(key) is not None]
        lat.plot(xs, ys, style, label=label)
        for x, y in zip(xs, ys):
            lat.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 5),
                         ha="center", fontsize=7)
        if xs:  # each line named at its right end (a legend box would hide points)
            lat.annotate(label, (xs[-1], ys[-1]), textcoords="offset points", xytext=(9, -3),
                         ha="left", fontsize=8, color=lat.get_lines()[-1].get_color())
    n = _get(results, "queries", "queries")
    lat.set_title(f"HTTP latency, 1 client, {n or 'the'} queries")
    lat.set_ylabel("ms")
    top = max((p[k] for p in points for k in ("p50", "p95") if p.get(k) is not None), default=1)
    lat.set_ylim(0, top * 1.25)
    xs = [p["items"] for p in points if p.get("index_mb") is not None]
    ys = [p["index_mb"] for p in points if p.get("index_mb") is not None]
    size.plot(xs, ys, "o-", color="tab:green")
    for x, y in zip(xs, ys):
        size.annotate(f"{y:,.0f}", (x, y), textcoords="offset points", xytext=(0, 5),
                      ha="center", fontsize=7)
    size.set_title("index size on disk")
    size.set_ylabel("MB")
    size.set_ylim(0, max(ys, default=1) * 1.2)
    for ax in (lat, size):
        ax.set_xscale("log")
        ax.set_xticks(items, ticks)
        ax.minorticks_off()
        ax.set_xlabel("corpus (items)")
        ax.grid(True, alpha=0.3)
        if len(items) > 1:
            ax.set_xlim(items[0] / 1.6, items[-1] * 1.6)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=path.suffix.lstrip(".") or "svg", metadata={"Date": None})
    plt.close(fig)
    return {"file": path.name, "points": points}


def main(argv=None):
    import json

    argv = sys.argv[1:] if argv is None else argv
    root = Path(__file__).resolve().parents[1]
    src = Path(argv[0]) if argv else root / "bench-data" / "bench.json"
    dst = Path(argv[1]) if len(argv) > 1 else root / "docs" / "performance-scale.svg"
    got = write_scale_plot(json.loads(src.read_text()), dst)
    if "error" in got:
        print(f"no plot: {got['error']}", file=sys.stderr)
        return 1
    print(f"wrote {dst} from {src}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
