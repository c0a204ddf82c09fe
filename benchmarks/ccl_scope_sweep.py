"""Commerce Country Chart sweep (issue 13, "reading the CCL precisely"): every ECCN of the CCL pack,
as the bare entry and at every paragraph the data knows (the entry's own paragraphs in the deep
categories 1, 3, 4, 5 and every paragraph a control's scope names), read by ``chart.determine``
for twelve destinations (allies, footnote rows and D:5 rows). Prints how many pairs come out
clear / review / licence required and the review share: the figure to watch is review (work for a
person) without a licence requirement being read as clear. With ``--list`` one line per pair
(``ECCN|destination decision``) so that two runs can be diffed.

Run from the repo root: ``python benchmarks/ccl_scope_sweep.py [--list]``.
"""

from __future__ import annotations

import collections
import datetime as dt
import sys
import time

from ecscreen.domain.countries import resolve
from ecscreen.engine.chart import chart_index, determine
from ecscreen.model import Item, Outcome
from ecscreen.packs.registry import load_registry

DESTINATIONS = ["DE", "CN", "IN", "BR", "CA", "GB", "AT", "ZA", "EG", "AE", "MX", "SG"]
ON = dt.date(2026, 10, 1)


def main() -> int:
    reg = load_registry()
    idx = chart_index(reg)
    assert idx.ccl is not None
    dests = [resolve(d) for d in DESTINATIONS]
    counts: collections.Counter[str] = collections.Counter()
    lines: list[str] = []
    t0 = time.perf_counter()
    for eccn, entry in sorted(idx.ccl.entries.items()):
        paras = set(entry.paragraphs or [])
        for c in entry.controls:
            paras |= set(c.scope.paragraphs)
        for p in [""] + sorted(paras):
            code = eccn + ("." + p if p else "")
            item = Item(description="sweep", eccn=code)
            for d in dests:
                assert d is not None
                r = determine(item, 0, d, reg, ON)
                worst = Outcome.worst([f.outcome for f in r.findings]) if r.findings else Outcome.clear
                counts[worst.value] += 1
                lines.append(f"{code}|{d.code} {worst.value}")
    n = sum(counts.values())
    print(f"CCL sweep, {ON}: {n} ECCN-paragraph x destination pairs ({len(idx.ccl.entries)} entries, "
          f"{len(DESTINATIONS)} destinations) in {time.perf_counter() - t0:.1f}s")
    for k in ("clear", "review", "license_required", "prohibited"):
        print(f"  {k:<17} {counts.get(k, 0)}")
    print(f"review share: {counts.get('review', 0) / n:.4f}")
    if "--list" in sys.argv:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
