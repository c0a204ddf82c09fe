"""Address screening benchmark on real list addresses (OFAC SDN add.csv 2021-07-07, UN XML 2026-02-27).

Figures printed:
- street-level list addresses indexed and the index build time;
- recall: each street-level list address rewritten the way order data writes it (Road/Rd, Street/St,
  Building/Bldg, Room/Rm/Flat/Unit, 18/F / 18th Floor, upper case, no commas, country dropped) must hit
  its own entry;
- false alarms on neighbouring premises: the same address with its street or unit number changed must
  NOT hit that entry (a different door in the same street or building);
- speed: party addresses screened per second.

Usage: python benchmarks/bench_addresses.py [path/to/shared/data]
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

from ecscreen.parties.addresses import AddressIndex, normalize_address
from ecscreen.parties.store import read_list

ROOT = Path(__file__).resolve().parents[1]

SWAPS = [
    (r"\bRoad\b", "Rd"), (r"\bRd\.?\b", "Road"), (r"\bStreet\b", "St."), (r"\bSt\.?(?=\s|,|$)", "Street"),
    (r"\bAvenue\b", "Ave"), (r"\bBuilding\b", "Bldg."), (r"\bBldg\.?\b", "Building"), (r"\bRoom\b", "Rm"),
    (r"\bFlat\b", "Unit"), (r"\bSuite\b", "Ste"), (r"\b(\d+)/F\b", r"\1th Floor"), (r"\b(\d+)(st|nd|rd|th) Floor\b", r"\1/F"),
    (r"\bFloor (\d+)\b", r"\1/F"), (r"\bNo\. ?(\d+)", r"\1"), (r"\bDistrict\b", "Dist."), (r"\bHong Kong\b", "HK"),
    (r"\bTower\b", "Twr"), (r"\bCentre\b", "Center"), (r"\bHouse\b", "Hse"),
]  # fmt: skip


def disguise(address: str, rng: random.Random) -> str:
    out = address
    for pat, rep in SWAPS:
        if rng.random() < 0.7:
            out = re.sub(pat, rep, out)
    if rng.random() < 0.5 and "," in out:
        out = out.rsplit(",", 1)[0]  # country dropped
    if rng.random() < 0.3:
        out = out.upper()
    if rng.random() < 0.3:
        out = out.replace(",", " ")
    return out


def neighbour(address: str) -> str | None:
    """The address with its first street/unit number changed (+2), or None if it has none."""
    key = normalize_address(address)
    plain = sorted(n.split(":", 1)[-1] for n in key.numbers if n.split(":", 1)[-1].isdigit())
    if not plain:
        return None
    target = plain[0]
    m = re.search(rf"(?<!\d){re.escape(target)}(?!\d)", address)
    if m is None:
        return None
    return address[: m.start()] + str(int(target) + 2) + address[m.end() :]


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        data = Path(argv[1])
    else:  # ../shared/data from the repo root (or from a parent, for worktrees)
        data = next((d / "shared" / "data" for d in ROOT.parents if (d / "shared" / "data").is_dir()),
                    ROOT.parent / "shared" / "data")  # fmt: skip
    lists = [
        read_list(data / "ofac-sdn-2021-07-07" / "sdn.csv"),
        read_list(data / "un-sc-consolidated-2026-02-27" / "UN_consolidated.xml"),
    ]
    entries = [e for sl in lists for e in sl.entries]
    n_addr = sum(len(e.addresses) for e in entries)
    t0 = time.perf_counter()
    index = AddressIndex(entries)
    build = time.perf_counter() - t0
    print(f"lists: {', '.join(f'{sl.info.name} ({sl.info.entries} entries, {sl.info.addresses} addresses)' for sl in lists)}")
    print(f"street-level addresses indexed: {len(index)} of {n_addr} ({build:.2f} s to build)")

    rng = random.Random(20261128)
    found = total = 0
    fa = fa_total = 0
    misses: list[tuple[str, str]] = []
    false_alarms: list[tuple[str, str]] = []
    queries: list[tuple[str, str | None]] = []
    for entry, addr, _key, country in index.items:
        variant = disguise(addr, rng)
        queries.append((variant, country))
        hits = index.search(variant, country)
        total += 1
        if any(h.entry.id == entry.id for h in hits):
            found += 1
        elif len(misses) < 8:
            misses.append((addr, variant))
        other = neighbour(addr)
        if other is not None:
            fa_total += 1
            if any(h.entry.id == entry.id and h.address == addr for h in index.search(other, country)):
                fa += 1
                if len(false_alarms) < 8:
                    false_alarms.append((addr, other))
    print(f"recall on disguised list addresses: {found}/{total} = {found / max(total, 1):.4f}")
    for a, v in misses:
        print(f"  miss: {a!r} -> {v!r}")
    print(f"neighbouring premises (number changed) still hitting the entry: {fa}/{fa_total} = {fa / max(fa_total, 1):.4f}")
    for a, v in false_alarms:
        print(f"  false alarm: {a!r} -> {v!r}")
    t0 = time.perf_counter()
    for q, c in queries:
        index.search(q, c)
    dt_s = time.perf_counter() - t0
    print(f"speed: {len(queries) / dt_s:,.0f} party addresses/s ({len(queries)} queries, {dt_s:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
