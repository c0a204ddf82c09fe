"""Decision distribution of the example shipments and the rule cases (issue 12: fail closed
without needless reviews). Prints counts per decision and, with ``--list``, one line per
shipment (``source  decision  fired-rule-ids``) so that two runs can be diffed.

Run from the repo root: ``python benchmarks/decision_distribution.py [--list]``.
"""

from __future__ import annotations

import collections
import datetime as dt
import sys
from pathlib import Path

import yaml

from ecscreen.engine.core import Engine
from ecscreen.inputs.files import load_shipments
from ecscreen.model import InputError, Shipment
from ecscreen.packs.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    show = "--list" in sys.argv
    eng = Engine.build(load_registry(), use_lists=True)
    rows: dict[str, list[tuple[str, str, str]]] = {"examples": [], "rulecases": []}
    for p in sorted((ROOT / "examples").rglob("*.yaml")):
        if p.name == "expected.yaml" or "ci" in p.relative_to(ROOT / "examples").parts:
            continue
        try:
            shipments = load_shipments(p)
        except Exception as exc:  # noqa: BLE001 - a whole-file error counts as an error decision
            rows["examples"].append((str(p.relative_to(ROOT)), "error", type(exc).__name__))
            continue
        for label, sh in shipments:
            src = f"{p.relative_to(ROOT)}:{label}"
            if isinstance(sh, InputError):
                rows["examples"].append((src, "error", sh.message[:60]))
                continue
            r = eng.screen_one(sh)
            rows["examples"].append((src, str(r.decision), ",".join(sorted({f.rule_id for f in r.findings}))))
    for f in sorted((ROOT / "tests" / "rulecases").glob("*.yaml")):
        data = yaml.safe_load(f.read_text("utf-8")) or {}
        for n, case in enumerate(data.get("cases", [])):
            src = f"{f.stem}[{n}]:{case.get('rule')}:{case.get('expect')}"
            try:
                sh = Shipment.model_validate(case["shipment"])
            except Exception as exc:  # noqa: BLE001
                rows["rulecases"].append((src, "error", str(exc).splitlines()[0][:60]))
                continue
            as_of = case.get("as_of")
            if isinstance(as_of, str):
                as_of = dt.date.fromisoformat(as_of)
            r = eng.screen_one(sh, as_of=as_of)
            rows["rulecases"].append((src, str(r.decision), ",".join(sorted({f.rule_id for f in r.findings}))))
    for name, rs in rows.items():
        counts = collections.Counter(d for _, d, _ in rs)
        order = ["clear", "review", "license_required", "prohibited", "error"]
        print(f"{name}: {len(rs)} shipments: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in order))
        if show:
            for src, d, fired in rs:
                print(f"  {src}\t{d}\t{fired}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
