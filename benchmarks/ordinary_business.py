"""Ordinary-business benchmark (issue 13): EAR99 goods, AT-only items and advanced-computing items
shipped to allied destinations on 2026-10-01, each with an ordinary named end user in the destination
and an ordinary end-use statement. A careful compliance officer clears every one of them (no licence
under the Commerce Country Chart, no end-use or end-user concern, and, for 3A090 / 4A090, outside the
scope BIS enforces). The figure to watch: shipments decided ``review`` or worse must be 0.

Run from the repo root: ``python benchmarks/ordinary_business.py [--policy cfr-text] [--list]``.
With ``--policy cfr-text`` the codified AI Diffusion text decides instead (advanced-computing items
then need a licence worldwide; printed for information, not a target).
"""

from __future__ import annotations

import collections
import sys
import time

from ecscreen.engine.core import Engine
from ecscreen.model import Shipment
from ecscreen.packs.registry import load_registry

DATE = "2026-10-01"
# Country Group A:1 / A:5 destinations (allies), with an ordinary end user in each
ALLIES = {
    "DE": "Müller Maschinenbau GmbH", "FR": "Ateliers Durand SARL", "GB": "Hartley Engineering Ltd",
    "JP": "Sato Precision Co., Ltd.", "KR": "Hanbit Industrial Co., Ltd.", "AU": "Southern Cross Fabrication Pty Ltd",
    "CA": "Maple Ridge Controls Inc.", "NL": "Van Dijk Techniek B.V.", "IT": "Officine Bianchi S.r.l.",
    "ES": "Talleres García S.L.", "SE": "Lindqvist Verkstad AB", "NO": "Fjord Automasjon AS",
    "FI": "Korhonen Tekniikka Oy", "DK": "Nielsen Maskinfabrik A/S", "BE": "Peeters Industrie NV",
    "AT": "Huber Anlagenbau GmbH", "IE": "Shannon Components Ltd", "NZ": "Kiwi Process Systems Ltd",
    "CH": "Keller Feinmechanik AG", "PL": "Nowak Automatyka Sp. z o.o.", "PT": "Metalurgica Silva Lda",
    "CZ": "Novak Strojirna s.r.o.", "IN": "Sharma Precision Tools Pvt Ltd", "US": "Riverside Machine Works LLC",
}
END_USES = ["warehouse automation line", "university teaching laboratory", "hospital IT network",
            "food packaging plant; not for military use", "automotive parts production", "office equipment refresh",
            "data centre for a retail bank", "renewable energy monitoring"]
# (description, ECCN, HTS code) - EAR99, AT-only and advanced-computing items
ITEMS = [
    ("Office chairs", "EAR99", "9401.31"), ("Centrifugal water pumps", "EAR99", "8413.70"),
    ("Stainless steel ball valves", "EAR99", "8481.80"), ("Cotton work gloves", "EAR99", "6116.92"),
    ("Hand tools set", "EAR99", "8206.00"), ("LED lighting fixtures", "EAR99", "9405.42"),
    ("Industrial adhesive", "EAR99", "3506.91"), ("Forklift spare parts", "EAR99", "8431.20"),
    ("Notebook computers", "5A992.c", "8471.30"), ("Wi-Fi access points", "5A992.c", "8517.62"),
    ("Mass-market encryption software", "5D992.c", None), ("Desktop computers", "4A994.b", "8471.41"),
    ("General-purpose microcontrollers", "3A991.a.2", "8542.31"), ("Oscilloscope", "3A992.a", "9030.20"),
    ("Passenger car parts", "9A991.d", "8708.99"), ("Ruggedised tablets", "5A992.c", "8471.30"),
    ("Datacenter GPU accelerator", "3A090.a", "8473.30"), ("AI inference card", "3A090.b", "8473.30"),
    ("AI training server", "4A090.a", "8471.50"), ("Inference server", "4A090.b", "8471.50"),
]


def shipments() -> list[tuple[str, Shipment]]:
    out = []
    n = 0
    for dest, user in ALLIES.items():
        for desc, eccn, hts in ITEMS:
            item = {"description": desc, "eccn": eccn, "origin": "US"}
            if hts:
                item["hts_code"] = hts
            sh = Shipment.model_validate({
                "id": f"{dest}-{n}", "destination": dest, "date": DATE, "end_use": END_USES[n % len(END_USES)],
                "parties": [{"role": "end_user", "name": user, "country": dest}], "items": [item]})
            out.append((f"{dest} {eccn} {desc}", sh))
            n += 1
    return out


def main() -> int:
    policy = sys.argv[sys.argv.index("--policy") + 1] if "--policy" in sys.argv else "enforced"
    eng = Engine.build(load_registry(), use_lists=True, policy=policy)
    ships = shipments()
    t0 = time.perf_counter()
    counts: collections.Counter[str] = collections.Counter()
    bad: list[str] = []
    for label, sh in ships:
        r = eng.screen_one(sh)
        d = r.decision if isinstance(r.decision, str) else r.decision.value
        counts[d] += 1
        if d != "clear":
            fired = ",".join(sorted({f.rule_id for f in r.findings if f.covered_by is None and f.outcome.value != "clear"}))
            bad.append(f"  {label}: {d} [{fired}]")
    dt_s = time.perf_counter() - t0
    print(f"ordinary-business benchmark, {DATE}, policy {policy}: {len(ships)} shipments "
          f"({len(ALLIES)} allied destinations x {len(ITEMS)} items) in {dt_s:.2f}s")
    for k in ("clear", "review", "license_required", "prohibited", "error"):
        print(f"  {k:17s} {counts.get(k, 0)}")
    print(f"review or worse: {len(bad)}")
    if bad and ("--list" in sys.argv or policy == "enforced"):
        print("\n".join(bad[:200]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
