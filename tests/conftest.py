"""Shared fixtures: each test session builds its own index in a temp folder
from the real seed dump (read from ../shared, never copied into the repo)
plus the project's sample dumps."""

import shutil
from pathlib import Path

import pytest

from search.ingest import reindex as indexer

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed" / "000_0d03cf4c130cef51.txt"
SAMPLES = ROOT / "dumps"


@pytest.fixture(scope="session")
def seed_path():
    if not SEED.exists():
        pytest.fail(f"the seed dump is missing: {SEED}")
    return SEED


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, seed_path):
    """An index of the seed dump alone (21 items)."""
    dumps = tmp_path_factory.mktemp("seed-dumps")
    shutil.copy(seed_path, dumps / seed_path.name)
    index_dir = tmp_path_factory.mktemp("seed-index")
    summary = indexer.reindex(str(dumps), str(index_dir))
    assert summary.added == 21 and not summary.skipped
    return str(index_dir)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, seed_path):
    """An index of the seed and the sample dumps together."""
    dumps = tmp_path_factory.mktemp("all-dumps")
    shutil.copy(seed_path, dumps / seed_path.name)
    for path in SAMPLES.glob("*.txt"):
        shutil.copy(path, dumps / path.name)
    index_dir = tmp_path_factory.mktemp("all-index")
    summary = indexer.reindex(str(dumps), str(index_dir))
    assert not summary.skipped
    return str(index_dir)


@pytest.fixture(scope="session")
def service(seed_index):
    from search.query import SearchService

    return SearchService(seed_index)


@pytest.fixture
def app(seed_index):
    from web import create_app

    return create_app({"INDEX_DIR": seed_index, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()
