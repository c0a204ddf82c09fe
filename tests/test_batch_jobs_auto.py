"""``batch --jobs auto`` (the default, issue 14: a daily 5,000-row export in <= 3 s uses the second core) and the
parent's share of the customers with and without a recorder.

* ``auto``: one process per :data:`AUTO_BYTES` of input (at least 2 x AUTO_BYTES for a second process), at most
  one per CPU this process may run on and :data:`AUTO_MAX_JOBS`; stdin (size unknown) and small files: one;
* ``--jobs 1`` is exactly one process (no fork), ``--jobs 0`` one per CPU, anything else a usage error (exit 2);
* the output never depends on the number of processes (byte-identical, recorded or not).
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path
from typing import Any

import pytest

from ecscreen.cli.main import main
from ecscreen.runners import batch as B


def _orders(n: int) -> str:
    head = "order_id,date,destination,description,eccn,end_user,end_user_country\n"
    return head + "".join(f"O{i // 2},2026-10-{1 + i // 2 % 28:02d},{('CN', 'DE', 'IR', 'RU', 'MO')[i // 2 % 5]},"
                          f"GPU {i % 7},{('3A090.a', 'EAR99', '5A992.c')[i % 3]},Customer {i // 2 % 97} Ltd,DE\n"
                          for i in range(n))


def test_auto_jobs_by_size_cpus_and_cap() -> None:
    kib = B.AUTO_BYTES
    assert B.auto_jobs(None, cpus=8) == 1  # stdin: size unknown
    assert B.auto_jobs(0, cpus=8) == 1
    assert B.auto_jobs(2 * kib - 1, cpus=8) == 1  # a small file: one process
    assert B.auto_jobs(2 * kib, cpus=8) == 2
    assert B.auto_jobs(3 * kib, cpus=2) == 2  # never more than the CPUs
    assert B.auto_jobs(100 * kib, cpus=1) == 1
    assert B.auto_jobs(10**9, cpus=64) == B.AUTO_MAX_JOBS  # memory: each process keeps its own caches
    assert 1 <= B.cpus_available() <= 4096


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of processes each run screened in (1: no fork), on a machine of 2 CPUs where 1 KiB of input
    is worth a process (so the test files stay small)."""
    used: list[int] = []
    real = B._run_parallel

    def watch(orders: Any, engine: Any, options: Any, jobs: int, *a: Any, **kw: Any) -> None:
        used.append(jobs)
        real(orders, engine, options, jobs, *a, **kw)

    monkeypatch.setattr(B, "_run_parallel", watch)
    monkeypatch.setattr(B, "AUTO_BYTES", 1024)
    monkeypatch.setattr(B, "cpus_available", lambda: 2)
    return used


def _run(tmp_path: Path, name: str, orders: Path, *args: str) -> bytes:
    out = tmp_path / f"{name}.csv"
    assert main(["batch", str(orders), "--out", str(out), "--no-lists", "--no-progress", *args]) == 1
    return out.read_bytes()


def test_default_is_auto_two_processes_for_a_big_file_same_output_as_one(tmp_path: Path, spy: list[int],
                                                                         home: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(_orders(400))
    assert orders.stat().st_size >= 2 * 1024
    one = _run(tmp_path, "one", orders, "--jobs", "1", "--no-record")
    assert spy == []  # --jobs 1: exactly one process, no worker forked
    default = _run(tmp_path, "default", orders, "--no-record")
    assert spy == [2]  # no --jobs: auto, two processes for a file of >= 2 x AUTO_BYTES on 2 CPUs
    auto = _run(tmp_path, "auto", orders, "--jobs", "AUTO")
    assert spy == [2, 2]
    recorded = _run(tmp_path, "rec", orders)  # recorded: the workers send outcomes, the parent records
    assert spy == [2, 2, 2]
    every_cpu = _run(tmp_path, "zero", orders, "--jobs", "0", "--no-record")
    assert spy == [2, 2, 2, 2]  # 0: one per CPU
    assert one == default == auto == recorded == every_cpu
    decisions = collections.Counter(r.split(b",")[7] for r in one.splitlines()[1:])
    assert len(decisions) >= 3  # screened, not only error rows


def test_auto_is_one_process_for_a_small_file_and_for_stdin(tmp_path: Path, spy: list[int], home: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    small = tmp_path / "small.csv"
    small.write_text(_orders(6))
    assert small.stat().st_size < 2 * 1024
    _run(tmp_path, "small", small, "--no-record")
    big = _orders(400).encode()

    class Stdin:
        buffer = __import__("io").BytesIO(big)

    monkeypatch.setattr(sys, "stdin", Stdin)
    assert main(["batch", "-", "--no-lists", "--no-progress", "--no-record"]) == 1
    assert spy == []  # neither forked: a small file, and stdin (size unknown)
    assert len(capsysbinary.readouterr().out.splitlines()) == 401


@pytest.mark.parametrize("bad", ["two", "-1", "1.5", ""])
def test_jobs_that_is_not_a_count_or_auto_is_a_usage_error(tmp_path: Path, bad: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(_orders(4))
    assert main(["batch", str(orders), "--jobs", bad, "--no-lists", "--no-record", "--no-progress"]) == 2
    assert "--jobs" in capsys.readouterr().err


def test_parent_share_is_smaller_with_a_recorder() -> None:
    """With a recorder the parent also parses every row in full and records every order, so it takes a smaller
    share of the customers (PARENT_WEIGHT_RECORDED) than when the workers render the rows (PARENT_WEIGHT)."""

    def order(name: str) -> B.Order:
        pr = B.ParsedRow(raw=B.RawRow(values=[], line=2), fields={"end_user": name}, params={})
        return B.Order(order_id="O1", rows=[pr])

    names = [f"Customer {i} GmbH" for i in range(20_000)]
    assert B.PARENT_WEIGHT_RECORDED < B.PARENT_WEIGHT < 1
    for w in (B.PARENT_WEIGHT, B.PARENT_WEIGHT_RECORDED):
        got = collections.Counter(B._shard(order(x), 2, w) for x in names)
        assert abs(got[0] / len(names) - w / (w + 1)) < 0.02, (w, got)
    assert [B._shard(order(x), 2) for x in names[:500]] == [B._shard(order(x), 2, B.PARENT_WEIGHT)
                                                            for x in names[:500]]
