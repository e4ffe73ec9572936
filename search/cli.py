"""``python -m search``: a thin command line over the library.

Exit status: 0 success; 1 a reindex that indexed what it could but skipped
files (named on stderr); 2 a usage mistake (with a hint); 3 another reindex
holds the index.
"""

import argparse
import json
import os
import sys
from datetime import date

from .index import storage

EXIT_SKIPPED, EXIT_USAGE, EXIT_BUSY, EXIT_FAILED = 1, 2, 3, 4


class UsageError(Exception):
    """A user mistake: the message says what is wrong and what to do."""


def _reindex(args):
    from .ingest import reindex  # not at the top: `serve` stays light in gunicorn's master process
    from .userdict import DEFAULT_CSV, UserDictError

    progress = reindex.Progress(enabled=not args.quiet)
    user_dict = args.user_dict
    if user_dict is None:
        user_dict = str(DEFAULT_CSV) if DEFAULT_CSV.exists() else None
    elif user_dict and not os.path.isfile(user_dict):
        raise UsageError(f"user dictionary not found: {user_dict}; pass --user-dict FILE "
                         "(a Sudachi user-dictionary CSV) or --user-dict '' for none")
    try:
        summary = reindex.reindex(args.dumps, args.index, full=args.full, progress=progress,
                                  user_dict=user_dict or None, procs=args.procs,
                                  memory_mb=args.memory_mb)
    except (reindex.DumpChanged, reindex.WorkerFailed) as e:
        print(f"error: {e}; the index is as it was", file=sys.stderr)
        return EXIT_FAILED
    except FileNotFoundError as e:
        raise UsageError(f"{e}; put dump files there or pass --dumps DIR") from None
    except UserDictError as e:
        raise UsageError(f"{e}; nothing was reindexed, the index is as it was") from None
    except reindex.ReindexBusy as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BUSY
    for line in summary.lines():
        print(line, file=sys.stderr)
    return EXIT_SKIPPED if summary.skipped else 0


def _stats(args):
    from .query.stats import index_stats

    stats = index_stats(_require_index(args.index))
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
        return 0
    print(f"{stats['items']} items from {stats['dumps']} dumps, "
          f"{stats['first_date']} – {stats['last_date']} (indexed {stats['indexed_at']})")
    for name, count in stats["sources"].items():
        print(f"  {count:6d}  {name}")
    return 0


def _require_index(index_dir):
    if not storage.exists(index_dir):
        raise UsageError(f"no index in {index_dir}; build one with "
                         f"`python -m search reindex --dumps DIR --index {index_dir}`")
    return index_dir


def _query(args):
    from .query import QueryError, SearchService

    service = SearchService(_require_index(args.index))
    try:
        result = _search(service, args)
    except QueryError as e:
        raise UsageError(e.message) from None
    if args.json or args.jsonl:
        from .render import hit_json, search_json

        if args.jsonl:
            for hit in result.hits:
                print(json.dumps(hit_json(hit), ensure_ascii=False))
        else:
            print(json.dumps(search_json(result), ensure_ascii=False))
        return 0
    from .terminal import print_results

    print_results(result, color=sys.stdout.isatty())
    return 0


def _search(service, args):
    """The --page-th block of --limit hits: one search when it fits in one
    page of the engine (MAX_PER_PAGE), else the engine's pages that cover it,
    joined into one result."""
    from dataclasses import replace

    from .query import MAX_PER_PAGE, MAX_RESULTS, BadRequest, parse_request

    limit, page = args.limit, args.page
    params = dict(_filter_params(args), sort=args.sort, group=args.group)
    if limit <= MAX_PER_PAGE:
        return service.search(parse_request(dict(params, per_page=limit, page=page)))
    start = (page - 1) * limit
    if start + limit > MAX_RESULTS:
        raise BadRequest("invalid_parameter",
                         f"--limit × --page は {MAX_RESULTS} 件までです（{start + limit} 件目まで"
                         "を求めています）。条件を絞り込んでください")
    hits, first = [], None
    for engine_page in range(start // MAX_PER_PAGE + 1, (start + limit - 1) // MAX_PER_PAGE + 2):
        found = service.search(parse_request(dict(params, per_page=MAX_PER_PAGE, page=engine_page)))
        first = first or found
        hits.extend(found.hits)
        if len(found.hits) < MAX_PER_PAGE:
            break
    offset = start % MAX_PER_PAGE
    request = replace(first.request, page=page, per_page=limit)
    return replace(first, request=request, hits=tuple(hits[offset:offset + limit]),
                   pages=-(-first.total // limit))


def _serve(args):
    from .serve import serve

    _require_index(args.index)
    return serve(args.index, args.host, args.port, workers=args.workers)


def _add_filters(p):
    """The search's filters, for every command that selects items."""
    from .query.request import OPS

    p.add_argument("--op", choices=OPS, default=OPS[0])
    p.add_argument("--source", action="append", help="only this source (repeatable)")
    p.add_argument("--tag", action="append", help="only items with this tag (repeatable)")
    p.add_argument("--label", action="append", help="only items of dumps with this label (repeatable)")
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", type=_day)
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", type=_day)
    p.add_argument("--no-synonyms", action="store_true",
                   help="search the words as typed, without their synonyms (syn=0)")


def _filter_params(args):
    return {"q": args.q, "op": args.op, "source": args.source or [], "tag": args.tag or [],
            "label": args.label or [], "from": args.date_from, "to": args.date_to,
            "syn": not args.no_synonyms}


def _timeline(args):
    from .query import QueryError, SearchService, parse_request

    service = SearchService(_require_index(args.index))
    try:
        found = service.timeline(parse_request(_filter_params(args)), args.interval)
    except QueryError as e:
        raise UsageError(e.message) from None
    if args.json:
        from .render import timeline_json

        print(json.dumps(timeline_json(found), ensure_ascii=False))
        return 0
    from .terminal import print_timeline

    print_timeline(found, color=sys.stdout.isatty())
    return 0


def _export(args):
    """Every matching item on stdout (search/export.py), in the order of
    --sort, a chunk at a time; a progress bar on stderr when it is a terminal."""
    from tqdm import tqdm

    from .export import stream
    from .query import QueryError, SearchService, parse_request
    from .query.walk import export

    service = SearchService(_require_index(args.index))
    try:
        found = export(service, parse_request(dict(_filter_params(args), sort=args.sort)))
    except QueryError as e:
        raise UsageError(e.message) from None
    out = sys.stdout.buffer
    with tqdm(total=found.total, unit="件", file=sys.stderr, disable=not sys.stderr.isatty(),
              leave=False) as bar:
        def counted():
            for chunk in found.chunks():
                yield chunk
                bar.update(len(chunk))

        for data in stream(counted(), args.format):
            out.write(data)
    out.flush()
    return 0


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {value}")
    return value


def _memory_mb(text):
    value = _positive(text)
    if value < 200:  # the processes themselves take about that (Python, Sudachi's dictionary)
        raise argparse.ArgumentTypeError(f"at least 200 MB: {value}")
    return value


def _day(text):
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser():
    from .export import FORMATS
    from .query.request import (DEFAULT_PER_PAGE, GROUPS, INTERVALS, MAX_PER_PAGE, MAX_RESULTS,
                                SORTS)

    parser = argparse.ArgumentParser(prog="python -m search",
                                     description="Japanese full-text search over news dumps")
    sub = parser.add_subparsers(dest="command", required=True)
    default_index = os.environ.get("SEARCH_INDEX", "index")

    p = sub.add_parser("reindex", help="index new, changed and removed dump files")
    p.add_argument("--dumps", default="dumps", help="folder of dump files (default: dumps)")
    p.add_argument("--index", default=default_index, help="index folder (default: index)")
    p.add_argument("--full", action="store_true", help="rebuild the whole index")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--user-dict", metavar="FILE", default=None,
                   help="Sudachi user-dictionary CSV (default: dictionary/user.csv; '' for none)")
    p.add_argument("--procs", type=_positive, default=2, metavar="N",
                   help="writer processes (default: 2)")
    p.add_argument("--memory-mb", type=_memory_mb, default=None, metavar="MB",
                   help="memory the reindex may take, its processes together "
                        "(default: 1500; at least 200)")
    p.set_defaults(run=_reindex, exit_at_once=True)

    p = sub.add_parser("stats", help="items per source and the date range")
    p.add_argument("--index", default=default_index)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_stats)

    p = sub.add_parser("query", help="search the index (no query: the newest items)")
    p.add_argument("q", nargs="?", default="",
                   help='keywords; "exact phrase", -exclude, A OR B (none: browse, newest first)')
    p.add_argument("--index", default=default_index)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true",
                     help="the answer as one JSON document, as /api/search gives it (total, hits, facets)")
    out.add_argument("--jsonl", action="store_true", help="one JSON object per hit, nothing else")
    p.add_argument("--limit", type=_positive, default=DEFAULT_PER_PAGE,
                   help=f"hits to show (default {DEFAULT_PER_PAGE}, up to {MAX_RESULTS}; "
                        f"more than {MAX_PER_PAGE} are fetched page by page)")
    p.add_argument("--page", type=_positive, default=1, help="which block of --limit hits (default 1)")
    p.add_argument("--sort", choices=SORTS, default=SORTS[0])
    p.add_argument("--group", choices=GROUPS, default=GROUPS[0],
                   help="story: each story once, by its best hit")
    _add_filters(p)
    p.set_defaults(run=_query)

    p = sub.add_parser("timeline", help="how many items match, per day, week or month")
    p.add_argument("q", nargs="?", default="", help="keywords (none: every item)")
    p.add_argument("--index", default=default_index)
    p.add_argument("--interval", choices=INTERVALS, default=INTERVALS[0])
    p.add_argument("--json", action="store_true", help="the answer as /api/timeline gives it")
    _add_filters(p)
    p.set_defaults(run=_timeline)

    p = sub.add_parser("export", help="every matching item, as CSV or NDJSON on stdout")
    p.add_argument("q", nargs="?", default="", help="keywords (none: every item)")
    p.add_argument("--index", default=default_index)
    p.add_argument("--format", choices=FORMATS, default=FORMATS[0],
                   help="ndjson: one item a line, as /api/items/<id>; csv: UTF-8 with a BOM")
    p.add_argument("--sort", choices=SORTS, default=SORTS[0],
                   help="the order (ties by item id; no query: newest first)")
    _add_filters(p)
    p.set_defaults(run=_export)

    p = sub.add_parser("serve", help="serve the search page and JSON API")
    p.add_argument("--index", default=default_index)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.set_defaults(run=_serve)
    return parser


def main(argv=None):
    return _run(build_parser().parse_args(argv))


def run_and_exit(argv=None):
    """``python -m search``: main(), then the process's end. A reindex ends
    at once (os._exit, its output flushed): it has closed and committed
    everything it wrote, and the interpreter would otherwise free its heap
    (the stories' state, the readings, every item's dumps) object by
    object, ~0.07 s of a daily reindex's ~1.2."""
    args = build_parser().parse_args(argv)
    status = _run(args)
    if getattr(args, "exit_at_once", False):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):  # a reader gone, closed, none
                pass
        os._exit(status or 0)
    sys.exit(status)


def _run(args):
    try:
        return args.run(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped early (`… | head -1`): not an error of ours.
        # Python would report it again when flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
