"""What ``ecscreen check`` imports and builds (issue 10 item 5, start-up latency): only the app's global options
and the ``check`` command (the other commands' modules are mounted when another command, --help or shell
completion is asked for); no review/rescreen runners unless the record store holds review decisions; no
SQLAlchemy for an existing SQLite store (tests/test_records_fastwriter.py). Output and exit codes unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecscreen.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"

PROBE = """
import json, sys
from ecscreen.cli.main import main
rc = main(sys.argv[1:])
mods = sorted(m for m in sys.modules if m.startswith(("ecscreen.cli.", "ecscreen.runners.", "sqlalchemy")))
sys.stderr.write("MODULES=" + json.dumps([m for m in mods if m.count(".") <= 2]) + "\\n")
sys.exit(rc)
"""


def _probe(home: Path, *args: str) -> tuple[int, str, list[str]]:
    env = {**os.environ, "ECSCREEN_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    env.pop("ECSCREEN_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES="))
    return done.returncode, done.stdout, json.loads(line.split("=", 1)[1])


def test_check_builds_only_the_check_command(tmp_path: Path) -> None:
    code, out, mods = _probe(tmp_path / "home", "-q", "check", str(EX / "gpu-to-china.yaml"), "--no-lists",
                             "--format", "json")
    assert code == 1 and json.loads(out)["results"][0]["decision"] == "license_required"
    assert "ecscreen.cli.batch" not in mods and "ecscreen.cli.serve" not in mods and "ecscreen.cli.lists" not in mods
    assert "ecscreen.runners.review" not in mods and "ecscreen.runners.rescreen" not in mods  # no decisions stored
    # the first check created the store (RecordStore: migration); the next records through the stdlib driver
    code, _, mods = _probe(tmp_path / "home", "check", str(EX / "gpu-to-china.yaml"), "--no-lists")
    assert code == 1 and not [m for m in mods if m.startswith("sqlalchemy")]


def test_help_and_other_commands_still_see_every_command(tmp_path: Path) -> None:
    code, out, mods = _probe(tmp_path / "home", "--help")
    assert code == 0 and "batch" in out and "rescreen" in out and "ecscreen.cli.batch" in mods
    code, out, _ = _probe(tmp_path / "home", "check", "--help")
    assert code == 0 and "--no-record" in out
    code, _, mods = _probe(tmp_path / "home", "rules", "list")
    assert code == 0 and "ecscreen.cli.batch" in mods


def test_the_app_attribute_is_the_whole_app() -> None:
    import typer

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in cli_main.app.registered_commands}
    assert {"check", "batch", "gate", "history", "serve"} <= names
    light = cli_main._app_for(["-q", "check", "x.yaml"])
    assert [c.callback.__name__ for c in light.registered_commands if c.callback] == ["check"]
    assert light is not cli_main.app and isinstance(light, typer.Typer)
    for args in (["check", "--help"], ["check", "-h"], ["batch", "x.csv"], ["--install-completion"], []):
        assert cli_main._app_for(args) is cli_main.app


def test_shell_completion_gets_the_whole_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_ECSCREEN_COMPLETE", "complete_bash")
    assert cli_main._app_for(["check", "x"]) is cli_main.app
