from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ecscreen.engine import Engine
from ecscreen.models import Shipment
from ecscreen.packs import load_registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def registry():
    return load_registry()


@pytest.fixture(scope="session")
def engine(registry):
    """The shipped packs, without restricted-party lists (fast, list-independent)."""
    return Engine.build(registry, use_lists=False)


@pytest.fixture(scope="session")
def full_engine(registry):
    return Engine.build(registry, use_lists=True)


def ship(destination: str = "CN", date: str | dt.date = "2024-06-01", **kw: Any) -> Shipment:
    items = kw.pop("items", None) or [{"description": "Widget", "eccn": "EAR99", "origin": "US"}]
    return Shipment.model_validate({"destination": destination, "date": date, "items": items, **kw})
