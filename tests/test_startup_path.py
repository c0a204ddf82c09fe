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


def test_party_list_packs_are_listed_from_the_registry_as_read_from_their_files(tmp_path: Path) -> None:
    """lists_for makes a party-list pack's list from the registry's validated document (no second read and
    validation of the file): the same list as reading the file, shipped packs and a --rules one alike."""
    from ecscreen.engine.context import lists_for
    from ecscreen.engine.snapshot import load_registry_snapshot
    from ecscreen.parties.store import read_list

    own = tmp_path / "mine.yaml"
    own.write_text("kind: party_list\nname: My list\nsource_code: CUSTOM\nentries:\n"
                   "  - {id: m1, name: Acme Rocket Works, aliases: [ARW], countries: [IR]}\n", encoding="utf-8")
    cache = tmp_path / "cache"
    load_registry_snapshot([own], extend=True, cache_dir=cache)
    reg = load_registry_snapshot([own], extend=True, cache_dir=cache)  # warm: from the snapshot
    packs = reg.of_kind("party_list")
    assert any(str(lp.path).endswith("mine.yaml") for lp in packs) and len(packs) >= 2
    got = lists_for(reg, home=None, cache_dir=None)[-len(packs):]
    for lp, sl in zip(packs, got, strict=True):
        ref = read_list(lp.path)
        assert (sl.info, sl.format, sl.path) == (ref.info, ref.format, ref.path)
        assert [e.model_dump() for e in sl.entries] == [e.model_dump() for e in ref.entries]


def test_cli_runs_numpy_with_one_blas_thread_unless_the_user_says_otherwise() -> None:
    """The command line sets OPENBLAS_NUM_THREADS=1 before numpy loads (ecscreen does no linear algebra; the
    thread start-up cost ~60 ms CPU per check), keeps a user's value, and the Python API leaves it alone."""
    code = "import os, ecscreen.cli; print(os.environ.get('OPENBLAS_NUM_THREADS'))"
    api = "import os, ecscreen; ecscreen.Screener; print(os.environ.get('OPENBLAS_NUM_THREADS'))"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    run = lambda c, e: subprocess.run([sys.executable, "-c", c], env=e, capture_output=True, text=True,  # noqa: E731
                                      check=True).stdout.strip()
    assert run(code, env) == "1"
    assert run(code, {**env, "OPENBLAS_NUM_THREADS": "4"}) == "4"
    assert run(api, env) == "None"
