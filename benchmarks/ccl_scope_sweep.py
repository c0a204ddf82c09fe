"""Commerce Country Chart sweep (issue 13, "reading the CCL precisely"): every ECCN of the CCL pack,
as the bare entry and at every paragraph the data knows (the entry's own paragraphs in the deep
categories 1, 3, 4, 5 and every paragraph a control's scope names), read by ``chart.determine``
for twelve destinations (allies, footnote rows and D:5 rows). Prints how many pairs come out
clear / review / licence required and the review share: the figure to watch is review (work for a
person) without a licence requirement being read as clear. With ``--list`` one line per pair
(``ECCN|destination decision``) so that two runs can be diffed.

Second part (items[].for_eccn): every pair of an entry with a control whose scope points to other entries
("software for items controlled by 1B001 for NP reasons") is read again once for each ECCN such a scope of
the entry names, and for EAR99 (an item outside them): the decision with the ECCN the item is for stated,
against the same item without it, with the transitions between them (a clear <-> licence change would be a
regression: stating the fact may only settle a review).

Run from the repo root: ``python benchmarks/ccl_scope_sweep.py [--list]``.
"""

from __future__ import annotations

import collections
import datetime as dt
import sys
import time

from ecscreen.domain.countries import Country, resolve
from ecscreen.engine.chart import chart_index, determine
from ecscreen.model import Item, Outcome
from ecscreen.packs.registry import Registry, load_registry

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
    _for_eccn(reg, dests)
    if "--list" in sys.argv:
        print("\n".join(lines))
    return 0


def _worst(item: Item, d: Country, reg: Registry) -> str:
    r = determine(item, 0, d, reg, ON)
    return (Outcome.worst([f.outcome for f in r.findings]) if r.findings else Outcome.clear).value


def _for_eccn(reg: Registry, dests: list[Country]) -> None:
    idx = chart_index(reg)
    assert idx.ccl is not None
    before: collections.Counter[str] = collections.Counter()
    after: collections.Counter[str] = collections.Counter()
    moves: collections.Counter[tuple[str, str]] = collections.Counter()
    n_entries = 0
    t0 = time.perf_counter()
    for eccn, entry in sorted(idx.ccl.entries.items()):
        targets = sorted({r.eccn for c in entry.controls for r in c.scope.refers})
        if not targets:
            continue
        n_entries += 1
        paras = set(entry.paragraphs or [])
        for c in entry.controls:
            paras |= set(c.scope.paragraphs)
        for p in [""] + sorted(paras):
            code = eccn + ("." + p if p else "")
            for d in dests:
                w0 = _worst(Item(description="sweep", eccn=code), d, reg)
                for fe in targets + ["EAR99"]:
                    w1 = _worst(Item(description="sweep", eccn=code, for_eccn=fe), d, reg)
                    before[w0] += 1
                    after[w1] += 1
                    moves[(w0, w1)] += 1
    n = sum(after.values())
    print(f"\nitems[].for_eccn: {n} ECCN-paragraph x destination x for_eccn triples ({n_entries} entries whose "
          f"controls point to other entries; each ECCN they name, and EAR99) in {time.perf_counter() - t0:.1f}s")
    print(f"  {'':<17} {'not stated':>10} {'stated':>10}")
    for k in ("clear", "review", "license_required", "prohibited"):
        print(f"  {k:<17} {before.get(k, 0):>10} {after.get(k, 0):>10}")
    print(f"review share: {before.get('review', 0) / n:.4f} -> {after.get('review', 0) / n:.4f}")
    print("transitions (not stated -> stated): " + ", ".join(
        f"{a} -> {b} {m}" for (a, b), m in sorted(moves.items()) if a != b))


if __name__ == "__main__":
    raise SystemExit(main())
