"""Search results as a readable list on a terminal: the matches in bold
yellow on a TTY, in «…» otherwise, from the engine's match spans."""

import shutil

from .render import ELLIPSIS

_COLOR = ("\033[1;33m", "\033[0m")
_PLAIN = ("«", "»")


def highlight(text, spans, color):
    """text with the spans (sorted, merged character ranges) highlighted."""
    start_mark, end_mark = _COLOR if color else _PLAIN
    out, at = [], 0
    for s, e in spans:
        s, e = max(s, at), min(e, len(text))
        if s >= e:
            continue
        out.append(f"{text[at:s]}{start_mark}{text[s:e]}{end_mark}")
        at = e
    out.append(text[at:])
    return "".join(out)


def snippet_text(snippet, color):
    return ((ELLIPSIS if snippet.cut_before else "") + highlight(snippet.text, snippet.spans, color)
            + (ELLIPSIS if snippet.cut_after else ""))


def print_results(result, color=False, out=None):
    """A SearchResult (search/query/results.py), one hit after another."""
    width = min(shutil.get_terminal_size((100, 20)).columns, 120)
    request = result.request
    print(f"{result.total} 件（{result.took_ms} ms）", file=out)
    for n, hit in enumerate(result.hits, (request.page - 1) * request.per_page + 1):
        print(f"\n{n}. {highlight(hit.headline, hit.headline_spans, color)}", file=out)
        print(f"   {hit.source} (@{hit.handle}) {hit.date}  {hit.url}", file=out)
        text = snippet_text(hit.snippet, color).replace("\n", " ")
        if text:
            print(f"   {text[: width * 2]}", file=out)
        if hit.story_items:
            print(f"   ほか {len(hit.story_items)} 件（{'、'.join(hit.story.sources)}）", file=out)


def print_timeline(timeline, color=False, out=None):
    """A Timeline (search/query/timeline.py) as one bar a line."""
    width = max(10, min(shutil.get_terminal_size((100, 20)).columns, 120) - 40)
    top = max((b.count for b in timeline.buckets), default=0) or 1
    matched = sum(b.count for b in timeline.buckets)
    print(f"{matched} 件、{len(timeline.buckets)} 期間（{timeline.interval}）", file=out)
    start, end = _COLOR if color else ("", "")
    for b in timeline.buckets:
        bar = "█" * round(width * b.count / top) or ("▏" if b.count else "")
        print(f"{b.start} {start}{bar}{end} {b.count} / {b.total} ({b.share:.0%})", file=out)
