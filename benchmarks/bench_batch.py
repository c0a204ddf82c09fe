"""Benchmark ``ecscreen batch`` on ERP order exports: wall time, rows/s, peak memory, decisions.

Usage:
  python benchmarks/bench_batch.py --rows 1000000 [--generator erp|legacy] [--orders FILE] [--jobs N|auto]
                                   [--as-of DATE] [--batch-as-of DATE] [--no-lists] [--record on|off|compare]
                                   [--repeat N] [--store-from HOME] [--jobs-compare N]

``--jobs-compare N`` alternates ``--jobs 1`` and ``--jobs N`` runs (``--repeat`` times each), stops if an output
differs from the one-process output, and prints per run and as medians: wall time, CPU of the process tree, CPU
of each process and of the busiest one (the critical path: with idle cores the run takes about that long), the
speed-ups (wall, and one process's CPU over the busiest process's CPU), the waiting (the parent's waits for its
workers' parts and the workers' time between chunks, ``runners.batch.LAST_WAITS``) and peak PSS over the tree. On a loaded
machine only the CPU figures mean anything: other jobs take the second core.

Every run records its orders in a fresh record store (a temporary ``ECSCREEN_HOME``), as ``batch`` does
by default, or with ``--store-from HOME`` in a copy of HOME's record store (the daily case: a 5,000-row
export appended to a store that already holds records; the no-record runs read its review decisions); ``--record off`` passes ``--no-record``; ``--record compare`` runs both (alternating, ``--repeat``
times each) and prints both figures and the slowdown recording causes, in CPU seconds (the machine is
shared: CPU time varies much less than wall time) and in wall time (issue 15 target: <= 10 %).

Generates the orders (unless ``--orders`` is given) with ``gen_erp_orders.py`` (default: today's orders,
dated in the 90 days before ``--as-of``, default today's date, printed; real customer names with a Zipf law, real list entries in ERP
spellings; see its docstring) or, with ``--generator legacy``, the older ``gen_orders.py`` (synthetic
customers, orders dated 2024-2025, kept for comparison), then runs the real CLI
(``ecscreen batch FILE --out OUT``) in a child process and samples the child's process tree every
0.2 s: peak RSS of the largest process, CPU seconds of the tree, and peak total PSS (proportional set size: shared pages such
as the forked workers' copy of the lists counted once) over the tree. Prints one JSON line with the
figures and the run's own summary line. Targets (issue 14): 1,000,000 rows in <= 120 s and <= 500 MB;
``--jobs 2`` >= 1.7x one process and <= 500 MB PSS over the tree. Each line is screened at its own date
(as an ERP export is); ``--batch-as-of`` passes ``--as-of`` to ``batch`` (every row at that date).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _children(pid: int) -> list[int]:
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                for c in fh.read().split():
                    out += _children(int(c))
    except OSError:
        pass
    return out


_ROLLUP = ("Pss", "Pss_Anon", "Pss_File", "Rss", "Private_Dirty", "Shared_Clean", "Shared_Dirty")


def _smaps(pid: int) -> dict[str, int]:
    """A process's memory in kB: VmRSS and VmHWM (peak RSS) from /proc/PID/status, and the PSS split (anonymous
    and file pages: a mapped cache file's pages read by several processes count once in the total) from
    /proc/PID/smaps_rollup; empty when the process is gone."""
    got: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    got[line.split(":")[0]] = int(line.split()[1])
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                k = line.split(":")[0]
                if k in _ROLLUP:
                    got[k] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return got


# the CLI, and at its exit (with --jobs) the run's waiting (runners.batch.LAST_WAITS) as one JSON line on stderr
_CLI = ("import atexit, json, sys\n"
        "def _waits():\n"
        "    b = sys.modules.get('ecscreen.runners.batch')\n"
        "    if b is not None and getattr(b, 'LAST_WAITS', None):\n"
        "        print('jobs-waits ' + json.dumps(b.LAST_WAITS), file=sys.stderr)\n"
        "atexit.register(_waits)\n"
        "from ecscreen.cli.main import main\n"
        "sys.exit(main())")


def _waits(err: str) -> dict[str, Any] | None:
    """The run's waiting (``--jobs``): seconds the parent waited for its workers' parts (wall) and, summed over
    the workers, seconds they spent between chunks (waiting for work, receiving and sending parts)."""
    for ln in err.splitlines():
        if ln.startswith("jobs-waits "):
            w = json.loads(ln.split(" ", 1)[1])
            return {"parent_wait_s": round(w["parent_wait_s"], 2), "parent_waits": w["parent_waits"],
                    "windows": w["windows"], "workers_between_chunks_s": round(sum(w["worker_idle_s"].values()), 2)}
    return None


def run(orders: Path, out: Path, extra: list[str], env: dict[str, str] | None = None) -> dict:
    cmd = [sys.executable, "-c", _CLI, "batch", str(orders), "--out", str(out), "--no-progress", *extra]
    import resource

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    peak_rss = peak_pss = 0
    at_peak: list[dict[str, int]] = []  # each process's memory when the tree's total PSS was highest
    samples = 0
    cpu_of: dict[int, float] = {}  # CPU seconds of each process of the tree, as last sampled
    fork_cpu: float | None = None  # the CLI process's CPU seconds when its first worker was first seen
    while proc.poll() is None:
        pids = _children(proc.pid)
        mems = [_smaps(p) for p in pids]
        for p in pids:
            t = _cpu_s(p)
            if t is not None:
                cpu_of[p] = t
        if fork_cpu is None and len(pids) > 1 and proc.pid in cpu_of:
            fork_cpu = cpu_of[proc.pid]
        peak_rss = max([peak_rss] + [m.get("VmHWM", m.get("VmRSS", 0)) for m in mems])
        total = sum(m.get("Pss", 0) for m in mems)
        samples += 1
        if total > peak_pss:
            peak_pss = total
            at_peak = [dict(m, pid=p) for p, m in zip(pids, mems, strict=True)]
        time.sleep(0.2)
    err = proc.stderr.read() if proc.stderr else ""
    proc.wait()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the run's process tree (workers included): on a shared, loaded machine the wall
    # time depends on the other load; rows per CPU second does much less
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    summary = next((ln for ln in err.splitlines() if ln.startswith("screened")), err.strip()[-500:])
    waits = _waits(err)
    import collections
    import csv

    decisions: collections.Counter[str] = collections.Counter()
    with out.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            decisions[row.get("decision", "?")] += 1
    rows_out = sum(decisions.values())
    return {"wall_s": round(wall, 1), "rows_per_s": round(rows_out / wall) if wall else None,
            "cpu_s": round(cpu, 1), "rows_per_cpu_s": round(rows_out / cpu) if cpu else None,
            "decisions": dict(decisions.most_common()), "peak_rss_mb": round(peak_rss / 1024), "peak_pss_total_mb": round(peak_pss / 1024),
            "pss_at_peak_mb": _breakdown(at_peak, proc.pid), "mem_samples": samples,
            # per process (the CLI first): with --jobs the longest is the run's critical path; one process's CPU
            # over it is the speed-up the run would have on idle cores (sampled every 0.2 s: the last 0.2 s of a
            # process may be missing)
            "cpu_s_per_process": [round(cpu_of[p], 2) for p in sorted(cpu_of, key=lambda p: (p != proc.pid, p))],
            # the CLI process's CPU before its workers were forked (start-up; sampled: up to 0.2 s late)
            "parent_cpu_s_at_fork": fork_cpu,
            "waits": waits,
            "exit": proc.returncode, "out_lines": rows_out, "summary": summary, "cmd": " ".join(cmd[3:])}


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (/proc/PID/stat), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _breakdown(at_peak: list[dict[str, int]], root: int) -> list[dict[str, Any]]:
    """Per process of the tree at the peak of total PSS (MB): the CLI (the first, the parent) then its workers."""
    out = []
    for m in at_peak:
        out.append({"role": "parent" if m["pid"] == root else "worker",
                    **{k.lower(): round(m.get(k, 0) / 1024, 1) for k in ("Pss", "Pss_Anon", "Pss_File", "Rss",
                                                                         "Private_Dirty", "VmHWM")}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--orders", type=Path, help="existing orders CSV (default: generate)")
    ap.add_argument("--generator", choices=["erp", "legacy"], default="erp")
    ap.add_argument("--jobs", default="1", help="batch --jobs: N or auto (default 1)")
    ap.add_argument("--jobs-compare", type=int, default=None, metavar="N",
                    help="alternate --jobs 1 and --jobs N runs (--repeat times each, --record as given, on or off), "
                         "check the outputs are byte-identical, and print the speed-up")
    ap.add_argument("--as-of", default=None,
                    help="generated orders are dated in the 90 days before this date (default: today)")
    ap.add_argument("--batch-as-of", default=None, help="pass --as-of to batch (overrides the rows' dates)")
    ap.add_argument("--no-lists", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the generated and output files")
    ap.add_argument("--record", choices=["on", "off", "compare"], default="on",
                    help="record the run (default, as batch does), --no-record, or compare both")
    ap.add_argument("--repeat", type=int, default=1, help="with --record compare: runs of each")
    ap.add_argument("--store-from", type=Path, default=None,
                    help="an ECSCREEN_HOME whose record store each run starts from (copied; the daily case: a "
                         "store that already holds records), instead of an empty one")
    a = ap.parse_args()
    global _STORE_FROM
    _STORE_FROM = a.store_from
    tmp = Path(tempfile.mkdtemp(prefix="ecscreen-bench-"))
    orders = a.orders
    as_of = a.as_of or dt.date.today().isoformat()
    if orders is None:
        orders = tmp / f"orders-{a.rows}.csv"
        t0 = time.perf_counter()
        gen = ["gen_erp_orders.py", "--as-of", as_of] if a.generator == "erp" else ["gen_orders.py"]
        subprocess.run([sys.executable, str(HERE / gen[0]), *gen[1:], "--rows", str(a.rows), "--out", str(orders)],
                       check=True)
        print(f"generated {a.rows:,} rows in {time.perf_counter() - t0:.1f}s ({orders.stat().st_size / 1e6:.0f} MB)",
              file=sys.stderr)
    extra = ["--jobs", str(a.jobs)]
    if a.batch_as_of:
        extra += ["--as-of", a.batch_as_of]
    if a.no_lists:
        extra.append("--no-lists")
    load_before = os.getloadavg()[0]
    if a.jobs_compare is not None:
        _compare_jobs(orders, tmp, extra[2:] + (["--no-record"] if a.record == "off" else []), a.jobs_compare,
                      a.repeat)
    elif a.record == "compare":
        _compare(orders, tmp, extra, a.repeat)
    else:
        res = run(orders, tmp / "out.csv", extra + (["--no-record"] if a.record == "off" else []),
                  _env(tmp / "home-0"))
        res.update(rows=sum(res["decisions"].values()), jobs=a.jobs, cpus=os.cpu_count(),
                   orders_as_of=as_of if a.orders is None and a.generator == "erp" else None,
                   batch_as_of=a.batch_as_of,
                   load_avg_1m_at_end=os.getloadavg()[0], load_avg_before=load_before, record=a.record)
        print(json.dumps(res))
    if not a.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


_STORE_FROM: Path | None = None


def _env(home: Path) -> dict[str, str]:
    if _STORE_FROM is not None:  # start from a copy of an existing store (records.db and its WAL, no lock file)
        import shutil

        home.mkdir(parents=True, exist_ok=True)
        for f in _STORE_FROM.glob("records.db*"):
            if not f.name.endswith(".lock"):
                shutil.copy2(f, home / f.name)
    env = dict(os.environ)
    env["ECSCREEN_HOME"] = str(home)  # a fresh record store (and no imported lists: the embedded CSL)
    env.pop("ECSCREEN_DATABASE_URL", None)
    return env


def _records(db: Path) -> int:
    """The highest record id of an existing store (0: none): this run's records are the ones after it."""
    if not db.is_file():
        return 0
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM records").fetchone()[0])


def _critical_cpu(res: dict) -> float:
    """CPU seconds on the run's critical path (with idle cores, about its wall time): the CLI process's own CPU
    (the tree's total, exact from rusage, less its workers' last samples), or a worker's CPU after the CLI
    process's start-up before the fork, whichever is longer."""
    per = res["cpu_s_per_process"]
    if len(per) <= 1:
        return float(res["cpu_s"])
    return max([res["cpu_s"] - sum(per[1:])] + [(res.get("parent_cpu_s_at_fork") or 0.0) + w for w in per[1:]])


def _compare_jobs(orders: Path, tmp: Path, extra: list[str], jobs: int, repeat: int) -> None:
    """Alternate ``--jobs 1`` and ``--jobs N`` runs on the same file (each in a fresh or copied record store);
    print each run and the medians: wall speed-up (needs idle cores: on a loaded machine other jobs take the
    second core), CPU of the tree (the work two processes add), and CPU speed-up on the critical path (one
    process's CPU over the busiest process's CPU: the speed-up the run would have on idle cores)."""
    import statistics

    got: dict[int, list[dict]] = {1: [], jobs: []}
    for i in range(repeat):
        for n in (1, jobs):
            res = run(orders, tmp / f"out-j{n}.csv", extra + ["--jobs", str(n)], _env(tmp / f"home-j{n}-{i}"))
            res.update(jobs=n, run=i, critical_cpu_s=round(_critical_cpu(res), 2),
                       load_avg_1m_at_end=os.getloadavg()[0])
            print(json.dumps(res), flush=True)
            got[n].append(res)
            same = (tmp / "out-j1.csv").read_bytes() == (tmp / f"out-j{n}.csv").read_bytes()
            if n != 1 and not same:
                print(json.dumps({"error": f"--jobs {n} output differs from --jobs 1 (run {i})"}), flush=True)
                sys.exit(1)

    def med(n: int, key: str) -> float:
        return statistics.median(r[key] for r in got[n])

    print(json.dumps({
        "rows": got[1][0]["out_lines"], "runs_each": repeat, "jobs": jobs, "same_output": True,
        "wall_s": {"1": med(1, "wall_s"), str(jobs): med(jobs, "wall_s")},
        "wall_speedup": round(med(1, "wall_s") / med(jobs, "wall_s"), 2),
        "wall_speedup_per_run": [round(a["wall_s"] / b["wall_s"], 2) for a, b in zip(got[1], got[jobs], strict=True)],
        "cpu_s_tree": {"1": med(1, "cpu_s"), str(jobs): med(jobs, "cpu_s")},
        "critical_cpu_s": {"1": med(1, "critical_cpu_s"), str(jobs): med(jobs, "critical_cpu_s")},
        "cpu_speedup": round(med(1, "critical_cpu_s") / med(jobs, "critical_cpu_s"), 2),
        "cpu_speedup_per_run": [round(a["critical_cpu_s"] / b["critical_cpu_s"], 2)
                                for a, b in zip(got[1], got[jobs], strict=True)],
        # waiting with --jobs N (wall seconds: on a loaded machine they include the time a process was not run)
        "parent_wait_s": statistics.median((r["waits"] or {}).get("parent_wait_s", 0.0) for r in got[jobs]),
        "workers_between_chunks_s": statistics.median((r["waits"] or {}).get("workers_between_chunks_s", 0.0)
                                                      for r in got[jobs]),
        "peak_pss_total_mb": {"1": max(r["peak_pss_total_mb"] for r in got[1]),
                              str(jobs): max(r["peak_pss_total_mb"] for r in got[jobs])},
        "load_avg_1m": [r["load_avg_1m_at_end"] for r in got[1] + got[jobs]],
    }))


def _compare(orders: Path, tmp: Path, extra: list[str], repeat: int) -> None:
    """Alternate runs without and with recording; print each run and the medians' slowdown."""
    import statistics

    got: dict[str, list[dict]] = {"off": [], "on": []}
    for i in range(repeat):
        for mode in ("off", "on"):
            env = _env(tmp / f"home-{mode}-{i}")
            before = _records(tmp / f"home-{mode}-{i}" / "records.db")
            size0 = sum(p.stat().st_size for p in (tmp / f"home-{mode}-{i}").glob("records.db*"))
            res = run(orders, tmp / f"out-{mode}.csv", extra + (["--no-record"] if mode == "off" else []), env)
            res.update(record=mode, load_avg_1m_at_end=os.getloadavg()[0])
            if mode == "on":
                import sqlite3

                db = tmp / f"home-{mode}-{i}" / "records.db"
                with sqlite3.connect(db) as conn:
                    res["records"], content = conn.execute("SELECT count(*), sum(length(content)) FROM records "
                                                           "WHERE id > ?", (before,)).fetchone()
                    res["blobs"], blob_bytes = conn.execute("SELECT count(*), sum(size) FROM blobs").fetchone()
                size = sum(p.stat().st_size for p in db.parent.glob("records.db*")) - size0
                res["records_before"] = before
                res["records_db_mb"] = round(size / 1e6, 1)  # what this run added
                # bytes a record costs: the database (tables, indexes, blobs) and the stored content alone
                res["db_bytes_per_record"] = round(size / max(res["records"], 1))
                res["content_bytes_per_record"] = round((content or 0) / max(res["records"], 1))
                res["blob_bytes"] = blob_bytes
            print(json.dumps(res))
            got[mode].append(res)
    cpu = {m: statistics.median(r["cpu_s"] for r in got[m]) for m in got}
    wall = {m: statistics.median(r["wall_s"] for r in got[m]) for m in got}
    print(json.dumps({
        "rows": got["on"][0]["out_lines"], "runs_each": repeat,
        "cpu_s_no_record": cpu["off"], "cpu_s_record": cpu["on"],
        "cpu_slowdown_pct": round(100 * (cpu["on"] - cpu["off"]) / cpu["off"], 1) if cpu["off"] else None,
        "wall_s_no_record": wall["off"], "wall_s_record": wall["on"],
        "wall_slowdown_pct": round(100 * (wall["on"] - wall["off"]) / wall["off"], 1) if wall["off"] else None,
        "same_output": (tmp / "out-off.csv").read_bytes() == (tmp / "out-on.csv").read_bytes(),
    }))


if __name__ == "__main__":
    main()
