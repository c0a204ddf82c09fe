"""``--jobs N``: the processes' shares of the customers follow the CPU each process spends (issue 14, item 3).

Before, the parent's share was a constant (PARENT_WEIGHT 0.8 against 1 for a worker, 0.62 with a recorder),
measured once on one file under one load: on another file, machine or load the processes were unequally busy
and the run waited for the busier one. Now :class:`_Balance` starts from that constant and, after every
window, moves the shares toward the process that spent less CPU on it; a customer still goes to one process at
a time, and results never depend on the split.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

import pytest

from ecscreen.engine.core import Engine
from ecscreen.runners import batch as B
from ecscreen.runners.batch import BatchOptions, run_batch


def _hashes(n: int) -> list[int]:
    return [zlib.crc32(f"Customer {i} GmbH".encode()) for i in range(n)]


def test_equal_cpu_keeps_the_shares_and_a_missing_process_changes_nothing() -> None:
    b = B._Balance(2, 0.8)
    assert b.pick(0) == 0 and b.pick(65535) == 1
    assert b.cuts == [round(0.8 / 1.8 * 65536)]
    b.update([1.0, 2.0])  # the first report: nothing to compare yet
    b.update([2.0, 3.0])  # one second each
    assert b.weights == pytest.approx([0.8, 1.0]) and b.updates == 1
    b.update([5.0, None])  # the worker had no part of this window
    b.update([5.001, 3.001])  # ... and then too little CPU to measure
    assert b.weights == pytest.approx([0.8, 1.0]) and b.updates == 1


def test_the_busier_process_gets_fewer_customers_bounded_per_window() -> None:
    b = B._Balance(3, 0.8)
    b.update([0.0, 0.0, 0.0])
    b.update([3.0, 1.0, 1.0])  # the parent spent three times what each worker did
    w = b.weights
    assert w[0] == pytest.approx(0.8 / B.BALANCE_STEP)  # at most one step a window
    assert w[1] == w[2] > 1.0
    hs = _hashes(20_000)
    share = sum(b.pick(h) == 0 for h in hs) / len(hs)
    assert share == pytest.approx(w[0] / sum(w), abs=0.02)  # the ranges follow the weights
    lo, hi = B.BALANCE_BOUNDS
    for _ in range(200):  # a process that is always busier: its weight stops at the bound
        b.update([b.last[0] + 10.0, b.last[1] + 1.0, b.last[2] + 1.0])  # type: ignore[operator]
    assert b.weights[0] == pytest.approx(lo) and max(b.weights) <= hi


def test_shares_converge_to_equal_cpu_when_the_parent_also_reads_and_writes() -> None:
    """A model of a run: the parent spends a fixed 1.5 s a window (reading, writing) beside its screening; the
    work is spread by customer. A constant PARENT_WEIGHT leaves one process busier in every window; the balance
    brings the two within 5 % of each other."""
    hs = _hashes(4_000)
    cost = [0.0005 + (h % 7) * 0.0002 for h in hs]  # customers differ in cost

    def window(pick: Any) -> tuple[float, float]:
        spent = [1.5, 0.0]
        for h, c in zip(hs, cost, strict=True):
            spent[pick(h)] += c
        return spent[0], spent[1]

    static = B._Balance(2, B.PARENT_WEIGHT)
    p, q = window(static.pick)
    assert abs(p - q) / max(p, q) > 0.2  # before: a constant share, one process busier every window
    b = B._Balance(2, B.PARENT_WEIGHT)
    cpu = [0.0, 0.0]
    b.update(list(cpu))
    for _ in range(30):
        p, q = window(b.pick)
        cpu = [cpu[0] + p, cpu[1] + q]
        b.update(list(cpu))
    p, q = window(b.pick)
    assert abs(p - q) / max(p, q) < 0.05, (p, q, b.weights)


def _orders(n: int) -> bytes:
    head = "order_id,date,destination,description,eccn,end_user,end_user_country\n"
    body = "".join(f"O{i // 2},2026-10-{1 + i // 2 % 28:02d},{('CN', 'DE', 'IR', 'Atlantis', 'MO')[i // 2 % 5]},"
                   f"GPU {i % 7},{('3A090.a', 'EAR99', '')[i % 3]},Customer {i // 2 % 97} Ltd,DE\n" for i in range(n))
    return (head + body).encode()


def test_a_run_rebalances_between_windows_and_writes_the_same_bytes(engine: Engine,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows ramp up (the first small, then doubling to the most); the shares change between windows (every
    window counts here); the output is byte-identical to one process, recorded or not."""
    monkeypatch.setattr(B, "CHUNK_ORDERS", 8)
    monkeypatch.setattr(B, "CHUNK_ORDERS_MAX", 32)
    monkeypatch.setattr(B, "BALANCE_MIN_CPU", 0.0)
    sizes: list[int] = []
    real_submit = B._submit

    def watch(pools: Any, window: list[Any], balance: Any) -> Any:
        sizes.append(len(window))
        return real_submit(pools, window, balance)

    monkeypatch.setattr(B, "_submit", watch)
    data = _orders(900)
    outs = {}
    for jobs in (1, 2):
        out = io.StringIO()
        s = run_batch(io.BytesIO(data), out, engine, options=BatchOptions(jobs=jobs))
        assert s.rows == 900 and s.orders == 450
        outs[jobs] = out.getvalue()
    assert outs[1] == outs[2]
    assert sizes[:4] == [16, 32, 64, 64] and sum(sizes) == 450
    bal = B.LAST_BALANCE[0]
    # every window compared after the first ``lag`` + 1 (CPU over ``lag`` windows, see _Balance), the last too
    assert bal.lag == B.IN_FLIGHT - 1 and bal.updates >= len(sizes) - bal.lag - 1
    assert bal.weights != [B.PARENT_WEIGHT, 1.0]


def test_each_worker_has_the_next_window_queued_while_the_parent_screens_its_share(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent screens its share of a window only after it has sent the workers their shares of the windows
    after it (up to IN_FLIGHT windows read; before stop 26 it screened its share as it sent the window, and a
    worker that finished first waited while the parent wrote and read), its shares in input order, each once.
    Output identical to one process."""
    monkeypatch.setattr(B, "CHUNK_ORDERS", 8)
    monkeypatch.setattr(B, "CHUNK_ORDERS_MAX", 8)
    events: list[tuple[str, int]] = []
    window_of: dict[int, int] = {}  # the parent's part (id) -> its window's number
    keep: list[Any] = []  # (the parts stay alive: no id reused)
    real_submit, real_get = B._submit, B._Here.get

    def submit(pools: Any, window: list[Any], balance: Any) -> Any:
        parts = real_submit(pools, window, balance)
        n = sum(e == "sent" for e, _ in events)
        events.append(("sent", n))
        window_of.update({id(fut): n for proc, _, fut in parts if not proc})
        keep.extend(parts)
        return parts

    def get(self: Any) -> Any:
        if self.orders is not None:  # screened now (once)
            events.append(("mine", window_of[id(self)]))
        return real_get(self)

    monkeypatch.setattr(B, "_submit", submit)
    monkeypatch.setattr(B._Here, "get", get)
    data = _orders(400)
    out1, out2 = io.StringIO(), io.StringIO()
    run_batch(io.BytesIO(data), out1, engine, options=BatchOptions(jobs=1))
    events.clear()
    run_batch(io.BytesIO(data), out2, engine, options=BatchOptions(jobs=2))
    assert out1.getvalue() == out2.getvalue()
    windows = sum(e == "sent" for e, _ in events)
    mine = [(i, k) for i, (e, k) in enumerate(events) if e == "mine"]
    assert windows >= 5 and len(mine) >= windows - 1
    assert [k for _, k in mine] == sorted(window_of.values())  # in input order, each once
    # nothing is screened here before IN_FLIGHT windows were sent (the worker has the ones after the first)
    assert sum(e == "sent" for e, _ in events[: mine[0][0]]) == min(B.IN_FLIGHT, windows)
    for i, k in mine:  # and a window's share only once the window was sent
        assert sum(e == "sent" for e, _ in events[:i]) >= k + 1


def test_the_batch_command_freezes_the_heap_at_exit_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's batch command registers gc.freeze to run at interpreter exit (once per process), so Python's
    exit-time collection does not scan the engine, the lists' index and the memos (~1 CPU-s after 100k rows)."""
    import atexit
    import gc

    from ecscreen.cli import batch as cli_batch

    registered: list[Any] = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(cli_batch, "_EXIT_FREEZE", [])
    cli_batch._no_exit_collection()
    cli_batch._no_exit_collection()
    assert registered == [gc.freeze]


def test_a_batch_command_without_a_record_store_does_not_import_sqlalchemy(tmp_path: Any) -> None:
    """Start-up before the fork: with no records.db (and no database URL) the review decisions are looked up
    without importing the store module (SQLAlchemy: ~0.2 CPU-s of every such run's serial start-up)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "ECSCREEN_HOME": str(tmp_path)}
    env.pop("ECSCREEN_DATABASE_URL", None)
    code = ("import sys; from ecscreen.cli.decisions import decision_allowlist, existing_store; "
            "assert existing_store() is None and decision_allowlist(None) is None; "
            "print('sqlalchemy' in sys.modules)")
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "False", got.stderr


def test_the_pool_maintenance_thread_does_not_wait_on_the_result_pipe() -> None:
    """The --jobs pool's maintenance thread waits on the pool's notifications only (and on its workers' exits):
    the stock pool's also woke on every result still in the pipe and spun until the result thread read it.
    The pool still answers, closes and joins."""
    import multiprocessing as mp
    import threading

    ctx = mp.get_context("fork")
    pool = B._quiet_pool()(1, initializer=B._worker_signals, context=ctx)
    try:
        assert pool._get_sentinels() == [pool._change_notifier._reader]
        assert [pool.apply_async(divmod, (n, 7)).get(timeout=30) for n in (20, 50)] == [(2, 6), (7, 1)]
    finally:
        pool.close()
        done = threading.Event()
        threading.Thread(target=lambda: (pool.join(), done.set()), daemon=True).start()
        assert done.wait(30), "the pool did not join"
