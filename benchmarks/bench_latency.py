"""Start-up and per-call latency: what a pre-commit hook or an ERP calling the CLI per order pays.

Measures in the same run the median of N runs of each (1-3 run round by round: bare, --help, check, bare, ...,
so machine load and the VM's drifts in speed affect all alike; until stop 24 each ran its N runs in a block):

1. the bare import of the CLI's own dependencies (typer, pydantic, rich, rapidfuzz, yaml) in a fresh
   interpreter — the floor any Python CLI built on them pays;
2. ``ecscreen --help``;
3. ``ecscreen check`` of a one-item shipment with two parties, full embedded lists, warm caches
   (one untimed run first fills the compiled-snapshot and index caches);
4. in-process ``Screener.screen()`` of one shipment with two parties (distinct names per call).

Targets (issue 10): check <= 0.5 s and <= 2.5x the bare import; --help <= 0.3 s; screen() <= 5 ms median.

    python benchmarks/bench_latency.py [--runs 7] [--breakdown]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHIPMENT = """\
id: LAT-1
date: 2026-10-01
destination: CN
parties:
  - {role: consignee, name: "Shenzhen Example Trading Co., Ltd.", country: CN}
  - {role: end_user, name: "Huawei Technologies Co., Ltd.", country: CN}
items:
  - {description: Data-center GPU accelerator, eccn: 3A090.a, origin: US}
"""


CPU: dict[int, float] = {}  # id of the command list -> median CPU seconds (user + system) of the child
RATIOS: list[float] = []  # check wall / bare wall of each round
CPU_RATIOS: list[float] = []  # check CPU / bare CPU of each round (the steadier figure on a shared machine)


def _once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _time_rounds(cmds: list[list[str]], env: dict[str, str], runs: int) -> list[float]:
    """Median wall seconds of ``runs`` runs of each command, run round by round (bare, --help, check, bare,
    --help, check, ...) so that the VM's drifts in speed (the same bare import measured 134-207 ms within ten
    minutes) fall on all three alike; the median CPU seconds of each child are kept in CPU (on a machine
    shared with other work the CPU time is the steadier figure), and each round's check/bare wall ratio in
    RATIOS."""
    walls: list[list[float]] = [[] for _ in cmds]
    cpus: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            wall, cpu = _once(cmd, env)
            walls[i].append(wall)
            cpus[i].append(cpu)
        RATIOS.append(walls[-1][-1] / walls[0][-1])
        CPU_RATIOS.append(cpus[-1][-1] / cpus[0][-1])
    for cmd, cpu in zip(cmds, cpus, strict=True):
        CPU[id(cmd)] = statistics.median(cpu)
    return [statistics.median(w) for w in walls]


def _real_names() -> list[str]:
    """Real company names (SEC EDGAR, ../shared/data/sec-company-names-2025-08), 200 of them."""
    import csv

    root = Path(__file__).resolve().parents[1]  # ../shared/data from the repo root (or a parent, for worktrees)
    data = next((d / "shared" / "data" for d in root.parents if (d / "shared" / "data").is_dir()),
                root.parent / "shared" / "data")
    src = data / "sec-company-names-2025-08" / "sec_company_names.csv"
    with src.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    col = next(k for k in rows[0] if "name" in k.lower())
    return [r[col] for r in rows[:: max(1, len(rows) // 200)]][:200]


BREAKDOWN = """\
import sys, time
c = time.process_time
t = c()
def lap(name, out=[]):
    global t
    n = c(); out.append((name, n - t)); t = n
    return out
import ecscreen.cli  # what the CLI sets up before anything else (OPENBLAS_NUM_THREADS, pydantic plugin lookup off)
import typer, pydantic, rich, rich.console, rapidfuzz, yaml; lap("bare dependencies (typer, pydantic, rich, ...)")
import ecscreen.cli.main, ecscreen.engine.context, ecscreen.engine.snapshot, ecscreen.inputs.files
import ecscreen.outputs.render; lap("ecscreen modules")
from pathlib import Path
from ecscreen.cli.options import registry_for, open_record_store
from ecscreen.settings import Settings
reg = registry_for(None, None, quiet=True); lap("packs snapshot (incl. the modules its classes live in)")
store = open_record_store(False, fast=True); lap("record store (open: an existing SQLite store at head needs no SQLAlchemy)")
st = Settings.from_env()
lists = ecscreen.engine.context.lists_for(reg, home=st.home, cache_dir=st.cache_dir); lap("lists (decoded-list cache)")
from ecscreen.parties.store import matcher_for
matcher_for(lists, cache_dir=st.cache_dir); lap("party index (index cache)")
from ecscreen.engine.context import ScreeningContext, screen_report
from ecscreen.settings import today
ctx = ScreeningContext.build(reg, today=today(), lists=lists, cache_dir=st.cache_dir); lap("engine build")
sh = ecscreen.inputs.files.load_shipments(Path(sys.argv[1]), [])
rep = screen_report(sh, ctx); lap("first screening (lazy tables, names-list indexes, regexes)")
import datetime as dt
from ecscreen.records.recorder import record_report, run_manifest
at = dt.datetime.now(dt.UTC)
man = run_manifest(store, ctx.engine, command="check", options={}, at=at)
record_report(store, rep, [s for _, s in sh], command="check", manifest=man, at=at); store.close()
lap("recording (manifest, one record, close)")
import io
from rich.console import Console
from ecscreen.outputs.render import print_table
print_table(rep, Console(file=io.StringIO(), soft_wrap=False, highlight=False, width=80), explain=False)
out = lap("table output (rendered, not written)")
for name, secs in out:
    print(f"  {secs * 1000:6.0f} ms  {name}")
print(f"  {sum(s for _, s in out) * 1000:6.0f} ms  total (interpreter start and argument parsing not included)")
print(f"  numpy imported: {'numpy' in sys.modules} (a one-shipment check needs none: parties/kernel_single.py)")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--breakdown", action="store_true",
                    help="also print where one warm check's CPU time goes (one in-process run, phase by phase)")
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        # compiled bytecode as an installed package has it (pip writes .pyc files): a PYTHONDONTWRITEBYTECODE
        # in the caller's environment would make every run recompile ecscreen's sources
        env = {**os.environ, "ECSCREEN_CACHE_DIR": str(Path(tmp) / "cache"), "ECSCREEN_HOME": str(Path(tmp) / "home"),
               "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pyc")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        ship = Path(tmp) / "shipment.yaml"
        ship.write_text(SHIPMENT, encoding="utf-8")
        # what the installed console script runs (pyproject's [project.scripts]: ecscreen.cli.main:run)
        cli = [py, "-c", "import sys; from ecscreen.cli.main import run; sys.exit(run())"]
        subprocess.run([*cli, "check", str(ship)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bare_cmd = [py, "-c", "import typer, pydantic, rich, rich.console, rapidfuzz, yaml"]
        help_cmd = [*cli, "--help"]
        check_cmd = [*cli, "check", str(ship)]
        subprocess.run(help_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bare, helpt, check = _time_rounds([bare_cmd, help_cmd, check_cmd], env, args.runs)
        breakdown = ""
        if args.breakdown:
            breakdown = subprocess.run([py, "-c", BREAKDOWN, str(ship)], env=env, check=False, capture_output=True,
                                       text=True).stdout
        os.environ.update(env)
        import ecscreen

        t0 = time.perf_counter()
        screener = ecscreen.Screener()
        screener.screen({"destination": "DE", "items": [{"description": "warm-up", "eccn": "EAR99"}],
                         "parties": [{"role": "end_user", "name": "warm up gmbh"}]})
        build = time.perf_counter() - t0
        names = _real_names()
        times = []
        cpu_times = []
        for i, name in enumerate(names[:200]):
            sh = {"destination": "CN", "date": "2026-10-01",
                  "items": [{"description": "Data-center GPU accelerator", "eccn": "3A090.a"}],
                  "parties": [{"role": "consignee", "name": name, "country": "CN"},
                              {"role": "end_user", "name": names[(i + 7) % len(names)]}]}
            t, c = time.perf_counter(), time.process_time()
            screener.screen(sh)
            times.append(time.perf_counter() - t)
            cpu_times.append(time.process_time() - c)
    cb, ch, cc = CPU[id(bare_cmd)], CPU[id(help_cmd)], CPU[id(check_cmd)]
    print(f"bare import of typer+pydantic+rich+rapidfuzz+yaml : {bare * 1000:7.0f} ms wall, {cb * 1000:5.0f} ms CPU "
          f"(medians of {args.runs} rounds: bare, --help, check run in turn, so drifts of the VM's speed fall on "
          "all three alike)")
    print(f"ecscreen --help                                   : {helpt * 1000:7.0f} ms wall, {ch * 1000:5.0f} ms CPU "
          "(target <= 300 ms)")
    print(f"ecscreen check, 1 item, 2 parties, lists, warm    : {check * 1000:7.0f} ms wall, {cc * 1000:5.0f} ms CPU "
          f"= {check / bare:.2f}x bare import wall, {cc / cb:.2f}x CPU (targets <= 500 ms, <= 2.5x)")
    print(f"  check / bare wall of each round: {' '.join(f'{r:.2f}' for r in RATIOS)} "
          f"(median {statistics.median(RATIOS):.2f}x)")
    print(f"  check / bare CPU of each round:  {' '.join(f'{r:.2f}' for r in CPU_RATIOS)} "
          f"(median {statistics.median(CPU_RATIOS):.2f}x)")
    print(f"Screener() build + first screen (warm caches)     : {build * 1000:7.0f} ms")
    print(f"Screener.screen(), 2 parties, median of {len(times)}      : {statistics.median(times) * 1000:7.2f} ms wall "
          f"(p95 {sorted(times)[int(len(times) * 0.95)] * 1000:.2f} ms), {statistics.median(cpu_times) * 1000:.2f} ms "
          "CPU (target <= 5 ms median)")
    if breakdown:
        print("where a warm check's CPU goes (one in-process run, process_time per phase):\n" + breakdown, end="")


if __name__ == "__main__":
    main()
