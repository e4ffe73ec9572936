"""Shared fixtures.

The behaviour tests run on the project's own test dumps (tests/data, see
its README.md), indexed in temp folders by ``make_index``. A few tests need
the read-only material kept beside the repository in ../shared (the real
seed dump, the evaluation corpora); ``shared_file`` gives them its path, or
skips them, naming the missing file, when the clone stands alone."""

import hashlib
import shutil
from pathlib import Path

import pytest

from search.ingest import reindex as indexer

from helpers import NEWS_DUMPS

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED = "seed/000_0d03cf4c130cef51.txt"


def _shared_file(relative_path):
    path = SHARED / relative_path
    if not path.exists():
        pytest.skip(f"needs ../shared/{relative_path} (not present beside this clone)")
    return path


@pytest.fixture(scope="session")
def shared_file():
    """shared_file("eval/news/articles.jsonl"): the path of a file of
    ../shared; the test is skipped, with a reason naming the file, when it is
    not there."""
    return _shared_file


@pytest.fixture(scope="session")
def make_index(tmp_path_factory):
    """make_index(dumps, **options): copies the dump files (paths; their names
    are kept) into a temp folder's dumps/, runs
    ``reindex(dumps_dir, index_dir, **options)`` into its index/ and returns
    the index directory (a str). A dump file that reindex skips fails the
    build.

    Builds of the same files (same names, same bytes) with the same options
    are made once a session and shared: use them read-only. A test that
    changes the dumps or the index passes ``into=tmp_path``: the build is its
    own, in tmp_path/dumps and tmp_path/index."""
    built = {}

    def make(dumps, into=None, **options):
        dumps = [Path(p) for p in dumps]
        names = [p.name for p in dumps]
        assert len(set(names)) == len(names), f"two dumps with one name: {names}"
        key = (tuple((p.name, hashlib.sha1(p.read_bytes()).hexdigest()) for p in dumps),
               tuple(sorted((k, repr(v)) for k, v in options.items())))
        if into is None and key in built:
            return built[key]
        folder = Path(into) if into is not None else tmp_path_factory.mktemp("index")
        dumps_dir = folder / "dumps"
        dumps_dir.mkdir(parents=True, exist_ok=True)
        for path in dumps:
            shutil.copy(path, dumps_dir / path.name)
        index_dir = str(folder / "index")
        summary = indexer.reindex(str(dumps_dir), index_dir, **options)
        assert not summary.skipped, summary.skipped
        if into is None:
            built[key] = index_dir
        return index_dir

    return make


@pytest.fixture(scope="session")
def data_index(make_index):
    """An index of the three news dumps of tests/data (helpers.NEWS_ITEMS items)."""
    return make_index(NEWS_DUMPS)


@pytest.fixture(scope="session")
def service(data_index):
    from search.query import SearchService

    return SearchService(data_index)


@pytest.fixture
def app(data_index):
    from web import create_app

    return create_app({"INDEX_DIR": data_index, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


# ------------------------------------------- the real seed dump, in ../shared

@pytest.fixture(scope="session")
def seed_path(shared_file):
    """The real seed dump (21 items); skips the test when it is not there."""
    return shared_file(SEED)


@pytest.fixture(scope="session")
def seed_index(make_index, seed_path):
    return make_index([seed_path])


@pytest.fixture(scope="session")
def seed_service(seed_index):
    from search.query import SearchService

    return SearchService(seed_index)


@pytest.fixture(scope="session")
def sample_index(make_index):
    """An index of the sample dumps in dumps/ (36 items), which `make run`
    indexes and the docs' examples use."""
    return make_index(sorted((ROOT / "dumps").glob("*.txt")))
