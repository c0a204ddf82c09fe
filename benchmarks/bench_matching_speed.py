"""Batch screening speed against the full CSL, and agreement of the candidate index with exhaustive scoring.

Usage:
  python benchmarks/bench_matching_speed.py [--csl PATH] [--fixtures DIR] [--workers 2] [--sample 1000] [--force-fork]

Queries: the 100,000 synthetic negatives + the 1,366 UN positives (yente fixtures) + 3,000 CSL names with a
random one-letter typo (seeded), i.e. a realistic mix where most rows do not hit. Reports wall-clock and
CPU-time throughput of ``Matcher.match_raw`` (hits with scores) and ``Matcher.search_many`` (PartyHit
objects with explanations), single process and with ``--workers`` processes; then, on ``--sample`` queries,
the share of the (query, entry) hits of the exhaustive reference (same scorer, same threshold, every alias
scored) that the indexed search finds, and a rapidfuzz ``cdist`` baseline (token_sort_ratio, all aliases).
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import random
import resource
import time
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from ecscreen.parties.matching import Matcher
from ecscreen.parties.store import read_list


def _typo(rng: random.Random, name: str) -> str:
    if len(name) < 6:
        return name
    i = rng.randrange(1, len(name) - 1)
    op = rng.choice("dsti")
    if op == "d":
        return name[:i] + name[i + 1 :]
    if op == "s":
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    if op == "t":
        return name[:i] + rng.choice("aeiourstn") + name[i + 1 :]
    return name[:i] + name[i] + name[i:]


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    # ../shared next to the repository (a git worktree may sit one level deeper: look further up too)
    data = next((p / "shared" / "data" for p in here.parents if (p / "shared" / "data").is_dir()),
                here.parent / "shared" / "data")
    ap = argparse.ArgumentParser()
    ap.add_argument("--csl", type=Path, default=data / "us-csl-compact-2026-07-31" / "screening-list.json")
    ap.add_argument("--fixtures", type=Path, default=data / "yente-screening-fixtures")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--force-fork", action="store_true",
                    help="fork --workers processes whatever the load average (the library forks only when the other "
                         "CPUs look idle): to measure the multi-process CPU per name on a busy machine")
    args = ap.parse_args()
    if args.force_fork:
        from ecscreen.parties import matching

        matching._cpus_free = lambda workers: True  # type: ignore[assignment]
    print(f"machine: {os.cpu_count()} CPUs; load average before start {os.getloadavg()[0]:.2f}")

    sl = read_list(args.csl)
    t0 = time.perf_counter()
    m = Matcher(sl.entries)
    gc.freeze()  # as ecscreen.parties.store does for every matcher it keeps: the GC never rescans the index
    print(f"list: {sl.info.entries} entries, {sl.info.aliases} aliases -> {m.n_alias} indexed names, "
          f"{m.n_vocab} tokens; index built in {time.perf_counter() - t0:.2f}s")

    rng = random.Random(args.seed)
    names: list[str] = []
    for f in ("negatives_global.csv", "negatives_us.csv", "positives_un_untreated.csv", "positives_un_treated.csv"):
        with (args.fixtures / f).open(encoding="utf-8") as fh:
            names += [r["full_name"] for r in csv.DictReader(fh)]
    listed = rng.sample(m.alias_text, 3000)
    names += [_typo(rng, n) for n in listed]
    rng.shuffle(names)
    print(f"queries: {len(names):,} ({len(set(names)):,} distinct)")

    def run(label: str, fn: object) -> object:
        m.clear_caches()  # every run scores cold queries (no results or query words kept from the run before)
        load0 = os.getloadavg()[0]
        w0, c0 = time.perf_counter(), time.process_time()
        k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = fn()  # type: ignore[operator]
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = (k1.ru_utime - k0.ru_utime) + (k1.ru_stime - k0.ru_stime)
        cpu += child
        extra = (f" ({len(names) / cpu:,.0f} names per CPU-second = {cpu / len(names) * 1e6:.0f} us CPU per name, "
                 f"{cpu / wall:.2f} CPUs busy on average")
        # whether a multi-process run really forked (the matcher stays in one process when the load average says
        # the other CPUs are busy; the load the benchmark's own runs leave counts too)
        extra += f"; forked workers {child:.1f} CPU-s, load average at start {load0:.2f})" if "processes" in label else ")"
        print(f"  {label}: {wall:.2f}s wall -> {len(names) / wall:,.0f} names/s{extra}")
        return out

    raw = run("match_raw, 1 process", lambda: m.match_raw(names))
    hit_rows = sum(1 for h in raw if h)  # type: ignore[union-attr]
    print(f"    rows with a hit at threshold {m.config.threshold:g}: {hit_rows:,} ({hit_rows / len(names):.2%})")
    if args.workers > 1:
        from ecscreen.parties.matching import _cpus_free

        if not _cpus_free(args.workers) and not args.force_fork:
            print(f"  note: load average {os.getloadavg()[0]:.2f}: the other CPUs are busy, so workers={args.workers} "
                  "runs in one process (forking would be slower)")
        raw2 = run(
            f"match_raw, {args.workers} processes", lambda: m.match_raw(names, workers=args.workers)
        )
        print(f"    same results as 1 process: {raw2 == raw}")
    run("search_many (PartyHit + explanation), 1 process", lambda: m.search_many(names))
    if args.workers > 1:
        run(
            f"search_many, {args.workers} processes (whole searches forked)",
            lambda: m.search_many(names, workers=args.workers),
        )

    # agreement with the exhaustive reference on a sample (half listed names with typos, half rows)
    sample = rng.sample([_typo(rng, n) for n in listed], args.sample // 2) + rng.sample(names, args.sample // 2)
    t0 = time.perf_counter()
    blocked = m.match_raw(sample)
    t_blocked = time.perf_counter() - t0
    t0 = time.perf_counter()
    exhaustive = m.match_raw(sample, exhaustive=True)
    t_ex = time.perf_counter() - t0
    ref = {(i, e) for i, hs in enumerate(exhaustive) for e, _ in hs}
    got = {(i, e) for i, hs in enumerate(blocked) for e, _ in hs}
    same_scores = all(
        dict(b) == {e: s for e, s in x if e in dict(b)} for b, x in zip(blocked, exhaustive, strict=True)
    )
    print(f"exhaustive reference on {len(sample)} queries: {len(ref):,} (query, entry) hits; the index finds "
          f"{len(ref & got):,} = {len(ref & got) / max(len(ref), 1):.4%}, extra {len(got - ref)}; "
          f"identical scores: {same_scores}")
    print(f"  exhaustive scoring: {len(sample) / t_ex:,.0f} names/s; indexed: {len(sample) / t_blocked:,.0f} names/s")

    choices = [utils.default_process(a) for a in m.alias_text]
    qs = [utils.default_process(q) for q in sample]
    t0 = time.perf_counter()
    process.cdist(qs, choices, scorer=fuzz.token_sort_ratio, workers=2, score_cutoff=80, dtype="uint8")
    print(f"  baseline rapidfuzz cdist token_sort_ratio, 2 workers: {len(qs) / (time.perf_counter() - t0):,.0f} names/s")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
