"""Check the calibration's upper bound (``ecscreen.parties.matching.score_bound``) candidate by candidate.

Usage:  PYTHONPATH=src python benchmarks/check_score_bound.py [--sets sec,bench] [--limit N]

For every candidate the index proposes at the default threshold (what ``Matcher.calibrate`` is asked) for the SEC
company names (country GB and none) and the speed benchmark's yente mix (bench_matching_speed.py: 100,000 synthetic
negatives, 1,366 UN positives, 3,000 listed names with a typo; no country), computes the real calibrated total (every
feature summed, as ``calibrate`` does) and the bound, and counts candidates whose bound is below their total (must
be 0) and those the bound rules out at the default threshold. Reads ../shared/data. Exit status 1 on a violation.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    here = HERE.parent
    data = next((p / "shared" / "data" for p in here.parents if (p / "shared" / "data").is_dir()),
                here.parent / "shared" / "data")
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=data)
    ap.add_argument("--sets", default="sec,bench")
    ap.add_argument("--limit", type=int, default=0, help="names per set (0: all)")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from matching_equivalence import _names

    from ecscreen.parties import matching
    from ecscreen.parties.matching import Matcher
    from ecscreen.parties.store import active_lists, matcher_for

    m = matcher_for(active_lists())
    sets: dict[str, list[tuple[str, str | None]]] = {}
    if "sec" in args.sets:
        with (args.data / "sec-company-names-2025-08" / "sec_company_names.csv").open(encoding="utf-8") as fh:
            sec = [r["name"] for r in csv.DictReader(fh)]
        sets["sec"] = [(n, "GB") for n in sec] + [(n, None) for n in sec]
    if "bench" in args.sets:
        sets["bench"] = [(n, None) for n in _names(args.data, m.alias_text)]
    seen: dict[tuple[str, int, bool, str | None], None] = {}
    real = Matcher.calibrate

    def record(self: Matcher, name: str, alias: int, acronym: bool = False, country: str | None = None,
               threshold: float = 0.0) -> object:
        seen[(name, alias, acronym, country)] = None
        return real(self, name, alias, acronym, country, threshold)

    bad = 0
    for label, items in sets.items():
        if args.limit:
            items = items[: args.limit]
        seen.clear()
        m.clear_caches()
        Matcher.calibrate = record  # type: ignore[method-assign]
        try:
            m.search_many([n for n, _ in items], [c for _, c in items], limit=None)
        finally:
            Matcher.calibrate = real  # type: ignore[method-assign]
        c0 = time.process_time()
        bounded = ruled_out = worst = 0
        margin = float("inf")
        for name, alias, acronym, country in seen:
            ctx, pen = m._cal_context(name, alias, acronym, country)
            if ctx.acronym:
                continue
            bound = matching.score_bound(ctx, pen)
            total = 100.0 - pen + sum(p for fn in matching.FEATURES for _, p, _, _ in fn(ctx))
            bounded += 1
            ruled_out += bound < m.config.threshold
            margin = min(margin, bound - total)
            if bound < total - matching.BOUND_SLACK:
                worst += 1
                if worst <= 5:
                    print(f"  VIOLATION {name!r} ~ {m.alias_text[alias]!r} ({country}): bound {bound} < total {total}")
        bad += worst
        print(f"{label}: {len(items):,} names, {len(seen):,} candidates, {bounded:,} bounded (not acronyms): "
              f"{worst} with bound < real total (smallest bound - total {margin:.6f}); {ruled_out:,} "
              f"({ruled_out / max(bounded, 1):.1%}) ruled out at threshold {m.config.threshold:g} "
              f"[{time.process_time() - c0:.1f} CPU-s]")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
