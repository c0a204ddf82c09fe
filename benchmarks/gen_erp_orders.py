"""Generate an ERP order export that looks like today's work, for ``ecscreen batch`` benchmarks.

    python benchmarks/gen_erp_orders.py --rows 1000000 --out /tmp/erp-1m.csv [--as-of YYYY-MM-DD] [--seed 11]

Unlike ``gen_orders.py`` (kept for comparison: synthetic customers, orders dated 2024-2025), every order
here is dated within the 90 days before ``--as-of`` (default: today's date, printed), so the chart
determination every shipment of today goes through is on the hot path and today's rules apply. An
``--as-of`` before 2026-10-21 puts part of the window before the Commerce Country Chart snapshot
(2026-07-23): those orders' classified lines get the DATE-BEFORE-CHART review (with 2026-10-01, the
previous default, about 22 % of the orders). What is real:

* customers: a customer master of REAL business names — the 7,847 US public-company names of
  ``../shared/data/sec-company-names-2025-08`` (SEC EDGAR) — plus ``--listed-share`` (default 3 %) real
  restricted-party entries from the embedded CSL, written as ERPs write them (upper case, punctuation
  dropped, legal form abbreviated or spelled out, sometimes an alias); each customer has a home country;
* orders are drawn from the master by a Zipf-Mandelbrot law (``--zipf`` s, default 1.0; q = 5): most lines come from repeat
  customers, with a long tail of names seen once;
* ECCNs: EAR99 majority; 5A992.c/5D992.c, 3A991, 4A994; some 3A090/4A090 (with TPP and performance
  density), 3B001, 1C, 600-series, and a tail of any CCL entry from the shipped CCL pack;
* 36 destinations with export-market weights (allied markets first, China/HK/Taiwan/India, a thin share of
  Country Group D and embargoed destinations);
* 1-8 lines per order, sharing order id, date, destination and parties.

Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import itertools
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SEC_REL = Path("shared") / "data" / "sec-company-names-2025-08" / "sec_company_names.csv"
# ../shared next to the repository (a git worktree may sit one level deeper: look further up too)
SEC = next((p / _SEC_REL for p in ROOT.parents if (p / _SEC_REL).is_file()), ROOT.parent / _SEC_REL)
CCL = ROOT / "rules" / "us-ear" / "chart" / "ccl.json"

COLUMNS = ["order_id", "date", "destination", "description", "eccn", "origin", "end_user", "end_user_country",
           "consignee", "consignee_country", "purchaser", "end_use", "us_content_percent", "param_tpp",
           "param_performance_density", "quantity", "value_usd", "sku"]

# export-market weights (share of order lines, roughly US export statistics), 36 destinations
DESTINATIONS = {
    "CA": 16, "MX": 14, "CN": 7, "JP": 5, "GB": 5, "DE": 5, "KR": 4, "NL": 4, "TW": 3, "IN": 3, "FR": 3,
    "BR": 2.5, "SG": 2.5, "AU": 2.5, "IT": 2, "BE": 2, "CH": 2, "IE": 2, "IL": 1.5, "HK": 1.5, "MY": 1.5,
    "VN": 1.5, "TH": 1.2, "AE": 1.2, "SA": 1, "ES": 1.2, "SE": 1, "PL": 0.8, "TR": 0.8, "PH": 0.7,
    "CL": 0.6, "CO": 0.6, "ZA": 0.5, "RU": 0.15, "BY": 0.05, "IR": 0.02, "VE": 0.1, "MO": 0.1,
}
ITEMS = [  # (weight, eccn, description, params)
    (55, "EAR99", None, None),
    (8, "5A992.c", "Mass-market encryption network switch", None),
    (4, "5D992.c", "Mass-market encryption software licence", None),
    (5, "3A991.a", "Microprocessor microcircuit", None),
    (5, "4A994.b", "Computer workstation", None),
    (1.2, "3A090.a", "Data-center GPU accelerator", "ai"),
    (0.6, "4A090.a", "AI training server", "ai"),
    (0.8, "3B001.c", "Plasma etch chamber", None),
    (0.8, "1C350", "Precursor chemical", None),
    (0.5, "1C011.a", "Metal powder", None),
    (0.3, "9A610.x", "Military aircraft part", None),
    (0.3, "0A606.x", "Ground vehicle component (600 series)", None),
    (6, "CCL", None, None),  # any other CCL entry
]
EAR99_ITEMS = ["Industrial PLC controller", "Centrifugal pump spare parts", "Office chair", "Hydraulic hose assembly",
               "LED lighting fixture", "Stainless steel fasteners", "Packaging film", "Air filter cartridge",
               "Electric motor 5 kW", "Printer toner", "Safety gloves", "Ball bearings", "Valve actuator",
               "Power supply unit 500 W", "Keyboard", "Conveyor belt", "Laboratory glassware", "Cable assembly"]
END_USES = ["", "", "", "", "resale", "manufacturing", "research", "telecommunications network", "data center",
            "automotive production", "university laboratory"]
ZIPF_Q = 5  # flattens the head: the biggest customer has a few per cent of the lines, not a sixth
ERP_FORMS = {"CO., LTD.": "CO LTD", "CO. LTD.": "CO LTD", "COMPANY LIMITED": "CO LTD", "LIMITED": "LTD",
             "CORPORATION": "CORP", "INCORPORATED": "INC", "LLC": "L.L.C.", "JSC": "JOINT STOCK COMPANY"}


def _sec_names(path: Path = SEC) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [r["name"].strip() for r in csv.DictReader(fh) if r.get("name", "").strip()]


def _erp_spelling(name: str, rng: random.Random) -> str:
    s = name.upper()
    for a, b in ERP_FORMS.items():
        if rng.random() < 0.6:
            s = s.replace(a, b)
    if rng.random() < 0.7:
        s = re.sub(r"[.,;\"']", "", s)
    return re.sub(r"\s+", " ", s).strip()


def _listed(rng: random.Random, k: int) -> list[tuple[str, str]]:
    from ecscreen.parties.store import load_default

    entries = [e for e in load_default().entries if (e.type or "").lower() not in ("individual",)]
    rng.shuffle(entries)
    out = []
    for e in entries[:k]:
        name = rng.choice(e.aliases) if e.aliases and rng.random() < 0.2 else e.name
        country = next((c for c in e.countries if len(c) == 2), None) or "CN"
        out.append((_erp_spelling(name, rng), country))
    return out


def _ccl_tail() -> list[tuple[str, str]]:
    if not CCL.is_file():
        return [("3A001.a.1", "Radiation-hardened integrated circuit")]
    entries = json.loads(CCL.read_text(encoding="utf-8"))["entries"]
    return [(k, " ".join(str(v.get("heading", "")).split()[:6]).rstrip(",;:.") or k)
            for k, v in entries.items() if v.get("reasons")]


def generate(rows: int, out, *, as_of: dt.date, seed: int = 11, listed_share: float = 0.03,
             zipf: float = 1.0, names: list[str] | None = None) -> dict[str, int]:
    """Write ``rows`` order lines to ``out``. ``names``: the customer master's business names (default:
    the SEC registrant names of ../shared/data; the tests pass a small sample committed in the repo)."""
    rng = random.Random(seed)
    dests, dw = list(DESTINATIONS), list(DESTINATIONS.values())
    names = list(names) if names is not None else _sec_names()
    rng.shuffle(names)
    n_listed = max(1, int(len(names) * listed_share / (1 - listed_share)))
    master = [(n, rng.choices(dests, dw)[0]) for n in names] + _listed(rng, n_listed)
    rng.shuffle(master)
    # Zipf over customer rank: cumulative weights for bisect
    cum = list(itertools.accumulate(1.0 / ((r + ZIPF_Q) ** zipf) for r in range(1, len(master) + 1)))
    total = cum[-1]
    ccl = _ccl_tail()
    iw = [w for w, *_ in ITEMS]
    products = []
    for i in range(5000):
        _, eccn, desc, params = rng.choices(ITEMS, iw)[0]
        if eccn == "EAR99":
            desc = rng.choice(EAR99_ITEMS)
        elif eccn == "CCL":
            eccn, desc = rng.choice(ccl)
        tpp = pd = ""
        if params == "ai":
            tpp, pd = str(rng.choice([2400, 4800, 5200, 9000, 16000])), str(rng.choice([1.5, 3.5, 6.4, 12.0]))
        products.append((f"SKU-{i:05d}", desc, eccn, tpp, pd))
    forwarders = [(_erp_spelling(rng.choice(names), rng), rng.choices(dests, dw)[0]) for _ in range(300)]
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    n = order = 0
    while n < rows:
        order += 1
        name, home = master[min(bisect.bisect_left(cum, rng.random() * total), len(master) - 1)]
        dest = home if rng.random() < 0.9 else rng.choices(dests, dw)[0]
        fwd = rng.choice(forwarders) if rng.random() < 0.25 else ("", "")
        date = (as_of - dt.timedelta(days=rng.randrange(90))).isoformat()
        end_use = rng.choice(END_USES)
        purchaser = name if rng.random() < 0.5 else ""
        for _ in range(min(rng.randint(1, 8) if rng.random() < 0.5 else 1, rows - n)):
            sku, desc, eccn, tpp, pd = rng.choice(products)
            origin = "US" if rng.random() < 0.85 else rng.choice(["DE", "JP", "TW", "KR", "MX", "CN"])
            usc = "" if origin == "US" else str(rng.choice([0, 5, 10, 20, 30]))
            qty = rng.choice([1, 1, 2, 5, 10, 20, 100])
            w.writerow([f"SO-{order:08d}", date, dest, desc, eccn, origin, name, home, fwd[0], fwd[1], purchaser,
                        end_use, usc, tpp, pd, qty, f"{qty * rng.uniform(5, 5000):.2f}", sku])
            n += 1
    return {"rows": n, "orders": order, "customers": len(master), "listed_customers": n_listed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=None, help="CSV file (default stdout)")
    ap.add_argument("--as-of", default=None,
                    help="orders are dated in the 90 days before this date (default: today)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--listed-share", type=float, default=0.03, help="share of the customer master on the lists")
    ap.add_argument("--zipf", type=float, default=1.0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    as_of = dt.date.fromisoformat(a.as_of) if a.as_of else dt.date.today()
    print(f"as-of {as_of.isoformat()}: orders dated {(as_of - dt.timedelta(days=89)).isoformat()} to "
          f"{as_of.isoformat()}", file=sys.stderr)
    if a.out is None:
        stats = generate(a.rows, sys.stdout, as_of=as_of, seed=a.seed, listed_share=a.listed_share, zipf=a.zipf)
    else:
        with a.out.open("w", encoding="utf-8", newline="") as fh:
            stats = generate(a.rows, fh, as_of=as_of, seed=a.seed, listed_share=a.listed_share, zipf=a.zipf)
    print(f"wrote {stats['rows']:,} rows, {stats['orders']:,} orders, {stats['customers']:,} customers "
          f"({stats['listed_customers']} listed) in {time.perf_counter() - t0:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
