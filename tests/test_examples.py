"""Every example shipment in examples/ is run through the CLI with its expected decision and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ecscreen.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _expected() -> list[tuple[Path, dict]]:
    out = []
    for exp in sorted(EXAMPLES.rglob("expected.yaml")):
        data = yaml.safe_load(exp.read_text("utf-8"))
        for name, want in data.items():
            out.append((exp.parent / name, want))
    return out


CASES = _expected()


def _shipment_files() -> set[Path]:
    files = set()
    for p in EXAMPLES.rglob("*.yaml"):
        if p.name == "expected.yaml" or "ci" in p.relative_to(EXAMPLES).parts:
            continue
        text = p.read_text("utf-8")
        if "destination" in text and "items" in text:
            files.add(p)
    return files


def test_every_example_has_an_expectation():
    listed = {p for p, _ in CASES}
    assert _shipment_files() <= listed, f"examples without expectations: {sorted(_shipment_files() - listed)}"


@pytest.mark.parametrize("path,want", CASES, ids=[str(p.relative_to(EXAMPLES)) for p, _ in CASES])
def test_example(path, want):
    assert path.exists(), path
    res = CliRunner().invoke(app, ["check", str(path), "--format", "json"])
    assert res.exit_code == want["exit_code"], res.output
    report = json.loads(res.stdout)
    assert report["decision"] == want["decision"]
    assert {"decision", "results", "packs"} <= set(report)
    for r in report["results"]:
        assert {"id", "decision", "findings"} <= set(r)
