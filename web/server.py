"""What the HTTP server (gunicorn) must do for this app before a request
reaches it: take the request lines people's tools really send, and answer
the requests it refuses in our own words.

- curl, and scripts that build URLs by hand, send Japanese in the request
  target as raw UTF-8 bytes; RFC 9112 wants them percent-encoded and
  gunicorn refuses them with a bare English 400 page. ``Request`` encodes
  each byte outside ASCII (and only those, and only in the target) the way
  the client should have, so such a request is answered exactly like its
  percent-encoded form. Control characters and spaces are still refused.
- A query within the engine's limit (500 characters) can be ~6,000 bytes
  percent-encoded; gunicorn's default request line limit is 4,094.
  ``REQUEST_LINE_LIMIT`` lets every query the engine takes reach it (the
  engine answers a longer one with its own ``invalid_query``).
- What gunicorn still refuses (a request line past that limit, a malformed
  request) is answered by ``Worker.handle_error`` like the app answers its
  errors: the API's JSON error shape under /api/, a Japanese page elsewhere,
  with our security headers; not gunicorn's English page.

``search/serve.py`` names this module's ``Worker`` as gunicorn's worker class.
"""

import ctypes
import itertools
import re
import threading
from html import escape
from http import HTTPStatus

import orjson
from gunicorn.http import parser
from gunicorn.http import message
from gunicorn.http.errors import (InvalidHeader, InvalidHeaderName, InvalidHTTPVersion,
                                  InvalidRequestLine, InvalidRequestMethod, LimitRequestHeaders,
                                  LimitRequestLine)
from gunicorn.util import write_nonblock
from gunicorn.workers.gthread import ThreadWorker

from search import analysis, memory

from . import SECURITY_HEADERS
from .errors import HTTP_ERRORS, error_body, is_api_path

REQUEST_LINE_LIMIT = 8190  # gunicorn's largest; 500 four-byte characters percent-encoded are 6,000
_NON_ASCII = re.compile(rb"[\x80-\xff]")

# What gunicorn refuses before the app sees the request: status and code.
REFUSED = (
    (LimitRequestLine, 414),
    (LimitRequestHeaders, 431),
    ((InvalidRequestLine, InvalidRequestMethod, InvalidHTTPVersion, InvalidHeader,
      InvalidHeaderName), 400),
)
# The search page's error, for requests that never reach the app (no
# template can be rendered there).
ERROR_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>エラー {status} - ニュース検索</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>リクエストを処理できませんでした（{status}）</h1><p>{message}</p>
<p><a href="/">検索ページへ戻る</a></p></main></body></html>
"""
LONG_URL_MESSAGE = ("URL が長すぎます。検索語は 500 文字以内にしてください"
                    "（長い条件は絞り込みを減らしてください）。")


def percent_encode_non_ascii(target):
    """The request target with every byte outside ASCII percent-encoded."""
    return _NON_ASCII.sub(lambda m: b"%%%02X" % m[0][0], target)


class Request(message.Request):
    """gunicorn's request, with a longer request line allowed and raw UTF-8
    in the request target percent-encoded before it is checked."""

    def parse(self, unreader):
        self.limit_request_line = REQUEST_LINE_LIMIT
        try:
            return super().parse(unreader)
        except Exception as e:  # a refusal after the request line (its headers): say whose
            if getattr(e, "line_start", None) is None:
                e.line_start = getattr(self, "line_start", None)
            raise

    # A refused request line's start is kept on the error: it says whether
    # the request was for the API (JSON) or a page (HTML).
    def read_line(self, unreader, buf, limit=0):
        try:
            return super().read_line(unreader, buf, limit)
        except LimitRequestLine as e:
            e.line_start = bytes(buf[:64])
            raise

    def parse_request_line(self, line_bytes):
        self.line_start = bytes(line_bytes[:64])
        method, space, rest = bytes(line_bytes).partition(b" ")
        target, space2, version = rest.rpartition(b" ")
        if space and space2:
            line_bytes = method + b" " + percent_encode_non_ascii(target) + b" " + version
        try:
            return super().parse_request_line(line_bytes)
        except (InvalidRequestLine, InvalidRequestMethod, InvalidHTTPVersion) as e:
            e.line_start = bytes(line_bytes[:64])
            raise


def _is_api(line_start, req):
    """Whether a refused request was for the API (answered in JSON), from
    its request line's start, or the request when it was parsed."""
    if line_start:
        target = (line_start.split(b" ") + [b""])[1]
        path = target.split(b"?")[0].decode("latin-1")
    else:
        path = getattr(req, "path", "") or ""
    return is_api_path(path)


# glibc gives each new thread a malloc arena of its own (up to 8 a core),
# and an arena keeps what it freed: a query's arrays of the index's size
# freed in the warm-up thread's arena and in each request thread's stay
# resident, each arena at its own high-water mark. Two arenas for the
# worker's threads: x40 server RSS 899 -> 838 MB, the same latency.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter (malloc.h)


def limit_malloc_arenas(arenas=MALLOC_ARENAS):
    """Cap this process's malloc arenas, for the threads it starts from
    now on; True if the C library took it (glibc), False elsewhere."""
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


class Worker(ThreadWorker):
    """gunicorn's threaded worker, parsing requests with Request and answering
    the requests gunicorn refuses like the app answers its errors."""

    def init_process(self):
        # The threaded worker makes its parsers through gunicorn.http's
        # get_parser; the parser's message class is its extension point.
        parser.RequestParser.mesg_class = Request
        limit_malloc_arenas()
        self.housekeeper = Housekeeper(log=self.log)
        self.housekeeper.start()
        super().init_process()

    def handle_request(self, req, conn):
        keep_alive = super().handle_request(req, conn)
        self.housekeeper.request_done()
        return keep_alive

    def handle_error(self, req, client, addr, exc):
        status = next((s for kinds, s in REFUSED if isinstance(exc, kinds)), None)
        if status is None:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        code, text = HTTP_ERRORS[status]
        if status == 414:
            text = LONG_URL_MESSAGE
        if _is_api(getattr(exc, "line_start", None), req):
            body, kind = orjson.dumps(error_body(code, text)), "application/json"
        else:
            body, kind = ERROR_PAGE.format(status=status, message=escape(text)).encode(), "text/html"
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Connection: close",
                f"Content-Type: {kind}; charset=utf-8", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in SECURITY_HEADERS.items()]
        try:
            write_nonblock(client, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        except OSError:
            pass  # the client is gone


def release_memory():
    """What a worker's RSS holds that it can drop without losing anything:
    the dictionary file's pages its tokenizing mapped (they stay in the page
    cache) and the freed memory glibc keeps for later mallocs."""
    analysis.release_dictionary_pages()
    memory.trim_malloc()


# How often a worker releases memory, in requests. A worker maps the
# dictionary pages each query's words touch and never unmaps them: at x40
# after the query benchmark ~100 MB of system.dic per worker, of which ~45
# were mapped when it started; and glibc keeps the peak of a query's freed
# arrays. In process, releasing every 64 searches kept the mapping at
# ~41-44 MB (never: 86-92) with p50/p95 within noise; every 8: 14 MB, at a
# small cost; after every search: +2 ms p50.
HOUSEKEEPING_REQUESTS = 64


class Housekeeper:
    """Runs ``release`` after every ``every`` requests, in a thread of its
    own: no response waits for it (a request thread would hold its
    keep-alive connection while releasing), and madvise and malloc_trim run
    without the GIL while the request threads go on."""

    def __init__(self, every=HOUSEKEEPING_REQUESTS, release=release_memory, log=None):
        self.every = every
        self.release = release
        self.log = log
        self._served = itertools.count(1)  # next() is atomic under the GIL
        self._due = threading.Event()

    def start(self):
        threading.Thread(target=self._run, name="housekeeper", daemon=True).start()
        return self

    def request_done(self):
        if next(self._served) % self.every == 0:
            self._due.set()

    def _run(self):
        while True:
            self._due.wait()
            self._due.clear()
            try:
                self.release()
            except Exception:  # housekeeping must never stop a worker: say so, go on
                if self.log is not None:
                    self.log.exception("memory housekeeping failed")
