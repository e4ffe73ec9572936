"""Japanese full-text search over daily dumps of news posts.

The stages of the data flow are sub-packages: ``ingest`` (dump files →
documents), ``analysis`` (Japanese text → terms), ``index`` (the index on
disk), ``query`` (a typed request → ranked hits with match spans); ``render``
and ``terminal`` turn spans into HTML and terminal colours; ``cli`` and
``serve`` are the command line and the server.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# Indexes pickle a few classes by module path: the posting format with the
# schema, the codec with every segment. These modules moved into
# search.index; their old paths keep naming them, so an index written before
# the move opens as it is (its next reindex pickles the new paths).
MOVED_MODULES = {
    "search.codec": "search.index.codec",
    "search.formats": "search.index.formats",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name in MOVED_MODULES:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(MOVED_MODULES[spec.name])

    def exec_module(self, module):
        pass  # already executed under its new name


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())
