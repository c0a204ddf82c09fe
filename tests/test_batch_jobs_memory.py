"""``--jobs N``: N screening processes with shared read-only state (issue 14, item 3: memory over the tree).

* the parent screens a shard itself and forks ``N - 1`` workers (before, it forked N workers and only read and
  wrote: the pages of the state loaded before the fork that every screening process writes to were copied into
  each worker while the parent's original stayed too);
* the parent's share of the customers is smaller (it also reads and writes every row), deterministic, and
  results never depend on it;
* the party index cache's arrays are used by numpy in place from the mapped file (read-only, aligned to the
  file), not copied into each process.
"""

from __future__ import annotations

import collections
import io
import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ecscreen.engine.core import Engine
from ecscreen.parties import indexcache as IC
from ecscreen.parties import matching as M
from ecscreen.parties.indexcache import FlatArray
from ecscreen.runners import batch as B
from ecscreen.runners.batch import BatchOptions, run_batch


def _orders(n: int) -> bytes:
    """Orders of two lines each (one destination and end user per order), 97 customers."""
    head = "order_id,date,destination,description,eccn,end_user,end_user_country\n"
    body = "".join(f"O{i // 2},2024-06-{1 + i // 2 % 28:02d},{('CN', 'DE', 'IR', 'Atlantis', 'MO')[i // 2 % 5]},"
                   f"GPU {i % 7},{('3A090.a', 'EAR99', '')[i % 3]},Customer {i // 2 % 97} Ltd,DE\n" for i in range(n))
    return (head + body).encode()


def test_jobs_2_runs_two_screening_processes_the_parent_one_of_them(engine: Engine, monkeypatch: Any) -> None:
    created: list[int] = []
    seen: dict[int, Any] = {}
    real_run = B._pool_run

    class Counting(B._quiet_pool()):  # type: ignore[misc]  # the worker pools started, counted
        def __init__(self, processes: int | None = None, *a: Any, **kw: Any) -> None:
            created.append(processes or 0)
            super().__init__(processes, *a, **kw)

    def watch(ctx: Any, jobs: int, orders: Any, emit: Any, stats: dict[int, Any], tick: Any) -> None:
        real_run(ctx, jobs, orders, emit, stats, tick)
        seen.update(stats)

    monkeypatch.setattr(B, "_pool_run", watch)
    monkeypatch.setattr(B, "_quiet_pool", lambda: Counting)
    data = _orders(1200)
    screener_before = getattr(engine, "party_screener", None)
    outs = []
    for jobs in (1, 2, 3):
        out = io.StringIO()
        seen.clear()
        created.clear()
        s = run_batch(io.BytesIO(data), out, engine, options=BatchOptions(jobs=jobs))
        outs.append(out.getvalue())
        assert s.rows == 1200 and s.orders == 600
        if jobs > 1:
            assert created == [1] * (jobs - 1)  # N - 1 forked workers, one process each
            assert os.getpid() in seen and len(seen) == jobs  # the parent screened its own shard
            assert sum(st[1] + st[2] for st in seen.values()) == s.cache_hits + s.cache_misses > 0
    assert outs[0] == outs[1] == outs[2]
    decisions = collections.Counter(r.split(",")[7] for r in outs[0].splitlines()[1:])
    assert decisions["error"] < 300 and len(decisions) >= 3  # screened, not only error rows
    assert getattr(engine, "party_screener", None) is screener_before  # the parent's run state undone
    assert B._WORKER == {}


def test_parent_shard_is_smaller_deterministic_and_covers_every_process() -> None:
    def order(name: str) -> B.Order:
        pr = B.ParsedRow(raw=B.RawRow(values=[], line=2), fields={"end_user": name}, params={})
        return B.Order(order_id="O1", rows=[pr])

    names = [f"Customer {i} GmbH" for i in range(20_000)]
    for n in (2, 3, 4):
        got = collections.Counter(B._shard(order(x), n) for x in names)
        assert set(got) == set(range(n))
        want = B.PARENT_WEIGHT / (B.PARENT_WEIGHT + n - 1)
        assert abs(got[0] / len(names) - want) < 0.02, (n, got)
        for w in range(1, n):  # the workers share the rest evenly
            assert abs(got[w] / len(names) - (1 - want) / (n - 1)) < 0.02, (n, got)
    assert B._shard(order("Acme  Corp"), 2) == B._shard(order("acme corp"), 2)  # one customer, one process
    assert all(B._shard(order(x), 1) == 0 for x in names[:50])


def test_index_arrays_are_used_in_place_from_the_mapped_cache_file(tmp_path: Path) -> None:
    """Before, FlatArray.numpy() always copied (each --jobs process held its own ~17 MB of index arrays) and
    the arrays sat 4 bytes off alignment in the file (60-byte header): numpy could not use them in place."""
    assert M._CACHE_HEADER.size == IC.PAYLOAD_BASE
    state = {"digest": "ab" * 32, "i8": FlatArray.of(np.arange(5000, dtype=np.int64)),
             "f8": FlatArray.of(np.linspace(0, 1, 3001)), "u": FlatArray.of(np.array(["ab", "cde", "f"])),
             "i4": FlatArray.of(np.arange(7, dtype=np.int32))}
    path = tmp_path / "index-x.bin"
    assert M.write_cache_file(path, "ab" * 32, state)
    back = M.read_cache_file(path, "ab" * 32)
    assert back is not None
    for key in ("i8", "f8", "u", "i4"):
        flat = back[key]
        assert isinstance(flat.data, memoryview) and flat.data.readonly
        arr = flat.numpy()
        assert arr.flags.aligned and not arr.flags.writeable and not arr.flags.owndata  # no copy
        base: Any = arr
        while base is not None and not isinstance(base, mmap.mmap):
            base = base.obj if isinstance(base, memoryview) else base.base
        assert isinstance(base, mmap.mmap)  # the file's pages (shared by every process mapping it)
        assert np.array_equal(arr, state[key].numpy())
        with pytest.raises(ValueError):
            arr[...] = arr  # read-only: nothing may write to the file's pages
    # bytes (not mapped) or unaligned data: a writable copy, as before
    assert FlatArray.of(np.arange(4)).numpy().flags.writeable
    raw = memoryview(bytes(36)).toreadonly()[4:36]
    assert FlatArray("<i8", (4,), raw).numpy().flags.writeable


def test_payload_buffers_are_aligned_to_the_file() -> None:
    state = {"a": FlatArray.of(np.arange(9, dtype=np.int64)), "b": FlatArray.of(np.arange(3, dtype=np.int32)),
             "c": FlatArray.of(np.arange(5, dtype=np.float64))}
    for base in (0, 60, 3):
        payload = IC.dump_payload(state, base=base)
        file = bytes(base) + payload
        back = IC.load_payload(memoryview(file)[base:])
        for k in state:
            assert back[k] == state[k]
            assert back[k].data.obj is not None
        n = int.from_bytes(payload[len(IC._OOB):len(IC._OOB) + 8], "little")
        spans = memoryview(payload[len(IC._OOB) + 16:len(IC._OOB) + 16 + 16 * n]).cast("q")
        assert n == 3 and all((base + spans[2 * i]) % 8 == 0 for i in range(n))
