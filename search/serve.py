"""Serve the web app with gunicorn: worker processes for both cores, threads
within each, every thread with its own Whoosh searcher (opened lazily, so
after the fork), all inheriting the Sudachi dictionary the master loads.

The app and its worker class are named by their import strings rather than
imported here, so that the library (`search/`) does not depend on the web
layer (`web/`).
"""

import os

APP = "web:create_app()"
WORKER = "web.server.Worker"


# Two threads a worker: the work is CPU-bound under the GIL, and each thread
# keeps its own searcher (x4, 8 clients: RSS 393 MB with four, 371 with two,
# the same latency).
def serve(index_dir, host="127.0.0.1", port=8000, workers=2, threads=2):
    from gunicorn.app.base import BaseApplication

    os.environ["SEARCH_INDEX"] = os.path.abspath(index_dir)

    class Server(BaseApplication):
        def load_config(self):
            settings = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                # gthread, taking the request lines people's tools send and
                # answering what it refuses in the API's error shape.
                "worker_class": WORKER,
                # The Python parser: web.server.Request extends it (the
                # optional C parser would bypass that).
                "http_parser": "python",
                "timeout": 60,
                "graceful_timeout": 5,
                "accesslog": "-",
                "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
                # No control socket in ~/.gunicorn: several servers (tests,
                # benchmarks) may run at once, and nothing here uses it.
                "control_socket_disable": True,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            from gunicorn.util import import_app

            return import_app(APP)

    # Sudachi's dictionary is loaded here, before gunicorn forks: the
    # workers inherit what Sudachi built from it. The file pages loading
    # read are not inherited (each worker maps those its tokenizing
    # touches), so the master drops them: ~75 MB less RSS (x4: 405 → 327 MB).
    from . import analysis, userdict

    # With the user dictionary the index was built with (a later reindex
    # with another is followed by each worker: search/query/service.py).
    analysis.use_user_dictionary(userdict.serving(index_dir))
    analysis.load()
    analysis.release_dictionary_pages()
    print(f"serving {index_dir} on http://{host}:{port}/ ({workers} workers × {threads} threads)",
          flush=True)
    Server().run()
    return 0
