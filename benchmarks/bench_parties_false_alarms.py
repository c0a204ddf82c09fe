"""False alarms on real business names, through the real screening path.

Usage:
  python benchmarks/bench_parties_false_alarms.py [--sec CSV] [--labels YAML] [--limit N] [--show]

Every name of ``sec-company-names-2025-08`` (7,847 SEC registrants) becomes the end user of a shipment
of EAR99 office chairs to the United Kingdom, screened with ``ecscreen.engine.screen`` (embedded CSL,
shipped rule packs). A shipment that is not ``clear`` is a false alarm unless the name is labelled as a
true hit in ``benchmarks/data/sec-true-hits.yaml`` (each label with its reason). Prints the counts:
not clear (review / licence required / prohibited), firm (licence required or prohibited), and the
same after removing the labelled true hits. Targets (issue 11): <= 1 % not clear, <= 0.05 % firm.

``--names FILE`` runs a second real-name set (one name per line, or a CSV with a ``name`` column) the
same way, e.g. ``benchmarks/data/...``; ``--country`` sets the parties' country (default: none).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# ../shared/data relative to the repository root (a worktree under wt/ looks one level higher too)
DATA = next((d for d in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data") if d.is_dir()),
            ROOT.parent / "shared" / "data")
DEFAULT_SEC = DATA / "sec-company-names-2025-08" / "sec_company_names.csv"
DEFAULT_LABELS = HERE / "data" / "sec-true-hits.yaml"


def read_names(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        return [r["name"].strip() for r in csv.DictReader(text.splitlines()) if r.get("name", "").strip()]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=Path, default=DEFAULT_SEC)
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    ap.add_argument("--country", default=None, help="party country (default: none given)")
    ap.add_argument("--destination", default="GB")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--show", action="store_true", help="print every shipment that is not clear")
    args = ap.parse_args()

    from ecscreen.api import Screener
    from ecscreen.model import Item, Party, Shipment

    names = read_names(args.names)
    if args.limit:
        names = names[: args.limit]
    labels: dict[str, str] = {}
    if args.labels.is_file():
        data = yaml.safe_load(args.labels.read_text(encoding="utf-8")) or {}
        labels = {str(r["name"]): str(r["reason"]) for r in data.get("true_hits", [])}
    shipments = [
        Shipment(
            id=f"row-{i}",
            destination=args.destination,
            parties=[Party(role="end_user", name=n, country=args.country)],
            items=[Item(description="Office chairs", eccn="EAR99", origin="US")],
        )
        for i, n in enumerate(names)
    ]
    t0 = time.perf_counter()
    report = Screener(as_of=dt.date(2026, 8, 1)).report(shipments, today=dt.date(2026, 8, 1))
    elapsed = time.perf_counter() - t0
    decisions: Counter[str] = Counter()
    rest: Counter[str] = Counter()
    true_seen = 0
    for name, r in zip(names, report.results, strict=True):
        d = str(r.decision)
        decisions[d] += 1
        if d == "clear":
            continue
        if name in labels:
            true_seen += 1
            continue
        rest[d] += 1
        if args.show:
            fs = [f for f in r.findings if f.covered_by is None and f.outcome != "clear"]
            detail = " | ".join(
                f"{f.rule_id} {f.outcome}: " + "; ".join(str(e.matched) for e in f.evidence[:1]) + (
                    f" ({f.evidence[0].score})" if f.evidence and f.evidence[0].score is not None else "")
                for f in fs[:3]
            )
            print(f"{d:17} {name!r}: {detail}")
    n = len(names)
    others = n - true_seen
    not_clear = sum(rest.values())
    firm = rest["license_required"] + rest["prohibited"]
    print(f"names: {n} ({args.names.name}), destination {args.destination}, party country {args.country}")
    print(f"decisions (all): {dict(sorted(decisions.items()))}")
    print(f"labelled true hits not clear: {true_seen} (labels: {len(labels)})")
    print(f"false alarms among the other {others}: not clear {not_clear} ({100 * not_clear / max(others, 1):.2f} %), "
          f"firm {firm} ({100 * firm / max(others, 1):.3f} %); {dict(sorted(rest.items()))}")
    print(f"time: {elapsed:.1f} s ({n / elapsed:.0f} shipments/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
