from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from ecscreen.engine.core import Engine
from ecscreen.model import Shipment
from ecscreen.packs.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]


_SESSION_DIRS: list[Path] = []  # the session's temporary caches and homes (removed by pytest_unconfigure)


def pytest_configure(config: pytest.Config) -> None:
    """Tests never read or write the user's real caches, list store or clearances."""
    import os
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="ecscreen-tests-"))
    _SESSION_DIRS.append(base)
    os.environ["ECSCREEN_CACHE_DIR"] = str(base / "cache")
    os.environ["ECSCREEN_HOME"] = str(base / "home")
    os.environ.pop("ECSCREEN_CLEARANCES", None)
    os.environ.pop("ECSCREEN_DATABASE_URL", None)  # records go to the temporary home's records.db


def pytest_unconfigure(config: pytest.Config) -> None:
    """The session's temporary caches and homes go with it (~200 MB a run: the party index caches)."""
    import shutil

    while _SESSION_DIRS:
        shutil.rmtree(_SESSION_DIRS.pop(), ignore_errors=True)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$ECSCREEN_HOME`` (record store, list store) for one test, SQLite records (a module may
    override it, e.g. to refresh the list store or clear ``$ECSCREEN_CLEARANCES`` as well)."""
    h = tmp_path / "home"
    monkeypatch.setenv("ECSCREEN_HOME", str(h))
    monkeypatch.delenv("ECSCREEN_DATABASE_URL", raising=False)
    return h


@pytest.fixture(scope="session")
def registry():
    return load_registry()


@pytest.fixture(scope="session")
def engine(registry):
    """The shipped packs, without restricted-party lists (fast, list-independent)."""
    return Engine.build(registry, use_lists=False, today=dt.date.today())


@pytest.fixture(scope="session")
def full_engine(registry):
    return Engine.build(registry, use_lists=True, today=dt.date.today())


def ship(destination: str = "CN", date: str | dt.date = "2024-06-01", **kw: Any) -> Shipment:
    items = kw.pop("items", None) or [{"description": "Widget", "eccn": "EAR99", "origin": "US"}]
    return Shipment.model_validate({"destination": destination, "date": date, "items": items, **kw})


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for the session (tests/pgserver.py); the tests using it are skipped,
    with the reason, when no server can be started (``.ci/run`` installs one)."""
    import pgserver

    server, why = pgserver.start()
    if server is None:
        if os.environ.get("ECSCREEN_TEST_POSTGRES") == "required":  # .ci/run: these tests must run
            pytest.fail(f"PostgreSQL required (ECSCREEN_TEST_POSTGRES=required) but: {why}")
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    yield server
    server.stop()
