"""``--jobs N``: the parent and its workers do not take turns waiting for each other (issue 14, stop 27).

Before, each process could be at most one window ahead of the other (two windows in flight, the parent waiting
for the worker's part of the older one before it read the next), and a window's rows went through 64 KiB pipes
in pieces, each piece read by a parent thread that needed the GIL. Now up to IN_FLIGHT windows are read ahead,
the parent screens its own parts of later windows instead of waiting for a late worker, and the pools' pipes hold
a whole window's part. Results never depend on any of it.
"""

from __future__ import annotations

import io
from collections import deque
from typing import Any

import pytest

from ecscreen.engine.core import Engine
from ecscreen.runners import batch as B
from ecscreen.runners.batch import BatchOptions, run_batch


class _Part:
    """A window's part as _serve sees it: a worker's (ready once it has come back) or the parent's own (ready once
    screened, by get)."""

    def __init__(self, name: str, log: list[str], ready: bool = False, own: bool = False) -> None:
        self.name, self.log, self.done, self.own = name, log, ready, own

    def ready(self) -> bool:
        return self.done

    def wait(self, timeout: float | None = None) -> None:
        self.log.append(f"wait {self.name}")
        self.done = True  # the worker's part comes back while the parent waits

    def get(self) -> Any:
        if self.own and not self.done:
            self.log.append(f"screen {self.name}")
            self.done = True
        return self.name


def _pending(log: list[str], worker_ready: list[bool]) -> deque[Any]:
    return deque(([], [(0, [0], _Part(f"own{k}", log, own=True)), (1, [1], _Part(f"w{k}", log, ready))])
                 for k, ready in enumerate(worker_ready))


def _drain(pending: deque[Any], log: list[str]) -> Any:
    def drain_one() -> None:
        _, parts = pending.popleft()
        for _, _, fut in parts:
            fut.get()
        log.append(f"write {parts[0][2].name[3:]}")

    return drain_one


def test_a_late_worker_the_parent_screens_its_later_parts_before_it_waits() -> None:
    log: list[str] = []
    pending = _pending(log, [False, False, False])
    waits = {"parent_wait_s": 0.0, "parent_waits": 0}
    B._serve(pending, 3, _drain(pending, log), waits)
    # its own parts in window order, then the wait for the oldest window's worker part, then that window written
    assert log == ["screen own0", "screen own1", "screen own2", "wait w0", "write 0"]
    assert len(pending) == 2 and waits["parent_waits"] == 1


def test_a_worker_that_is_ahead_the_oldest_window_is_written_at_once() -> None:
    log: list[str] = []
    pending = _pending(log, [True, False, False])
    B._serve(pending, 3, _drain(pending, log), {"parent_wait_s": 0.0, "parent_waits": 0})
    # nothing screened ahead: the parent goes back to reading (the worker has windows 1 and 2 queued)
    assert log == ["screen own0", "write 0"] and len(pending) == 2


def test_at_the_end_every_window_is_written_in_order() -> None:
    log: list[str] = []
    pending = _pending(log, [False, True, False])
    B._serve(pending, 1, _drain(pending, log), {"parent_wait_s": 0.0, "parent_waits": 0})
    assert [e for e in log if e.startswith("write")] == ["write 0", "write 1", "write 2"] and not pending
    assert log.index("screen own1") < log.index("wait w0")  # screened while window 0's worker part was late


def _orders(n: int, width: int = 0) -> bytes:
    head = "order_id,date,destination,description,eccn,end_user,end_user_country\n"
    pad = "x" * width
    body = "".join(f"O{i // 2},2026-10-{1 + i // 2 % 28:02d},{('CN', 'DE', 'IR', 'Atlantis', 'MO')[i // 2 % 5]},"
                   f"GPU {i % 7} {pad},{('3A090.a', 'EAR99', '')[i % 3]},Customer {i // 2 % 97} Ltd,DE\n"
                   for i in range(n))
    return (head + body).encode()


def test_a_run_reports_its_waiting_and_writes_the_same_bytes(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """LAST_WAITS: the windows written, the parent's waits for its worker, each worker's time between its chunks;
    rows wider than a pipe's default 64 KiB per window part (the pools' pipes widened) come back whole."""
    monkeypatch.setattr(B, "CHUNK_ORDERS", 16)
    monkeypatch.setattr(B, "CHUNK_ORDERS_MAX", 16)
    data = _orders(600, width=3000)  # ~100 KB of orders and ~200 KB of rows per window part
    outs = {}
    for jobs in (1, 2):
        out = io.StringIO()
        s = run_batch(io.BytesIO(data), out, engine, options=BatchOptions(jobs=jobs))
        assert s.rows == 600 and s.orders == 300
        outs[jobs] = out.getvalue()
    assert outs[1] == outs[2]
    w = B.LAST_WAITS
    assert w["windows"] == -(-300 // 32)
    assert w["parent_wait_s"] >= 0.0 and w["parent_waits"] >= 0
    assert len(w["worker_idle_s"]) == 1 and all(v >= 0.0 for v in w["worker_idle_s"].values())


def test_the_pools_pipes_hold_a_window_part() -> None:
    fcntl = pytest.importorskip("fcntl")
    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("no F_GETPIPE_SZ here")
    import multiprocessing as mp

    pool = B._quiet_pool()(1, initializer=B._worker_signals, context=mp.get_context("fork"))
    try:
        B._widen_pipes(pool)
        sizes = [fcntl.fcntl(c.fileno(), fcntl.F_GETPIPE_SZ) for c in
                 (pool._inqueue._writer, pool._inqueue._reader, pool._outqueue._writer, pool._outqueue._reader)]
        with open("/proc/sys/fs/pipe-max-size") as fh:
            allowed = int(fh.read())
        assert all(s >= min(B.PIPE_BYTES, allowed) for s in sizes), sizes
        assert pool.apply_async(divmod, (50, 7)).get(timeout=30) == (7, 1)
    finally:
        pool.terminate()
        pool.join()


def _swing(lag: int, windows: int = 60) -> tuple[list[float], int]:
    """A model of a run with 3 windows read ahead: a window is split when it is read and reported 3 windows
    later. The parent spends a fixed 1.5 s a window beside its screening; customers differ in cost. Returns the
    parent's share of the hash space after each report, and how many customers changed process."""
    import zlib

    hs = [zlib.crc32(f"Customer {i} GmbH".encode()) for i in range(4_000)]
    cost = [0.0005 + (h % 7) * 0.0002 for h in hs]
    b = B._Balance(2, B.PARENT_WEIGHT, lag=lag)
    cpu = [0.0, 0.0]
    b.update(list(cpu))
    queued: deque[list[int]] = deque()
    shares, moved, prev = [], 0, None
    for _ in range(windows):
        split = [b.pick(h) for h in hs]  # read and sent now
        if prev is not None:
            moved += sum(a != c for a, c in zip(prev, split, strict=True))
        prev = split
        queued.append(split)
        if len(queued) > 3:  # the oldest window's report comes back
            done = queued.popleft()
            spent = [1.5, 0.0]
            for p, c in zip(done, cost, strict=True):
                spent[p] += c
            cpu = [cpu[0] + spent[0], cpu[1] + spent[1]]
            b.update(list(cpu))
            shares.append(b.cuts[0] / 65536)
    return shares, moved


def test_the_shares_settle_when_the_reports_lag_behind_the_splits() -> None:
    """With windows read ahead a split is measured only some windows later: moving the weights by every report
    as much as with one window in flight, the shares swung from one process to the other and moved customers;
    the balance for that lag compares CPU over the lag and moves a lag-th as much (stop 27)."""
    naive, naive_moved = _swing(lag=1)
    aware, aware_moved = _swing(lag=3)
    late = aware[-20:]
    assert max(late) - min(late) < 0.02  # settled
    assert max(naive[-20:]) - min(naive[-20:]) > 2 * (max(late) - min(late))  # the lag-blind balance swings
    assert aware_moved < naive_moved
