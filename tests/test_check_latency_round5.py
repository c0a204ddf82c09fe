"""Issue 10 item 5, round 5: ``ecscreen check`` records in a thread while its output is rendered.

The recording's commit and the checkpoint when the store's connection closes wait on the disk (fdatasync, the
GIL released); the rendering of the output fills that wait. What users rely on stays: the output is written
only after every shipment is committed, a failure to record prints no results and exits 2, and the output is
byte for byte what an unrecorded run prints."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

import ecscreen.cli.main as climain
from ecscreen.cli.main import main
from ecscreen.records import RecordStore
from ecscreen.records.rawsqlite import SqliteRecordWriter

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
FILES = [str(EX / "gpu-to-china.yaml"), str(EX / "gpu-to-germany.yaml")]


def _fresh_store(home: Path) -> None:
    RecordStore.open(home=home).close()  # at the head revision: check records through SqliteRecordWriter


@pytest.mark.parametrize("fmt", ["table", "json", "sarif", "junit"])
def test_check_commits_in_the_recorder_thread_before_writing_the_same_output(
        home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    _fresh_store(home)
    assert main(["check", *FILES, "--no-lists", "--no-record", "--format", fmt]) == 1
    unrecorded = capsys.readouterr().out
    events: list[str] = []
    append = SqliteRecordWriter.append_screenings
    write = climain._write_out

    def appended(self: SqliteRecordWriter, recs: object, *, at: object) -> list[int]:
        ids = append(self, recs, at=at)  # type: ignore[arg-type]
        events.append(f"committed in {threading.current_thread().name}")
        return ids

    def written(text: str, format: str) -> None:
        events.append("written")
        write(text, format)

    monkeypatch.setattr(SqliteRecordWriter, "append_screenings", appended)
    monkeypatch.setattr(climain, "_write_out", written)
    assert main(["check", *FILES, "--no-lists", "--format", fmt]) == 1
    got = capsys.readouterr()
    assert events == ["committed in ecscreen-check-recorder", "written"]
    assert got.out == unrecorded
    assert "recorded as record 1-2" in got.err
    assert not any(t.name == "ecscreen-check-recorder" for t in threading.enumerate())  # joined
    s = RecordStore.open(home=home)
    assert [r.subject for r in s.query(newest_first=False)] == ["SHP-GPU-CN", "SHP-GPU-DE"] and s.verify().ok
    s.close()


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_check_prints_no_results_when_the_recorder_thread_fails(
        home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    _fresh_store(home)

    def failing(self: SqliteRecordWriter, recs: object, *, at: object) -> list[int]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(SqliteRecordWriter, "append_screenings", failing)
    assert main(["check", *FILES, "--no-lists", "--format", fmt]) == 2
    got = capsys.readouterr()
    assert got.out == ""
    assert "could not record the screening" in got.err and "disk I/O error" in got.err
    assert "results were not recorded" in got.err
    s = RecordStore.open(home=home)
    assert s.count() == 0
    s.close()


def test_check_records_in_the_callers_thread_on_a_new_store(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store that does not exist yet is created (and migrated) by RecordStore, which records in the caller's
    thread as before: the run prints the same, and the store verifies."""
    assert main(["check", *FILES, "--no-lists"]) == 1
    got = capsys.readouterr()
    assert "recorded as record 1-2" in got.err and "decision: LICENSE_REQUIRED" in got.out
    s = RecordStore.open(home=home)
    assert s.count() == 2 and s.verify().ok
    s.close()


# --------------------------------------------------------------------------- the cyclic GC during start-up

PROBE = """
import gc, sys
starts = []
gc.callbacks.append(lambda phase, info: starts.append(info["generation"]) if phase == "start" else None)
gc.{state}()
import ecscreen
before = len(starts)
import ecscreen.cli.main
print(len(starts) - before, gc.isenabled(), gc.get_freeze_count() > 10000, "typer" in sys.modules)
"""


@pytest.mark.parametrize("state", ["enable", "disable"])
def test_importing_the_cli_pauses_the_gc_for_its_dependencies_and_restores_its_state(state: str) -> None:
    """typer and rich are imported with the cyclic GC paused (its passes over ~10^5 new long-lived objects
    freed nothing: ~40 collections, ~10 ms CPU per command), then frozen; the GC's state is the caller's."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", PROBE.format(state=state)], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    collections, enabled, frozen, typer_loaded = done.stdout.split()
    assert int(collections) <= 5, done.stdout  # was 32 (typer and rich imported with the GC running)
    assert enabled == str(state == "enable") and frozen == "True" and typer_loaded == "True"


def test_check_resumes_the_gc_it_paused_for_parsing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    assert gc.isenabled()
    assert main(["check", *FILES, "--no-lists", "--no-record"]) == 1
    assert gc.isenabled() and climain._GC_PAUSED == [False]
    assert main(["check", *FILES, "--format", "yaml"]) == 2  # a usage error inside check
    assert gc.isenabled() and climain._GC_PAUSED == [False]
    assert main(["check", "--no-such-option", *FILES]) == 2  # stopped by the parser, before check ran
    assert gc.isenabled() and climain._GC_PAUSED == [False]
    gc.disable()
    try:
        assert main(["check", *FILES, "--no-lists", "--no-record"]) == 1
        assert not gc.isenabled()  # a caller's disabled GC stays disabled
    finally:
        gc.enable()
    capsys.readouterr()


# --------------------------------------------------------------------------- the program's exit after check

PROGRAM = """
{setup}
from ecscreen.cli.main import run
run()
"""


def _program(home: Path, *args: str, setup: str = "") -> tuple[int, str, str]:
    """Run the program; stderr has "TEARDOWN" when the interpreter tore itself down (``python -v`` prints a
    ``# cleanup``/``# destroy`` line per module it clears then; its import lines are dropped)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "ECSCREEN_HOME": str(home)}
    env.pop("ECSCREEN_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-v", "-c", PROGRAM.format(setup=setup), *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    lines = done.stderr.splitlines()
    err = [x for x in lines if not x.startswith(("#", "import ", "Python ", "Type \"help\""))]
    if any(x.startswith(("# cleanup", "# destroy")) for x in lines):
        err.append("TEARDOWN")
    return done.returncode, done.stdout, "\n".join(err) + "\n"


def test_the_program_ends_at_once_after_check_with_all_output_and_records(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``run()`` ends the process without the interpreter's teardown after ``check`` (~22 ms CPU of freeing
    objects one by one): stdout (buffered JSON) and stderr are complete, the exit code is check's, and the
    records are committed and the store closed."""
    import json

    _fresh_store(home)
    assert main(["check", *FILES, "--no-lists", "--no-record", "--format", "json"]) == 1
    expected = json.loads(capsys.readouterr().out)
    code, out, err = _program(home, "check", *FILES, "--no-lists", "--format", "json")
    assert code == 1, err
    got = json.loads(out)  # the whole document: flushed before the process ended
    assert [r["decision"] for r in got["results"]] == [r["decision"] for r in expected["results"]]
    assert "recorded as record 1-2" in err and "TEARDOWN" not in err
    s = RecordStore.open(home=home)
    assert s.count() == 2 and s.verify().ok
    s.close()
    code, out, err = _program(home, "check", str(EX / "gpu-to-germany.yaml"), "--no-lists", "--no-record")
    assert code == 1 and "decision: REVIEW" in out and "TEARDOWN" not in err  # review: parties not screened


def test_the_program_still_runs_atexit_callbacks_and_waits_for_threads(home: Path) -> None:
    # an atexit callback (a library's, such as logging's, or the caller's) still runs, output and all
    code, out, err = _program(home, "check", str(EX / "gpu-to-germany.yaml"), "--no-lists", "--no-record",
                              setup="import atexit; atexit.register(lambda: print('ATEXIT RAN'))")
    assert code == 1 and out.rstrip().endswith("ATEXIT RAN") and "TEARDOWN" not in err
    # another thread still running: the normal exit waits for it
    code, out, err = _program(home, "check", str(EX / "gpu-to-germany.yaml"), "--no-lists", "--no-record",
                              setup="import threading, time; threading.Thread(target=lambda: (time.sleep(4), "
                                    "print('THREAD DONE'))).start()")
    assert code == 1 and "THREAD DONE" in out and "TEARDOWN" in err
    # other commands exit as before
    code, out, err = _program(home, "--version")
    assert code == 0 and out.startswith("ecscreen ") and "TEARDOWN" in err
    # a usage error of check: its exit code, with the teardown skipped as well
    code, out, err = _program(home, "check", str(EX / "gpu-to-germany.yaml"), "--format", "yaml")
    assert code == 2 and "--format must be" in err and out == ""
