"""Recall on real list entries disguised the way order data does it.

Usage:
  python benchmarks/bench_parties_recall.py [--sample 400] [--seed 11] [--show-misses]

Takes a fixed random sample of organisation entries of the embedded Consolidated Screening List (EL,
SDN, DPL, MEU, UVL; not individuals, vessels or aircraft), writes each the ways a customer master or an
order does -- exact name, an alias, case, punctuation, legal-form variant, one typo (one letter
changed in the longest word), word order, a generic word added ("Trading", "Group", "Europe" ...),
abbreviations ("Int'l", "Mfg.", "Corp.", "Tech") -- and screens every variant through
``Matcher.search_many`` (the calibrated path used by ``screen_parties``), threshold 80. A variant is
found when a hit names the entry itself or an entry with one of its names. Prints recall per class,
overall, and the share of strong (firm) hits. Targets (issue 11): >= 0.99 overall, 1.00 on exact names
and aliases.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import defaultdict

GENERIC = ["Trading", "Group", "Europe", "International", "Holding", "Company", "Industries"]
LEGAL_SWAP = [
    (r"\bCo\.?,? Ltd\.?", "Limited"), (r"\bLimited\b", "Ltd."), (r"\bLtd\.?", "Limited"), (r"\bLLC\b", "L.L.C."),
    (r"\bJSC\b", "Joint Stock Company"), (r"\bCorporation\b", "Corp."), (r"\bInc\.?", "Incorporated"),
    (r"\bGmbH\b", "G.m.b.H."), (r"\bOOO\b", "LLC"), (r"\bCompany\b", "Co."),
]
ABBREV = [
    (r"\bInternational\b", "Int'l"), (r"\bManufacturing\b", "Mfg."), (r"\bCorporation\b", "Corp."),
    (r"\bTechnolog(?:y|ies)\b", "Tech"), (r"\bCompany\b", "Co."), (r"\bIndustr(?:y|ies)\b", "Ind."),
    (r"\bElectronics?\b", "Elec."), (r"\bEngineering\b", "Eng."), (r"\bLimited\b", "Ltd"),
]


def variants(name: str, aliases: list[str], rnd: random.Random) -> dict[str, str]:
    out: dict[str, str] = {"exact": name}
    if aliases:
        out["alias"] = rnd.choice(aliases)
    out["case"] = name.upper() if name != name.upper() else name.title()
    out["punctuation"] = re.sub(r"[.,'\"()\-]", " ", name) if re.search(r"[.,'\"()\-]", name) else name + "."
    for pat, rep in LEGAL_SWAP:
        if re.search(pat, name, flags=re.I):
            out["legal_form"] = re.sub(pat, rep, name, count=1, flags=re.I)
            break
    else:
        out["legal_form"] = name + " Ltd."
    words = name.split()
    longest = max(range(len(words)), key=lambda k: (sum(c.isalpha() for c in words[k]), -k))
    w = words[longest]
    letters = [k for k, c in enumerate(w) if c.isalpha()]
    if len(letters) >= 6:
        k = letters[len(letters) // 2]
        repl = "e" if w[k].lower() != "e" else "a"
        typo = w[:k] + (repl.upper() if w[k].isupper() else repl) + w[k + 1 :]
        out["typo"] = " ".join(words[:longest] + [typo] + words[longest + 1 :])
    core = [x for x in words if x.isalpha()]
    if len(core) >= 2:
        out["word_order"] = " ".join(words[1:] + words[:1])
    out["generic_added"] = name + " " + rnd.choice(GENERIC)
    abbreviated = name
    for pat, rep in ABBREV:
        abbreviated = re.sub(pat, rep, abbreviated, flags=re.I)
    if abbreviated != name:
        out["abbreviated"] = abbreviated
    return out


def _strong(hit: object) -> bool:
    band = getattr(hit, "band", None)  # releases before the bands: a hit scoring >= 92 was firm
    return band == "strong" if band is not None else float(getattr(hit, "score", 0)) >= 92


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=400)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args()

    from ecscreen.domain.normalize import normalize
    from ecscreen.parties.store import active_lists, matcher_for

    m = matcher_for(active_lists())
    pool = [
        (k, e) for k, e in enumerate(m.entries)
        if e.source_code in ("EL", "SDN", "DPL", "MEU", "UVL") and (e.type or "Entity") == "Entity"
        and sum(c.isalpha() for c in e.name) >= 4 and len(e.name) <= 120
    ]
    rnd = random.Random(args.seed)
    sample = rnd.sample(pool, min(args.sample, len(pool)))
    keys: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for k, e in enumerate(m.entries):
        for text in (e.name, *e.aliases):
            keys[tuple(sorted(normalize(text).tokens))].add(k)
    rows: list[tuple[str, int, str]] = []
    for k, e in sample:
        for cls, text in variants(e.name, e.aliases, rnd).items():
            rows.append((cls, k, text))
    t0 = time.perf_counter()
    hits = m.search_many([r[2] for r in rows], threshold=80, limit=None)
    elapsed = time.perf_counter() - t0
    # by id and name, not by object: the matcher's entries are decoded on demand and may be dropped and decoded
    # again (LazyEntries), so a hit's entry need not be the object enumerated here
    index: dict[tuple[str, str], set[int]] = defaultdict(set)
    for k, e in enumerate(m.entries):
        index[(e.id, e.name)].add(k)
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (cls, k, text), hs in zip(rows, hits, strict=True):
        e = m.entries[k]
        same = {k}
        for t in (e.name, *e.aliases):
            same |= keys.get(tuple(sorted(normalize(t).tokens)), set())
        good = [h for h in hs if not index[(h.entry.id, h.entry.name)].isdisjoint(same)]
        for c in (cls, "overall"):
            found[c][0] += 1
            found[c][1] += bool(good)
            found[c][2] += any(_strong(h) for h in good)
        if not good and args.show_misses:
            print(f"MISS {cls:13} {text!r} (entry {e.id} {e.name!r}); hits: {[h.entry.name for h in hs[:2]]}")
    print(f"entries sampled: {len(sample)} (seed {args.seed}) of {len(pool)}; variants: {len(rows)}; "
          f"{elapsed:.1f} s")
    for cls in [*sorted(c for c in found if c != "overall"), "overall"]:
        n, ok, strong = found[cls]
        print(f"{cls:14} recall {ok / n:.3f} ({ok}/{n}); strong {strong / n:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
