"""Search results as a readable list on a terminal."""

import re
import shutil
from html import unescape

_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def plain(html, color):
    """Snippet HTML for a terminal: <mark> as bold yellow on a TTY, else «…»."""
    if color:
        text = _MARK.sub(lambda m: f"\033[1;33m{m.group(1)}\033[0m", html)
    else:
        text = _MARK.sub(lambda m: f"«{m.group(1)}»", html)
    return unescape(text)


def print_results(result, color=False, out=None):
    width = min(shutil.get_terminal_size((100, 20)).columns, 120)
    print(f"{result['total']} 件（{result['took_ms']} ms）", file=out)
    for n, hit in enumerate(result["hits"], (result["page"] - 1) * result["per_page"] + 1):
        print(f"\n{n}. {plain(hit['headline_html'], color)}", file=out)
        print(f"   {hit['source']} (@{hit['handle']}) {hit['date']}  {hit['url']}", file=out)
        snippet = plain(hit["snippet"], color).replace("\n", " ")
        if snippet:
            print(f"   {snippet[: width * 2]}", file=out)
