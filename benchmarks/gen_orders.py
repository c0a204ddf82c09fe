"""Generate realistic synthetic ERP order lines for ``ecscreen batch``.

Usage:
  python benchmarks/gen_orders.py --rows 1000000 --out /tmp/orders-1m.csv [--seed 7] [--listed-share 0.02]

What is real: ECCNs and their headings come from the shipped Commerce Control List pack
(``rules/us-ear/chart/ccl.json``, 15 CFR 774 Supp. 1) when present, else from a built-in list of
common ECCNs; destinations are ISO 3166 countries (pycountry) weighted towards large export markets,
with a small share of embargoed and Country Group D destinations; a share of end users are real names
from the embedded restricted-party lists (``ecscreen.parties.store.load_default``) with typos (a letter
dropped, doubled, swapped or replaced, punctuation and legal forms changed). Everything else
(customer names, SKUs, quantities, values) is synthetic. Orders have 1-6 lines that share order id,
date, destination and parties, as ERP exports do. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CCL = ROOT / "rules" / "us-ear" / "chart" / "ccl.json"

COLUMNS = ["order_id", "date", "destination", "description", "eccn", "origin", "end_user", "end_user_country",
           "consignee", "consignee_country", "purchaser", "end_use", "us_content_percent", "param_tpp",
           "param_performance_density", "quantity", "value_usd", "sku"]

# Common ECCNs in commercial exports (used when the CCL pack is not available, and weighted up).
COMMON = {
    "5A992.c": "Mass-market encryption network equipment", "5D992.c": "Mass-market encryption software",
    "4A994.b": "Computers and related equipment", "3A991.a": "Microprocessor microcircuits",
    "3A992.a": "General purpose electronic test equipment", "2B999": "Specific processing equipment",
    "4D994": "Software for computers", "5A991.b": "Telecommunications equipment",
    "3A001.a.1": "Radiation-hardened integrated circuits", "5A002.a": "Information security systems",
    "2B001": "Machine tools for removing or cutting metals", "6A003.b.4": "Thermal imaging cameras",
    "9A991.d": "Aircraft parts and components", "1C350": "Chemicals that may be used as precursors",
    "3A090.a": "Data-center GPU accelerator", "4A090.a": "AI training server",
}
AI_CHIPS = ["Data-center GPU accelerator", "AI training accelerator module", "Inference accelerator card",
            "HBM GPU compute board"]
EAR99_ITEMS = ["Industrial PLC controller", "Centrifugal pump spare parts", "Office chair", "Laptop bag",
               "Hydraulic hose assembly", "LED lighting fixture", "Stainless steel fasteners", "Packaging film",
               "Air filter cartridge", "Electric motor 5 kW", "Printer toner", "Safety gloves", "Cable ties",
               "Conveyor belt", "Ball bearings", "Valve actuator", "Power supply unit 500 W", "Keyboard"]
END_USES = ["", "", "", "resale", "manufacturing", "research", "telecommunications network", "data center",
            "oil and gas", "automotive production", "university laboratory", "cloud AI training"]
# destination weights: big markets first, then a long tail of every ISO country
MARKETS = {"DE": 60, "GB": 45, "FR": 40, "JP": 50, "CN": 55, "CA": 55, "MX": 45, "KR": 35, "IN": 30, "NL": 30,
           "IT": 25, "BR": 20, "AU": 20, "SG": 20, "TW": 25, "HK": 12, "AE": 10, "TR": 8, "IL": 8, "RU": 3,
           "BY": 1, "IR": 0.5, "CU": 0.5, "KP": 0.1, "SY": 0.3, "VE": 2, "MO": 1, "VN": 10, "TH": 8, "MY": 8}
SYLL = ["tek", "nova", "tron", "ind", "star", "glob", "trans", "mec", "dyn", "syn", "vis", "alp", "omni", "terra",
        "qua", "lux", "kin", "vel", "pro", "zen", "ari", "mont", "sol", "bel", "cor", "fin", "gal", "hel"]
WORDS = ["Trading", "Industries", "Systems", "Electronics", "Logistics", "Technologies", "Holdings", "Import Export",
         "Engineering", "Solutions", "Manufacturing", "International", "Supply", "Components", "Machinery"]
FORMS = {"DE": "GmbH", "FR": "SARL", "GB": "Ltd", "JP": "K.K.", "CN": "Co., Ltd.", "NL": "B.V.", "IT": "S.r.l.",
         "BR": "Ltda", "MX": "S.A. de C.V.", "RU": "OOO", "KR": "Co., Ltd.", "IN": "Pvt Ltd"}


def _ccl_items(rng: random.Random) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if CCL.is_file():
        entries = json.loads(CCL.read_text(encoding="utf-8"))["entries"]
        for eccn, e in entries.items():
            head = " ".join(str(e.get("heading", "")).split()[:8]).rstrip(",;:.") or eccn
            if e.get("reasons"):
                out.append((eccn, head))
    return out or list(COMMON.items())


def _typo(name: str, rng: random.Random) -> str:
    n = list(name)
    kind = rng.random()
    letters = [i for i, c in enumerate(n) if c.isalpha()]
    if not letters:
        return name
    i = rng.choice(letters)
    if kind < 0.25:
        del n[i]
    elif kind < 0.45:
        n.insert(i, n[i])
    elif kind < 0.65 and i + 1 < len(n):
        n[i], n[i + 1] = n[i + 1], n[i]
    elif kind < 0.8:
        n[i] = rng.choice("aeiounrst")
    else:
        return name.replace(",", "").replace(".", "").replace("CO LTD", "Company Limited").title()
    return "".join(n)


def _listed_names(rng: random.Random, k: int) -> list[tuple[str, str]]:
    try:
        from ecscreen.parties.store import load_default
    except ImportError:
        return []
    entries = [e for e in load_default().entries if e.source_code in ("EL", "SDN", "MEU", "UVL", "DPL")]
    rng.shuffle(entries)
    return [(e.name, (e.countries or ["CN"])[0]) for e in entries[:k]]


def _company(rng: random.Random, country: str) -> str:
    base = "".join(rng.choice(SYLL) for _ in range(rng.randint(2, 3))).title()
    return f"{base} {rng.choice(WORDS)} {FORMS.get(country, 'Ltd')}"


def generate(rows: int, out, seed: int = 7, listed_share: float = 0.02, customers: int = 20000) -> int:
    import pycountry

    rng = random.Random(seed)
    all_codes = sorted(c.alpha_2 for c in pycountry.countries)
    weights = {c: MARKETS.get(c, 0.3) for c in all_codes}
    codes, wts = list(weights), list(weights.values())
    # customers: (name, country); a share are real listed names with typos
    listed = _listed_names(rng, max(1, int(customers * listed_share)))
    cust: list[tuple[str, str]] = []
    for name, country in listed:
        cust.append((_typo(name, rng) if rng.random() < 0.7 else name, country))
    while len(cust) < customers:
        c = rng.choices(codes, wts)[0]
        cust.append((_company(rng, c), c))
    rng.shuffle(cust)
    forwarders = [(_company(rng, c), c) for c in rng.choices(codes, wts, k=500)]
    # product catalog: SKUs with real ECCNs (60% EAR99, 20% common, 20% anywhere on the CCL)
    ccl = _ccl_items(rng)
    products: list[tuple[str, str, str, str, str]] = []
    for i in range(4000):
        r = rng.random()
        tpp = pd = ""
        if r < 0.6:
            eccn, desc = "EAR99", rng.choice(EAR99_ITEMS)
        elif r < 0.8:
            eccn, desc = rng.choice(list(COMMON.items()))
        else:
            eccn, desc = rng.choice(ccl)
        if eccn in ("3A090.a", "4A090.a") or (r > 0.995):
            desc = rng.choice(AI_CHIPS)
            tpp, pd = str(rng.choice([1200, 2400, 4800, 5200, 9000])), str(rng.choice([1.5, 3.5, 6.4]))
        if r < 0.6 and rng.random() < 0.03:
            eccn = ""  # unclassified lines
        products.append((f"SKU-{i:05d}", desc, eccn, tpp, pd))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    start = dt.date(2024, 1, 1)
    n = 0
    order = 0
    while n < rows:
        order += 1
        name, country = rng.choice(cust)
        dest = country if rng.random() < 0.9 else rng.choices(codes, wts)[0]
        fwd = rng.choice(forwarders) if rng.random() < 0.3 else ("", "")
        date = (start + dt.timedelta(days=rng.randrange(700))).isoformat()
        end_use = rng.choice(END_USES)
        purchaser = name if rng.random() < 0.5 else ""
        for _ in range(min(rng.choice([1, 1, 1, 2, 2, 3, 4, 6]), rows - n)):
            sku, desc, eccn, tpp, pd = rng.choice(products)
            origin = "US" if rng.random() < 0.85 else rng.choice(["DE", "JP", "TW", "CN", "KR", "MX"])
            usc = "" if origin == "US" else str(rng.choice([0, 5, 10, 20, 30, 50]))
            qty = rng.choice([1, 1, 2, 5, 10, 20, 100])
            writer.writerow([f"SO-{order:08d}", date, dest, desc, eccn, origin, name, country, fwd[0], fwd[1],
                             purchaser, end_use, usc, tpp, pd, qty,
                             f"{qty * rng.uniform(5, 5000):.2f}", sku])
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=None, help="CSV file (default stdout)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--listed-share", type=float, default=0.02, help="share of customers that are listed names")
    ap.add_argument("--customers", type=int, default=20000)
    a = ap.parse_args()
    t0 = time.perf_counter()
    if a.out is None:
        n = generate(a.rows, sys.stdout, a.seed, a.listed_share, a.customers)
    else:
        with a.out.open("w", encoding="utf-8", newline="") as fh:
            n = generate(a.rows, fh, a.seed, a.listed_share, a.customers)
    print(f"wrote {n:,} rows in {time.perf_counter() - t0:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
