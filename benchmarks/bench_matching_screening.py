"""Screening-level quality: UN positives (clean + typo-treated) and synthetic negatives vs the UN list.

Usage:
  python benchmarks/bench_matching_screening.py [--data ../shared/data] [--threshold T] [--limit-negatives N]

Data: yente-screening-fixtures (OpenSanctions, MIT; positives CC BY-NC derived) and the UN SC consolidated
XML of 2026-02-27. A positive counts as found when the UN entry whose name or alias equals the clean
name (after normalisation) is among the hits for the row. False-positive rate = share of negative rows
with at least one hit.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from ecscreen.domain.normalize import normalize
from ecscreen.parties.matching import Matcher
from ecscreen.parties.store import read_list


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def main() -> None:
    ap = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[1]
    ap.add_argument("--data", type=Path,  # ../shared/data from the repo root (a worktree may sit deeper)
                    default=next((d / "shared" / "data" for d in here.parents if (d / "shared" / "data").is_dir()),
                                 here.parent / "shared" / "data"))
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--limit-negatives", type=int, default=0)
    ap.add_argument("--show", type=int, default=10, help="print this many misses / false positives")
    ap.add_argument("--calibrated", action="store_true",
                    help="score with search_many (the calibrated hits screen_parties uses) instead of match_raw")
    args = ap.parse_args()
    fx = args.data / "yente-screening-fixtures"
    un = read_list(args.data / "un-sc-consolidated-2026-02-27" / "UN_consolidated.xml")
    t0 = time.perf_counter()
    m = Matcher(un.entries)
    print(f"UN list: {len(un.entries)} entries, {m.n_alias} indexed names; index built in {time.perf_counter() - t0:.2f}s")
    thr = m.config.threshold if args.threshold is None else args.threshold
    print(f"threshold {thr}; {'calibrated hits (search_many)' if args.calibrated else 'index scores (match_raw)'}")

    def run(names: list[str]) -> list[list[tuple[int, float]]]:
        if not args.calibrated:
            return m.match_raw(names, threshold=thr)
        index = {id(e): k for k, e in enumerate(m.entries)}
        return [[(index[id(h.entry)], h.score) for h in hs] for hs in m.search_many(names, threshold=thr, limit=None)]

    # ground truth: entry whose name/alias has the clean name's token set
    by_key: dict[tuple[str, ...], set[int]] = {}
    for ai, nn in enumerate(m.alias_norm):
        by_key.setdefault(tuple(sorted(nn.tokens)), set()).add(int(m.alias_entry[ai]))
    clean = _rows(fx / "positives_un_untreated.csv")
    treated = _rows(fx / "positives_un_treated.csv")
    truth = [by_key.get(tuple(sorted(normalize(r["full_name"]).tokens)), set()) for r in clean]
    known = [i for i, t in enumerate(truth) if t]
    print(f"positives: {len(clean)} rows, {len(known)} with an identifiable UN entry")
    for label, rows in (("clean", clean), ("typo-treated", treated)):
        names = [rows[i]["full_name"] for i in known]
        t0 = time.perf_counter()
        raw = run(names)
        dt_ = time.perf_counter() - t0
        found = [bool(truth[i] & {ei for ei, _ in hits}) for i, hits in zip(known, raw, strict=True)]
        recall = sum(found) / len(found)
        changed = [k for k, i in enumerate(known) if clean[i]["full_name"] != treated[i]["full_name"]]
        rec_changed = sum(found[k] for k in changed) / max(len(changed), 1)
        print(f"  recall {label}: {recall:.4f} ({sum(found)}/{len(found)}); on the {len(changed)} perturbed rows "
              f"{rec_changed:.4f}; {len(names) / dt_:,.0f} names/s")
        misses = [names[k] for k, ok in enumerate(found) if not ok]
        for n in misses[: args.show]:
            print(f"     miss: {n!r}")
    neg_rows = neg_hits = 0
    for fname in ("negatives_global.csv", "negatives_us.csv", "positives_us_congress_untreated.csv"):
        rows = _rows(fx / fname)
        if args.limit_negatives:
            rows = rows[: args.limit_negatives]
        names = [r["full_name"] for r in rows]
        t0 = time.perf_counter()
        raw = run(names)
        dt_ = time.perf_counter() - t0
        hit_rows = [i for i, h in enumerate(raw) if h]
        if fname.startswith("negatives"):
            neg_rows += len(rows)
            neg_hits += len(hit_rows)
        print(f"  false-positive rate {fname}: {len(hit_rows) / len(rows):.4%} ({len(hit_rows)}/{len(rows)}); "
              f"{len(rows) / dt_:,.0f} names/s")
        for i in hit_rows[: args.show]:
            ei, sc = raw[i][0]
            print(f"     fp: {names[i]!r} -> {m.entries[ei].name!r} ({sc})")
    print(f"false-positive rate on all {neg_rows:,} synthetic negatives: {neg_hits / max(neg_rows, 1):.4%} "
          f"({neg_hits} rows with a hit)")


if __name__ == "__main__":
    main()
