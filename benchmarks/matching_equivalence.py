"""Old-vs-new equivalence of the party matcher over ~135,000 searches (speed work must not change results).

Usage (run each dump from its checkout's directory: the own-format lists under rules/ are screened too):
  cd <old checkout> && PYTHONPATH=src python <this file> --out /tmp/old.jsonl
  cd <new checkout> && PYTHONPATH=src python <this file> --out /tmp/new.jsonl
  python benchmarks/matching_equivalence.py --compare /tmp/old.jsonl /tmp/new.jsonl

The dump holds every hit (entry, alias, score, name score, band, explanation, features, firm block, what would
confirm it, country match) of ``search_many`` against the embedded lists for:
  * the speed benchmark's names (bench_matching_speed.py: 100,000 yente negatives, 1,366 UN positives, 3,000
    listed names with a seeded typo), no country;
  * the SEC company names (7,847) with country GB and with none;
  * the NSE names (benchmarks/data/nse-company-names.txt) with IN and with CN;
  * the disguised list entries of bench_parties_recall.py (1,500 entries, every variant, the entry's country);
and ``match_raw`` of the speed benchmark's names at thresholds 80 and 60; then 4,000 of these names searched one
per call (the small-chunk kernel path of ``check`` / ``serve``) and ``may_match`` + ``search`` against a 300-name
index (a pack's names list). The pinned 400 names of
tests/test_matching_equivalence.py are too few to catch a pruning bug that touches one name in 10,000.
Reads ../shared/data (the yente fixtures and the SEC names).

``--kernel single`` screens every name alone through the plain-Python single-query kernel
(ecscreen.parties.kernel_single, what a one-shipment ``check`` uses; index loaded from its cache, flat arrays),
``--kernel numpy`` every name alone through the numpy kernel; ``--sets sec,nse`` limits the dump to some sets
(``match_raw`` is dumped with the ``bench`` set). Two dumps of the same sets compare with ``--compare``:
  PYTHONPATH=src python benchmarks/matching_equivalence.py --kernel numpy --sets sec,nse,recall --out /tmp/n.jsonl
  PYTHONPATH=src python benchmarks/matching_equivalence.py --kernel single --sets sec,nse,recall --out /tmp/s.jsonl
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _names(data: Path, alias_text: list[str]) -> list[str]:
    sys.path.insert(0, str(HERE))
    from bench_matching_speed import _typo

    rng = random.Random(7)  # the speed benchmark's mix, in its order
    names: list[str] = []
    for f in ("negatives_global.csv", "negatives_us.csv", "positives_un_untreated.csv", "positives_un_treated.csv"):
        with (data / "yente-screening-fixtures" / f).open(encoding="utf-8") as fh:
            names += [r["full_name"] for r in csv.DictReader(fh)]
    listed = rng.sample(alias_text, 3000)
    names += [_typo(rng, n) for n in listed]
    rng.shuffle(names)
    return names


def _dump_hit(h: Any) -> list[Any]:
    return [h.entry.id, h.matched_alias, h.score, h.name_score, h.band, h.explanation,
            [[f.name, f.points, f.reason] for f in h.features], h.firm_block, h.confirm_with, h.country_match]


def _kernel(m: Any, kernel: str) -> int:
    """Set up ``m`` for ``kernel``; the chunk size of the searches (1 = every name alone, as a check screens).
    ``auto`` imports nothing new: the script runs against an older checkout too (equivalence against main)."""
    if kernel == "single":
        from ecscreen.parties import kernel_single
        from ecscreen.parties.indexcache import FlatArray

        if not isinstance(m.a_tok, FlatArray):
            raise SystemExit("--kernel single needs the index loaded from its cache: run once to fill it")
        kernel_single.MAX_POSTINGS = kernel_single.LONG_LIVED_CHUNKS = 10**12
        return 1
    if kernel == "numpy":
        m._numpy_arrays()
        m._del_index._to_numpy()
        return 1
    from ecscreen.parties.matching import CHUNK_NAMES

    return CHUNK_NAMES


def dump(out: Path, data: Path, kernel: str = "auto", only: set[str] | None = None) -> None:
    sys.path.insert(0, str(HERE))
    import bench_parties_recall as rec

    from ecscreen.parties.store import active_lists, matcher_for

    m = matcher_for(active_lists())
    chunk = _kernel(m, kernel)
    names = _names(data, m.alias_text)
    sets: dict[str, list[tuple[str, str | None]]] = {"bench": [(n, None) for n in names]}
    with (data / "sec-company-names-2025-08" / "sec_company_names.csv").open(encoding="utf-8") as fh:
        sec = [r["name"] for r in csv.DictReader(fh)]
    sets["sec"] = [(n, "GB") for n in sec] + [(n, None) for n in sec]
    nse = [line.strip() for line in (HERE / "data" / "nse-company-names.txt").read_text(encoding="utf-8").splitlines()
           if line.strip() and not line.startswith("#")]
    sets["nse"] = [(n, "IN") for n in nse] + [(n, "CN") for n in nse]
    pool = [(k, e) for k, e in enumerate(m.entries)
            if e.source_code in ("EL", "SDN", "DPL", "MEU", "UVL") and (e.type or "Entity") == "Entity"
            and sum(c.isalpha() for c in e.name) >= 4 and len(e.name) <= 120]
    rnd = random.Random(11)
    sets["recall"] = [(text, e.countries[0] if e.countries else None)
                      for _, e in rnd.sample(pool, min(1500, len(pool)))
                      for text in rec.variants(e.name, e.aliases, rnd).values()]
    if only:
        sets = {k: v for k, v in sets.items() if k in only}
    with out.open("w", encoding="utf-8") as fo:
        for label, items in sets.items():
            m.clear_caches()
            c0 = time.process_time()
            res = m.search_many([n for n, _ in items], [c for _, c in items], limit=None, chunk_size=chunk)
            cpu = time.process_time() - c0
            print(f"{label}: {len(items):,} searches, {sum(1 for r in res if r):,} with hits, {cpu:.1f} CPU-s")
            for (n, cc), hits in zip(items, res, strict=True):
                fo.write(json.dumps([label, n, cc, [_dump_hit(h) for h in hits]], ensure_ascii=False) + "\n")
        m.clear_caches()
        for thr in (80.0, 60.0) if not only or "bench" in only else ():
            raw = m.match_raw(names, threshold=thr)
            fo.write(json.dumps(["match_raw", thr, raw]) + "\n")
            print(f"match_raw at {thr:g}: {sum(1 for r in raw if r):,} names with hits")
        # one name per call, as `check`, `serve` and a pack's names list search (small chunks: the plain-Python
        # kernel path), and may_match against a names-list-sized index
        singles = names[:2000] + [n for n, _ in sets["recall"][:1000]] + sec[:1000]
        m.clear_caches()
        c0 = time.process_time()
        for n in singles:
            fo.write(json.dumps(["single", n, [_dump_hit(h) for h in m.search(n, limit=None)]], ensure_ascii=False)
                     + "\n")
        print(f"single: {len(singles):,} searches one name per call, {time.process_time() - c0:.1f} CPU-s")
        from ecscreen.parties.matching import ListEntry, Matcher

        small = Matcher([ListEntry(id=f"n{k}", source="names", source_code="custom", name=e.name)
                         for k, e in enumerate(rnd.sample(list(m.entries), 300))], cache_dir=None)
        for n in singles:
            may = small.may_match(n)
            fo.write(json.dumps(["names-list", n, may, [_dump_hit(h) for h in small.search(n, limit=None)] if may else []],
                                ensure_ascii=False) + "\n")
        print("names-list: may_match and search of the same names against a 300-name index")
    print(f"{out}: sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}")


def compare(a: Path, b: Path) -> int:
    la = a.read_text(encoding="utf-8").splitlines()
    lb = b.read_text(encoding="utf-8").splitlines()
    diff = [(x, y) for x, y in zip(la, lb, strict=False) if x != y]
    if len(la) != len(lb):
        print(f"different sizes: {len(la)} vs {len(lb)} lines")
    print(f"{len(la):,} lines compared; {len(diff)} differ")
    for x, y in diff[:5]:
        print(f"- {x[:400]}\n+ {y[:400]}")
    return 1 if diff or len(la) != len(lb) else 0


def main() -> int:
    here = Path(__file__).resolve().parents[1]
    data = next((p / "shared" / "data" for p in here.parents if (p / "shared" / "data").is_dir()),
                here.parent / "shared" / "data")
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", type=Path, nargs=2)
    ap.add_argument("--data", type=Path, default=data)
    ap.add_argument("--kernel", choices=("auto", "single", "numpy"), default="auto",
                    help="auto: the matcher's own choice (batches: numpy); single/numpy: every name alone through "
                         "that kernel")
    ap.add_argument("--sets", default="", help="comma-separated sets to dump (bench, sec, nse, recall); default all")
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare)
    if not args.out:
        ap.error("--out or --compare")
    dump(args.out, args.data, args.kernel, {x for x in args.sets.split(",") if x} or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
