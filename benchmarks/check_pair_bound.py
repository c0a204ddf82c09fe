"""Check the candidate kernel's pair bound (``ecscreen.parties.candidates.pair_bound``) pair by pair.

Usage:  PYTHONPATH=src python benchmarks/check_pair_bound.py [--sets sec,nse,bench] [--limit N]

For every candidate row the kernel asks the bound about (every posting of the blocking words) when the names and
their readings are screened at thresholds 60 (``search_many``'s candidates) and 80 (``match_raw``), computes the pair's real name score and its bound: the SEC company names, the
NSE names (benchmarks/data/nse-company-names.txt) and the speed benchmark's yente mix (bench_matching_speed.py:
100,000 synthetic negatives, 1,366 UN positives, 3,000 listed names with a typo). Counts the pairs whose score is
above their bound plus ``BOUND_SLACK`` (must be 0) and those the bound drops. Reads ../shared/data. Exit status 1 on
a violation.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHUNK = 512


def main() -> int:
    here = HERE.parent
    data = next((p / "shared" / "data" for p in here.parents if (p / "shared" / "data").is_dir()),
                here.parent / "shared" / "data")
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=data)
    ap.add_argument("--sets", default="sec,nse,bench")
    ap.add_argument("--limit", type=int, default=0, help="names per set (0: all)")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from matching_equivalence import _names

    from ecscreen.parties.candidates import BOUND_SLACK
    from ecscreen.parties.store import active_lists, matcher_for

    m = matcher_for(active_lists())
    sets: dict[str, list[str]] = {}
    if "sec" in args.sets:
        with (args.data / "sec-company-names-2025-08" / "sec_company_names.csv").open(encoding="utf-8") as fh:
            sets["sec"] = [r["name"] for r in csv.DictReader(fh)]
    if "nse" in args.sets:
        lines = (HERE / "data" / "nse-company-names.txt").read_text(encoding="utf-8").splitlines()
        sets["nse"] = [n.strip() for n in lines if n.strip() and not n.startswith("#")]
    if "bench" in args.sets:
        sets["bench"] = _names(args.data, m.alias_text)
    bad = 0
    for label, names in sets.items():
        names = list(dict.fromkeys(names[: args.limit] if args.limit else names))
        for thr in (60.0, 80.0):
            m.clear_caches()
            c0 = time.process_time()
            pairs = dropped = over = 0
            margin = float("inf")
            for i in range(0, len(names), CHUNK):
                bounds, scores = m.pair_bounds_and_scores(names[i : i + CHUNK], thr)
                pairs += len(scores)
                dropped += int((bounds < thr - BOUND_SLACK).sum())
                over += int((scores > bounds + BOUND_SLACK).sum())
                if len(scores):
                    margin = min(margin, float((bounds - scores).min()))
            bad += over
            print(f"{label} at {thr:g}: {len(names):,} names, {pairs:,} candidate pairs, bound drops {dropped:,} "
                  f"({dropped / max(pairs, 1):.1%}); score above bound + slack: {over}; smallest bound - score "
                  f"{margin:.4f} ({time.process_time() - c0:.1f} CPU-s)")
    print("OK" if not bad else f"VIOLATIONS: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
