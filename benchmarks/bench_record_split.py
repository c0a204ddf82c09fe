"""Where a recorded ``batch`` run's recording costs CPU: the screening process and the record writer process.

Usage:
  python benchmarks/bench_record_split.py --orders FILE [--src DIR ...] [--repeat N] [--mode on|off|both]

Runs ``ecscreen batch FILE --jobs 1`` (each run in a fresh record store, a temporary ``ECSCREEN_HOME``) in a
child interpreter per run, for each ``--src`` tree given (default: this tree's ``src``; give another tree's
``src`` for an A/B, e.g. a baseline worktree), alternating trees and modes ``--repeat`` times. Prints one JSON
line per run and the medians per tree and mode:

- ``parent_cpu_s``: CPU seconds (user + system) of the screening process (the CLI) itself;
- ``writer_cpu_s``: CPU seconds of its child processes (the forked record writer of a SQLite store);
- ``add_cpu_s``: the screening thread's CPU seconds inside ``BatchRecorder.add`` (what recording costs the
  screening process per order: packing or building the record, handing chunks to the writer);
- ``gc_s``: the screening process's cyclic GC passes; ``peak_rss_mb`` of the screening process; ``store_bytes``.

CPU seconds, not wall time: on a shared machine only they mean something (issue 15: recording <= 10 % on the
batch benchmark; the writer process runs on the second core).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# runs in the child interpreter: the CLI with the measurements around it
CHILD = r"""
import atexit, gc, json, os, resource, sys, time
gc_s = [0.0, 0.0]
def _gc(phase, info):
    if phase == "start":
        gc_s[1] = time.thread_time()
    else:
        gc_s[0] += time.thread_time() - gc_s[1]
gc.callbacks.append(_gc)
add = [0.0, 0]
from ecscreen.records import recorder as _r
_orig = _r.BatchRecorder.add
def _add(self, order, outs):
    t = time.thread_time()
    _orig(self, order, outs)
    add[0] += time.thread_time() - t
    add[1] += 1
_r.BatchRecorder.add = _add
def _report():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print("BENCH " + json.dumps({
        "parent_cpu_s": round(me.ru_utime + me.ru_stime, 2), "writer_cpu_s": round(kids.ru_utime + kids.ru_stime, 2),
        "add_cpu_s": round(add[0], 2), "orders_added": add[1], "gc_s": round(gc_s[0], 2),
        "peak_rss_mb": me.ru_maxrss // 1024}), file=sys.stderr, flush=True)
atexit.register(_report)
from ecscreen.cli.main import main
sys.argv = ["ecscreen", *sys.argv[1:]]
main()
"""


def one_run(src: Path, orders: Path, mode: str, tmp: Path) -> dict:
    home = Path(tempfile.mkdtemp(prefix="home-", dir=tmp))
    env = dict(os.environ, PYTHONPATH=str(src), ECSCREEN_HOME=str(home))
    env.pop("ECSCREEN_DATABASE_URL", None)
    cmd = [sys.executable, "-c", CHILD, "batch", str(orders), "--out", str(tmp / "out.csv"), "--jobs", "1",
           "--no-progress", *(["--no-record"] if mode == "off" else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=src.parent)
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    got = json.loads(line[6:])
    got["store_bytes"] = sum(p.stat().st_size for p in home.glob("records.db*"))
    got.update(src=str(src), mode=mode, exit=proc.returncode, load_avg_1m=os.getloadavg()[0])
    for p in home.iterdir():
        p.unlink()
    home.rmdir()
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=Path, required=True)
    ap.add_argument("--src", type=Path, action="append", help="a tree's src directory (repeatable: A/B)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mode", choices=["on", "off", "both"], default="on")
    a = ap.parse_args()
    srcs = [p.resolve() for p in (a.src or [HERE.parent / "src"])]
    modes = ["off", "on"] if a.mode == "both" else [a.mode]
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ecscreen-bench-record-split-") as t:
        for _ in range(a.repeat):
            for src in srcs:
                for mode in modes:
                    r = one_run(src, a.orders.resolve(), mode, Path(t))
                    print(json.dumps(r), flush=True)
                    runs.append(r)
    keys = ("parent_cpu_s", "writer_cpu_s", "add_cpu_s", "gc_s", "peak_rss_mb", "store_bytes")
    for src in srcs:
        for mode in modes:
            mine = [r for r in runs if r["src"] == str(src) and r["mode"] == mode]
            print(json.dumps({"median": True, "src": str(src), "mode": mode, "runs": len(mine),
                              **{k: statistics.median(r[k] for r in mine) for k in keys}}), flush=True)


if __name__ == "__main__":
    main()
