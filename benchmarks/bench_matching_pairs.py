"""Pair-level quality on the nomenklatura name_bench cases (precision / recall / F1).

Usage:
  python benchmarks/bench_matching_pairs.py [--data ../shared/data] [--scorer screening|index] [--threshold T]
                                            [--sweep] [--errors N] [--half all|dev|held-out] [--svg FILE]

What counts as a match (the decision a user sees): each pair (name1 = the party, name2 = a list holding only
that name, entry type from the pair's schema: Person -> Individual, Vessel, else Entity) is screened the way
``screen_parties`` screens a party (``Matcher.compare_calibrated``: the index proposes candidates, the evidence
features score them) at the screening threshold (the party-list pack's ``threshold``, 80; the index proposes only
candidates with a name score >= min(threshold, ``candidate_threshold``), 60, as in screening). A pair is predicted
a match when screening reports a hit, in either band: a *possible* hit gives ``review``, a *strong* hit the list's
outcome (licence required / prohibited); no hit gives ``clear``. That is the headline figure (``--scorer
screening``, the default). The line "firm findings only" counts only strong hits (what screening asserts without
review). ``--scorer index`` scores with ``Matcher.compare``, the name score of the candidate index alone (a stage
before the evidence features; no user sees it as a decision), kept for comparison with earlier figures.
(``--calibrated``, the old name of ``--scorer screening``, is still accepted.) Until 2026-11-28 the headline
let the index propose candidates at any name score (``compare_calibrated_hit`` searches at threshold 0.01),
which screening never does: a pair the features would score >= 80 but the candidate stage drops (name score
< 60) was counted as found. That figure is still printed, in brackets, for comparison; the sweep and the
curve use it below the threshold.

Every figure is printed for all pairs, for the held-out third (a stable hash of the pair; not looked at while
tuning the scorer, the honest figure) and for the other two thirds (dev). The logic-v2 reference (OpenSanctions)
comes from logicv2-frozen.csv (threshold 0.70, an earlier revision of the cases: 812 pairs) and is recomputed on
the same rows.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from collections import defaultdict
from pathlib import Path

from ecscreen.parties.matching import ListEntry, Matcher
from ecscreen.parties.screening import load_pack
from ecscreen.parties.store import load_default


def prf(rows: list[tuple[bool, bool]]) -> tuple[float, float, float, int, int, int, int]:
    tp = sum(1 for truth, pred in rows if truth and pred)
    fp = sum(1 for truth, pred in rows if not truth and pred)
    fn = sum(1 for truth, pred in rows if truth and not pred)
    tn = len(rows) - tp - fp - fn
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, tp, fp, fn, tn


def held_out(case: dict[str, str]) -> bool:
    """The held-out third of the pairs, by a stable hash of the pair (never looked at while tuning the scorer)."""
    digest = hashlib.sha256(f"{case['name1']}\x1f{case['name2']}".encode()).digest()
    return digest[0] % 3 == 0


# FollowTheMoney schema -> list entry type; LegalEntity is FtM's parent of Person and Organization (a person or a
# firm), so the entry's type is not stated (None), not "Entity" as before 2026-11-28
_ENTRY_TYPE: dict[str, str | None] = {"Person": "Individual", "Vessel": "Vessel", "LegalEntity": None}


def pr_svg(curve: list[tuple[int, float, float]], operating: float, title: str) -> str:
    """A small self-contained SVG of precision (y) against recall (x), one point per threshold, the
    operating threshold marked; every 10th threshold labelled."""
    w, h, left, top, size = 460, 400, 60, 40, 320

    def xy(p: float, r: float) -> tuple[float, float]:
        return left + r * size, top + (1 - p) * size

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
           f'font-size="11">', f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="13">{title}</text>']
    for k in range(11):  # grid and tick labels
        v = k / 10
        x, y = xy(v, v)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + size}" stroke="#eee"/>')
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + size}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{top + size + 14}" text-anchor="middle">{v:.1f}</text>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#444"/>')
    out.append(f'<text x="{left + size / 2}" y="{h - 12}" text-anchor="middle">recall</text>')
    out.append(f'<text x="16" y="{top + size / 2}" text-anchor="middle" transform="rotate(-90 16 {top + size / 2})">'
               'precision</text>')
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(p, r) for _, p, r in curve if p > 0 or r > 0))
    out.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for t, p, r in curve:
        if p == 0 and r == 0:
            continue
        x, y = xy(p, r)
        if t == round(operating):
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#d62728"/>')
            out.append(f'<text x="{x - 8:.1f}" y="{y + 16:.1f}" text-anchor="end" fill="#d62728">threshold {t}: '
                       f'P {p:.3f} R {r:.3f} F1 {f1:.3f}</text>')
        elif t % 10 == 0:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1f77b4"/>')
            out.append(f'<text x="{x + 5:.1f}" y="{y - 5:.1f}">{t}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[1]
    ap.add_argument("--data", type=Path,  # ../shared/data from the repo root (a worktree may sit deeper)
                    default=next((d / "shared" / "data" for d in here.parents if (d / "shared" / "data").is_dir()),
                                 here.parent / "shared" / "data"))
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--sweep", action="store_true", help="also print P/R/F1 for thresholds 60..95")
    ap.add_argument("--errors", type=int, default=0, help="print this many misclassified pairs")
    ap.add_argument("--svg", type=Path, default=None,
                    help="write the precision-recall curve (thresholds 40..100) as an SVG file (no plotting library)")
    ap.add_argument("--scorer", choices=("screening", "index"), default="screening",
                    help="screening (default): the calibrated hits screen_parties reports (Matcher.compare_calibrated, "
                         "the list side gets the pair's schema as entry type); index: Matcher.compare, the candidate "
                         "index's name score alone")
    ap.add_argument("--calibrated", action="store_true", help="the old name of --scorer screening")
    ap.add_argument("--half", choices=("all", "dev", "held-out"), default="all",
                    help="print errors of this half only (dev: the two thirds looked at while tuning)")
    args = ap.parse_args()
    folder = args.data / "name-pairs-nomenklatura"
    with (folder / "cases.csv").open(encoding="utf-8") as fh:
        cases = list(csv.DictReader(fh))
    m = Matcher(load_default().entries)
    screening = args.scorer == "screening" or args.calibrated
    thr = (load_pack().threshold if screening else m.config.threshold) if args.threshold is None else args.threshold

    def screened(name1: str, name2: str, schema: str = "") -> tuple[float, bool]:
        """(score, strong?) of the best hit screening reports for name1 against a list holding only name2, the
        index proposing candidates at any name score (the calibrated score of every pair, for the sweep)."""
        et = _ENTRY_TYPE.get(schema, "Entity") if schema else None
        hit = m.compare_calibrated_hit(name1, name2, entry_type=et)
        return (hit.score, hit.band == "strong") if hit is not None else (0.0, False)

    def decided(name1: str, name2: str, schema: str = "") -> tuple[float, bool]:
        """(score, strong?) of the hit screening reports at the threshold, exactly as ``screen_parties`` does: the
        index proposes only candidates with a name score >= min(threshold, candidate_threshold) (60), then the
        features score them; (0, False) when no hit."""
        et = _ENTRY_TYPE.get(schema, "Entity") if schema else None
        one = Matcher([ListEntry(id="pair", source="pair", source_code="custom", name=name2, type=et)],
                      config=m.config)
        hits = one.search_many([name1], threshold=thr, limit=1)[0]
        return (hits[0].score, hits[0].band == "strong") if hits else (0.0, False)

    def score(name1: str, name2: str, schema: str = "") -> float:
        if not screening:
            return m.compare(name1, name2)
        loose = screened(name1, name2, schema)[0]
        return decided(name1, name2, schema)[0] if loose >= thr else loose

    truth = [c["is_match"].strip().lower() == "true" for c in cases]
    if screening:
        print(f"scores: screening (compare_calibrated) at the screening threshold {thr:g}; match = a hit reported "
              "in either band (possible -> review, strong -> the list's outcome)")
        got = [screened(c["name1"], c["name2"], c["schema"]) for c in cases]
        loose = [s for s, _ in got]
        p, r, f, tp, fp, fn, tn = prf([(t, s >= thr) for t, s in zip(truth, loose, strict=True)])
        print(f"  (candidates at any index score, the figure printed before 2026-11-28: P {p:.3f} R {r:.3f} "
              f"F1 {f:.3f}, TP {tp} FP {fp} FN {fn} TN {tn})")
        # a pair that scores below the threshold with every candidate is no hit on the screening path either
        got = [decided(c["name1"], c["name2"], c["schema"]) if s >= thr else (s, st)
               for c, (s, st) in zip(cases, got, strict=True)]
        scores = [s for s, _ in got]
    else:
        print(f"scores: index scorer (compare), threshold {thr:g}: the candidate stage, not a screening decision")
        scores = [score(c["name1"], c["name2"], c["schema"]) for c in cases]
    p, r, f, tp, fp, fn, tn = prf([(t, s >= thr) for t, s in zip(truth, scores, strict=True)])
    print(f"cases.csv: {len(cases)} pairs; ecscreen at threshold {thr:g}: precision {p:.3f} recall {r:.3f} "
          f"F1 {f:.3f} (TP {tp} FP {fp} FN {fn} TN {tn})")
    for label, part in (("dev", False), ("held-out", True)):
        rows = [(t, s >= thr) for c, t, s in zip(cases, truth, scores, strict=True) if held_out(c) == part]
        p2, r2, f2, tp2, fp2, fn2, tn2 = prf(rows)
        print(f"  {label + ' half':14s} n={len(rows):4d}  P {p2:.3f}  R {r2:.3f}  F1 {f2:.3f} "
              f"(TP {tp2} FP {fp2} FN {fn2} TN {tn2})")
    if screening:
        firm = [(t, s >= thr and strong) for t, (s, strong) in zip(truth, got, strict=True)]
        p2, r2, f2, tp2, fp2, fn2, _ = prf(firm)
        print(f"  firm findings only (strong band): P {p2:.3f}  R {r2:.3f}  F1 {f2:.3f} (TP {tp2} FP {fp2} FN {fn2})")
    by: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for c, t, s in zip(cases, truth, scores, strict=True):
        by[f"schema={c['schema']}"].append((t, s >= thr))
        by[f"quality={c['quality'] or 'MEDIUM'}"].append((t, s >= thr))
    for k in sorted(by):
        p2, r2, f2, *_ = prf(by[k])
        print(f"  {k:22s} n={len(by[k]):4d}  P {p2:.3f}  R {r2:.3f}  F1 {f2:.3f}")
    if args.sweep:
        for t2 in range(60, 96, 2):
            p2, r2, f2, *_ = prf([(t, s >= t2) for t, s in zip(truth, scores, strict=True)])
            print(f"  threshold {t2}: P {p2:.3f} R {r2:.3f} F1 {f2:.3f}")
    if args.svg is not None:
        curve = []
        for t2 in range(40, 101):
            p2, r2, *_ = prf([(t, s >= t2) for t, s in zip(truth, scores, strict=True)])
            curve.append((t2, p2, r2))
        title = f"nomenklatura name pairs ({len(cases)}), {'screening' if screening else 'index'} scorer"
        args.svg.write_text(pr_svg(curve, thr, title), encoding="utf-8")
        print(f"precision-recall curve written to {args.svg}")
    ref_path = folder / "logicv2-frozen.csv"
    if ref_path.is_file():
        with ref_path.open(encoding="utf-8") as fh:
            ref = list(csv.DictReader(fh))
        rows = [(x["is_match"].strip().lower() == "true", float(x["score"]) >= 0.70) for x in ref]
        p2, r2, f2, *_ = prf(rows)
        ours = [
            (x["is_match"].strip().lower() == "true", score(x["name1"], x["name2"], x["schema"]) >= thr) for x in ref
        ]
        p3, r3, f3, *_ = prf(ours)
        print(f"logicv2-frozen.csv: {len(ref)} pairs; logic-v2 (0.70): P {p2:.3f} R {r2:.3f} F1 {f2:.3f}; "
              f"ecscreen on the same pairs: P {p3:.3f} R {r3:.3f} F1 {f3:.3f}")
    shown = 0
    for c, t, s in zip(cases, truth, scores, strict=True):
        if shown >= args.errors:
            break
        if args.half != "all" and held_out(c) != (args.half == "held-out"):
            continue
        if t != (s >= thr):
            shown += 1
            print(f"  {'FN' if t else 'FP'} {s:6.2f}  {c['name1']!r} | {c['name2']!r}  [{c['category']}]")


if __name__ == "__main__":
    main()
