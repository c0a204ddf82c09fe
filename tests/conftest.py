from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ecscreen.engine.core import Engine
from ecscreen.model import Shipment
from ecscreen.packs.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Tests never read or write the user's real caches, list store or clearances."""
    import os
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="ecscreen-tests-"))
    os.environ["ECSCREEN_CACHE_DIR"] = str(base / "cache")
    os.environ["ECSCREEN_HOME"] = str(base / "home")
    os.environ.pop("ECSCREEN_CLEARANCES", None)


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
