"""The web layer: a JSON API under /api and server-rendered HTML pages.

``create_app(config)`` builds the Flask app. Config keys:

- ``INDEX_DIR``: the index directory (default: env ``SEARCH_INDEX`` or ``index``);
- ``TESTING``: Flask's testing flag (also skips the warm-up search);
- ``REFRESH_SECONDS``: how often a thread looks for a newer index (default 1).

One ``SearchService`` serves the whole app (it keeps one Whoosh searcher per
thread). Parsing, validation, analysis and ranking all stay in ``search/``:
the web layer builds the typed request with ``search.query.parse_request``,
renders the engine's answer (``search.render``) and picks the HTTP status.
"""

import os
import threading

from flask import Flask

from search.query import SearchService, parse_request

# Sent on every response (pages, API, static files and errors alike).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
WARM_UP_QUERY = "日本"


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(INDEX_DIR=os.environ.get("SEARCH_INDEX") or "index", TESTING=False,
                      REFRESH_SECONDS=1.0)
    app.config.update(config or {})
    app.json.ensure_ascii = False

    service = SearchService(app.config["INDEX_DIR"],
                            refresh_seconds=app.config["REFRESH_SECONDS"])
    app.extensions["search"] = service

    from . import api, errors, feeds, pages

    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(pages.bp)
    app.register_blueprint(feeds.bp)
    errors.init_app(app)

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        return response

    if not app.config["TESTING"]:
        threading.Thread(target=_warm_up, args=(service,), name="search-warm-up",
                         daemon=True).start()
    return app


def _warm_up(service):
    """One search in the background, so the first user does not wait for
    Sudachi's dictionary and the index to load."""
    try:
        service.search(parse_request({"q": WARM_UP_QUERY}))
    except Exception:  # no index yet, or anything else: the first request will tell
        pass
