"""Golden outputs: every example in every output format, byte for byte (volatile fields normalised).

They pin what users see (tables, JSON, CSV, SARIF, JUnit, markdown) so that refactorings (moving modules into
layers, splitting large functions) can be shown to change nothing. After an intended change of output,
regenerate with ``ECSCREEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecscreen import __version__
from ecscreen.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
EX = Path("examples")  # relative: the tests run in ROOT, so no clone's path changes a table's line wrapping
AS_OF = ["--as-of", "2026-10-01"]

SHIPMENTS = sorted(p.relative_to(ROOT / EX).as_posix() for p in (ROOT / EX).glob("**/*.yaml")
                   if p.name != "expected.yaml" and "ci" not in p.parts)
CASES: list[tuple[str, list[str]]] = []
for rel in SHIPMENTS:
    stem = rel.replace("/", "__").removesuffix(".yaml")
    for fmt in ("table", "json", "sarif", "junit"):
        CASES.append((f"check__{stem}.{fmt}", ["check", str(EX / rel), "-f", fmt, *AS_OF]))
    CASES.append((f"check__{stem}.explain", ["check", str(EX / rel), "--explain", *AS_OF]))
for fmt in ("csv", "jsonl", "json"):
    CASES.append((f"batch__orders.{fmt}", ["batch", str(EX / "orders" / "orders.csv"), "-f", fmt, "--no-progress",
                                           *AS_OF]))
for cat in ("catalog-failing", "catalog-passing"):
    for fmt in ("table", "json", "sarif", "junit", "markdown"):
        CASES.append((f"gate__{cat}.{fmt}", ["gate", str(EX / "ci" / f"{cat}.yaml"), "-f", fmt, "--waivers",
                                             str(EX / "ci" / ".ecscreen-waivers.yaml"), *AS_OF]))

_VOLATILE = [
    (re.compile(r"\d+ days before \d{4}-\d{2}-\d{2}"), "<N> days before <TODAY>"),
    (re.compile(r'"age_days": \d+'), '"age_days": <N>'),
    (re.compile(r'"tool_version": "[^"]*"'), '"tool_version": "<VERSION>"'),
    (re.compile(r'"version": "' + re.escape(__version__) + '"'), '"version": "<VERSION>"'),
]


def _normalise(text: str) -> str:
    text = text.replace(str(ROOT), "<ROOT>")
    for rx, repl in _VOLATILE:
        text = rx.sub(repl, text)
    return text


@pytest.mark.parametrize(("name", "args"), CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    r = CliRunner().invoke(app, args, env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
    got = _normalise(r.stdout) + f"\n--- exit {r.exit_code}\n"
    path = GOLDEN / name
    if os.environ.get("ECSCREEN_UPDATE_GOLDEN") == "1":
        path.write_text(got, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path.name}: run with ECSCREEN_UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8"), f"{name} differs from its golden output"
