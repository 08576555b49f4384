import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(scope="session")
def indexed_home(tmp_path_factory):
    """One real index of a copy of the bundled corpus, shared by the slow tests that only read it."""
    from retrieval.config import Settings
    from retrieval.ingest import ingest

    base = tmp_path_factory.mktemp("indexed")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    home = base / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("NEWSDESK_HOME", str(home))
    settings = Settings.from_env()
    ingest([corpus], settings)
    yield settings, corpus
    mp.undo()


@pytest.fixture(scope="session")
def pipeline(indexed_home):
    from retrieval.pipeline import Pipeline

    settings, _ = indexed_home
    return Pipeline(settings)
