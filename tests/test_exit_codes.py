"""Exit codes that cannot lie (issue 12): internal errors are 70, interrupts 130/143, and
``batch --out`` is atomic (a partial file never looks complete)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecscreen.cli.main import main
from ecscreen.errors import EXIT_CODES, EXIT_INTERNAL

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
PACKS = [ROOT / "rules" / "us-ear" / n for n in ("country-groups.yaml", "embargoes.yaml", "advanced-computing.yaml")]
RULES = [a for p in PACKS for a in ("--rules-only", str(p))]


def _shipment(tmp_path: Path) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text("destination: DE\ndate: 2024-06-01\nitems:\n  - description: Widget\n    eccn: EAR99\n")
    return p


def test_unexpected_exception_is_exit_70_one_line_not_1(tmp_path, monkeypatch, capsys):
    from ecscreen.engine import core as engine

    def boom(*a, **k):
        raise RuntimeError("simulated bug\nsecond line")

    monkeypatch.setattr(engine.Engine, "build", classmethod(lambda cls, *a, **k: boom()))
    assert main(["check", str(_shipment(tmp_path)), "--no-lists"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error" in err and "RuntimeError: simulated bug second line" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_debug_prints_the_traceback(tmp_path, monkeypatch, capsys):
    from ecscreen.engine import core as engine

    monkeypatch.setattr(engine.Engine, "build", classmethod(lambda cls, *a, **k: 1 / 0))
    assert main(["check", "--debug", str(_shipment(tmp_path)), "--no-lists"]) == EXIT_INTERNAL
    assert "Traceback" in capsys.readouterr().err
    assert main(["--debug", "check", str(_shipment(tmp_path)), "--no-lists"]) == EXIT_INTERNAL


def test_eoferror_from_a_truncated_file_is_not_aborted_exit_1(tmp_path, monkeypatch, capsys):
    """typer turns EOFError (e.g. a truncated gzip) into 'Aborted!' with exit 1 ("flagged")."""
    from ecscreen.engine import core as engine

    def eof(*a, **k):
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(engine.Engine, "build", classmethod(lambda cls, *a, **k: eof()))
    assert main(["check", str(_shipment(tmp_path)), "--no-lists"]) == EXIT_INTERNAL
    assert "EOFError" in capsys.readouterr().err


def test_known_exit_codes_unchanged(tmp_path):
    assert main(["check", str(_shipment(tmp_path)), "--no-lists", *RULES]) == 0
    assert main(["check", "--bogus"]) == 2
    assert main(["--version"]) == 0
    assert set(EXIT_CODES) == {0, 1, 2, 3, 4, 70, 130, 141, 143}


def _big_orders(path: Path, n: int) -> None:
    with path.open("w") as fh:
        fh.write("order_id,date,destination,description,eccn,quantity\n")
        for i in range(n):  # distinct quantities: every row is a new shipment (no memo), so the run is slow
            fh.write(f"{i},2024-06-01,DE,Widget {i % 97},EAR99,{i}\n")


@pytest.mark.parametrize("sig,code,jobs", [(signal.SIGINT, 130, 1), (signal.SIGTERM, 143, 1), (signal.SIGINT, 130, 2)])
def test_interrupted_batch_removes_partial_out_and_says_so(tmp_path, sig, code, jobs):
    src = tmp_path / "orders.csv"
    _big_orders(src, 200_000)
    dest = tmp_path / "screened.csv"
    dest.write_text("previous complete result\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.Popen([sys.executable, "-m", "ecscreen.cli", "batch", str(src), "--out", str(dest),
                          "--no-lists", "--no-progress", "--jobs", str(jobs), *RULES], stderr=subprocess.PIPE, env=env,
                         cwd=tmp_path, start_new_session=True)
    partial: list[Path] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        partial = [f for f in tmp_path.iterdir() if f.name.startswith(".screened.csv.") and f.stat().st_size > 0]
        if partial:
            break
        time.sleep(0.05)
    assert partial and p.poll() is None, "the run ended before it could be interrupted"
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    msg = err.decode()
    assert p.returncode == code, msg
    assert dest.read_text() == "previous complete result\n"  # untouched
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".screened.csv.")]  # partial removed
    lines = [x for x in msg.splitlines() if x.strip() and not x.startswith("note: ")]  # --rules-only note
    assert len(lines) == 1 and "interrupted by" in lines[0] and "row(s) had been written to" in lines[0]
    assert "Traceback" not in msg
    # no worker left behind (with --jobs the pool must not restart workers after the interrupt)
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-s", str(p.pid)], capture_output=True, text=True).stdout.split()
    assert not left, left


def test_completed_batch_out_is_renamed_into_place(tmp_path):
    src = tmp_path / "orders.csv"
    _big_orders(src, 10)
    dest = tmp_path / "screened.csv"
    assert main(["batch", str(src), "--out", str(dest), "--no-lists", "--no-progress", *RULES]) == 0
    assert len(dest.read_text().splitlines()) == 11
    assert [f.name for f in tmp_path.iterdir()] != [] and not list(tmp_path.glob(".screened.csv.*"))
    mask = os.umask(0)
    os.umask(mask)
    assert dest.stat().st_mode & 0o777 == 0o666 & ~mask


def test_closed_output_pipe_is_141_not_1_flagged(tmp_path):
    """typer maps EPIPE to exit 1, which means "flagged": `ecscreen batch ... | head -1` must not."""
    src = tmp_path / "orders.csv"
    _big_orders(src, 20_000)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.Popen([sys.executable, "-m", "ecscreen.cli", "batch", str(src), "--no-lists", "--no-progress",
                          *RULES], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert p.stdout is not None
    p.stdout.readline()
    p.stdout.close()  # the reader goes away
    _, err = p.communicate(timeout=120)
    assert p.returncode == 141, err.decode()
    assert "Traceback" not in err.decode()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_batch_out_to_a_fifo_writes_in_place_and_keeps_the_node(tmp_path):
    """Regression: ``batch -o /dev/null`` (as root) renamed the finished temporary file onto /dev/null and
    replaced the device with a plain file; every non-regular output (device, FIFO) is now written in place."""
    import threading

    orders = tmp_path / "o.csv"
    orders.write_text("order_id,date,destination,description,eccn\n1,2024-06-01,DE,Widget,EAR99\n")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    code = main(["batch", str(orders), "--no-lists", "--no-record", "-o", str(fifo), *RULES])
    reader.join(timeout=30)
    assert code == 0
    assert fifo.exists() and not fifo.is_file()  # still a named pipe, not replaced by a regular file
    assert "order_id" in got[0] and "clear" in got[0]
    assert not list(tmp_path.glob(".pipe.*")) and not (tmp_path / "pipe.meta.json").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_batch_meta_to_a_fifo_is_written_in_place_too(tmp_path):
    """The sidecar goes through the same atomic output as the rows: ``--meta`` naming a FIFO keeps the node."""
    import threading

    orders = tmp_path / "o.csv"
    orders.write_text("order_id,date,destination,description,eccn\n1,2024-06-01,DE,Widget,EAR99\n")
    fifo = tmp_path / "meta"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    code = main(["batch", str(orders), "--no-lists", "--no-record", "-o", str(tmp_path / "rows.csv"),
                 "--meta", str(fifo), *RULES])
    reader.join(timeout=30)
    assert code == 0
    assert fifo.exists() and not fifo.is_file()
    assert '"exit_code": 0' in got[0] and (tmp_path / "rows.csv").is_file()
