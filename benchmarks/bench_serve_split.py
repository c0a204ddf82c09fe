"""Where `ecscreen serve`'s CPU per one-shipment request goes, in-process (no HTTP, no sockets).

Loads the service's state as ``ecscreen serve`` does (embedded lists, records in a fresh SQLite store),
warms up on 300 other names, then runs the steps of ``service.app._screen`` and the recording for
REQUESTS bench_serve bodies (real SEC company names, each used once), one, two or four requests per group
(``--groups``: the requests of one pass of the service's event loop have their party names matched together,
``service.prefetch``), timing each step with the thread's CPU clock, and the cyclic GC's time (gc.callbacks). HTTP itself (uvicorn + httptools and the kernel's socket
work) is measured by bench_serve_http.py: ~0.03 ms per request when requests come in bursts, ~0.12 ms at 300
requests/s (a wake-up per request; most of it the send(2) of the response and uvloop's loop); the service's
ASGI app in-process by bench_serve_asgi.py. Then the records of 800 more requests are
appended one request per transaction and four per transaction (the service's group commit on its event
loop, ``service.recording.LoopBatch``, under load).

    python benchmarks/bench_serve_split.py [--requests 2000] [--groups 1,2,4] [--no-lists]
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import bench_serve  # noqa: E402
from starlette.responses import Response  # noqa: E402

from ecscreen.service import app as service  # noqa: E402
from ecscreen.service import prefetch  # noqa: E402
from ecscreen.service.config import ServiceConfig  # noqa: E402
from ecscreen.service.inputs import parse_body  # noqa: E402
from ecscreen.service.state import StateHolder  # noqa: E402

STEPS = ["parse + validate", "names matched together", "engine.screen", "records built", "report JSON",
         "append (SQLite commit)", "response"]


def run(holder: StateHolder, bodies: list[bytes], acc: dict[str, int], keep: list[Any] | None = None,
        group: int = 1) -> None:
    """Screen ``bodies`` ``group`` at a time as the service's event loop does (``service.app._LoopGroup``: the
    bodies parsed, their party names matched together when more than one, then each screened)."""
    for i in range(0, len(bodies), group):
        _run_group(holder, bodies[i:i + group], acc, keep)


def _run_group(holder: StateHolder, bodies: list[bytes], acc: dict[str, int], keep: list[Any] | None) -> None:
    st = holder.current()
    clk = time.thread_time_ns
    t0 = clk()
    pres = [parse_body(raw) for raw in bodies]
    t1 = clk()
    if len(bodies) > 1:
        prefetch.warm(st.engine, [nc for parsed, _ in pres for nc in prefetch.names_of(parsed)])
    t2 = clk()
    acc["parse + validate"] = acc.get("parse + validate", 0) + t1 - t0
    acc["names matched together"] = acc.get("names matched together", 0) + t2 - t1
    for parsed, doc in pres:
        t = [clk()]
        report = st.engine.screen(parsed, as_of=None, today=dt.date.today())
        t.append(clk())
        report.command = "serve"
        report.options = dict(st.screener._options) | {"as_of": None}
        recs = service._records(st, holder, report, parsed, doc, "127.0.0.1")
        t.append(clk())
        if keep is not None:
            keep.append(recs)
        body = service.report_json(st, report)
        t.append(clk())
        ids = holder.store.append_screenings(recs, at=dt.datetime.now(dt.UTC), wait=False) if holder.store else []
        t.append(clk())
        text = b"".join((body[:-1], b',"record_ids":', json.dumps(ids).encode(), b"}"))
        Response(content=text, media_type="application/json",
                 headers={"X-Ecscreen-Decision": "clear", "X-Ecscreen-Record-Ids": ",".join(map(str, ids))})
        t.append(clk())
        service.HEAP.tick()
        for k, a, b in zip(STEPS[2:], t, t[1:], strict=False):
            acc[k] = acc.get(k, 0) + b - a


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--no-lists", action="store_true")
    ap.add_argument("--groups", default="1,2,4", help="requests per group, comma-separated: the service matches the "
                    "party names of the requests of one pass of its event loop together (bench_serve under load: "
                    "~2 per group)")
    ap.add_argument("--no-parties", action="store_true", help="shipments without parties (bench_serve --no-parties)")
    a = ap.parse_args()
    bench_serve.PARTIES = not a.no_parties
    home = tempfile.mkdtemp(prefix="bench-split-")
    atexit.register(shutil.rmtree, home, True)  # the run's record store is thrown away with it
    cfg = ServiceConfig(home=home, record=True, reload_interval=0,
                        no_lists=a.no_lists)
    holder = StateHolder.load(cfg)
    service.HEAP.settle()
    run(holder, bench_serve.bodies(300, offset=3000), {})
    gct: dict[str, Any] = {"ns": 0, "n": 0, "t0": 0}

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gct["t0"] = time.thread_time_ns()
        else:
            gct["ns"] += time.thread_time_ns() - gct["t0"]
            gct["n"] += 1

    gc.callbacks.append(on_gc)
    groups = [int(g) for g in a.groups.split(",")]
    accs: dict[int, dict[str, int]] = {g: {} for g in groups}
    cpu = dict.fromkeys(groups, 0.0)
    count = dict.fromkeys(groups, 0)
    n = a.requests
    measured = bench_serve.bodies(n)
    block = 48  # requests per block; the blocks take the group sizes in turn (the matcher's caches fill as names
    # come, so a size measured after another would look cheaper: alternating blocks share that drift)
    for j, i in enumerate(range(0, n, block)):
        g = groups[j % len(groups)]
        t0 = time.process_time()
        run(holder, measured[i:i + block], accs[g], group=g)
        cpu[g] += time.process_time() - t0
        count[g] += len(measured[i:i + block])
    grouped = {}
    if holder.store is not None:  # the service's group commit (LoopBatch): k requests' records per transaction
        kept: list[Any] = []
        run(holder, bench_serve.bodies(min(n, 800), offset=6000), {}, kept)
        for k in (1, 4):
            t1 = time.thread_time_ns()
            for i in range(0, len(kept), k):
                holder.store.append_screenings([r for recs in kept[i:i + k] for r in recs], at=dt.datetime.now(dt.UTC),
                                               wait=False)
            grouped[k] = (time.thread_time_ns() - t1) / len(kept) / 1e6
    gc.callbacks.remove(on_gc)
    print(f"serve CPU split, in-process: {n} one-shipment requests "
          f"{'without parties' if a.no_parties else 'with two parties'}"
          f"{' (--no-lists)' if a.no_lists else ''}, recorded in SQLite")
    for g in groups:
        m = max(count[g], 1)
        print(f"  {g} request(s) per group ({count[g]} requests): total {cpu[g] / m * 1000:.3f} ms per request "
              "(process CPU)")
        for k in STEPS:
            print(f"    {k:24s} {accs[g].get(k, 0) / m / 1e6:.3f} ms")
    print(f"  cyclic GC (inside the steps) {gct['ns'] / n / 1e6:.3f} ms ({gct['n']} collections)")
    for k, ms in grouped.items():
        print(f"  append, {k} request(s) per transaction: {ms:.3f} ms per request (the service commits the requests "
              "screened in one pass of its event loop together)")


if __name__ == "__main__":
    main()
