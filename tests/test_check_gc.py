"""``check`` of a few shipments runs without cyclic-GC passes, and leaves the collector as it found it (issue 10).

Its start-up was already made with the collector paused; a check of up to ``GC_PAUSED_SHIPMENTS`` shipments now
also screens, records and prints them with it paused (~25 passes that freed nothing, ~6 ms CPU of a one-shipment
check), and resumes it afterwards. A larger input is screened with collection on, as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import ecscreen.engine.context as context_mod
from ecscreen.cli import main as cli

SHIPMENT = {"id": "GC-1", "date": "2026-10-01", "destination": "DE",
            "items": [{"description": "Office chair", "eccn": "EAR99", "origin": "US"}]}


@pytest.fixture
def passes() -> Iterator[list[int]]:
    """The generations of the cyclic-GC passes made while the test runs."""
    seen: list[int] = []

    def cb(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(cb)
    try:
        yield seen
    finally:
        gc.callbacks.remove(cb)


def _screening_gc_state(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    states: list[bool] = []
    real = context_mod.screen_report

    def spy(*a: Any, **k: Any) -> Any:
        states.append(gc.isenabled())
        return real(*a, **k)

    monkeypatch.setattr(context_mod, "screen_report", spy)
    return states


def test_one_shipment_check_makes_no_gc_pass_and_restores_the_collector(
        tmp_path: Path, home: Path, passes: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "one.yaml"
    f.write_text(yaml.safe_dump(SHIPMENT), encoding="utf-8")
    assert cli.main(["check", str(f), "--no-lists", "--format", "json"]) == 0  # warm-up: caches, imports
    states = _screening_gc_state(monkeypatch)
    assert gc.isenabled()
    passes.clear()
    assert cli.main(["check", str(f), "--no-lists", "--format", "json"]) == 0
    assert states == [False]  # screened with the collector paused
    assert passes == []  # no pass from start-up to the end of the output
    assert gc.isenabled()  # and resumed for the caller
    gc.disable()
    try:  # a caller that had it off keeps it off
        assert cli.main(["check", str(f), "--no-lists", "--format", "json"]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_many_shipments_are_screened_with_the_collector_on(
        tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    many = [dict(SHIPMENT, id=f"GC-{i}") for i in range(cli.GC_PAUSED_SHIPMENTS + 1)]
    f = tmp_path / "many.yaml"
    f.write_text(yaml.safe_dump(many), encoding="utf-8")
    states = _screening_gc_state(monkeypatch)
    assert cli.main(["check", str(f), "--no-lists", "--no-record", "--format", "json"]) == 0
    assert states == [True] and gc.isenabled()
