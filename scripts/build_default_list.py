"""Build the embedded default list (src/ecscreen/data/csl-2026-07-31.json.gz) from the compact CSL.

Also writes src/ecscreen/data/token_df.json.gz, the token document frequencies the matcher uses as
background IDF weights (re-run this script after changing the normalisation tables).

Usage: python scripts/build_default_list.py [../shared/data/us-csl-compact-2026-07-31/screening-list.json]

Source: US Consolidated Screening List generated 2026-07-31T13:15Z (trade.gov bulk download), compact
projection by seelpeed-debug/export-controls-agent-mcp (commit 3a0bf5eb); US Government data, public domain.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from ecscreen.parties.matching import BACKGROUND_FILE, token_document_frequencies
from ecscreen.parties.store import DEFAULT_LIST_FILE, _to_store, read_list

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared/data/us-csl-compact-2026-07-31/screening-list.json"
    sl = read_list(src, name="US Consolidated Screening List")
    sl.info.source = (
        "trade.gov Consolidated Screening List bulk download, generated 2026-07-31T13:15Z "
        "(compact projection: seelpeed-debug/export-controls-agent-mcp src/data/screening-list.json @3a0bf5eb)"
    )
    out = ROOT / "src/ecscreen/data" / DEFAULT_LIST_FILE
    out.write_bytes(_to_store(sl))
    counts = sl.counts_by_code()
    print(f"wrote {out} ({out.stat().st_size:,} bytes): {sl.info.entries} entries, {sl.info.aliases} aliases, "
          f"date {sl.info.date}, sha256 {sl.info.sha256[:16]}")
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
    n_aliases, df = token_document_frequencies(sl.entries)
    bg = ROOT / "src/ecscreen/data" / BACKGROUND_FILE
    doc = {"source": DEFAULT_LIST_FILE, "aliases": n_aliases, "df": dict(sorted(df.items()))}
    bg.write_bytes(gzip.compress(json.dumps(doc, separators=(",", ":")).encode("utf-8"), mtime=0))
    print(f"wrote {bg} ({bg.stat().st_size:,} bytes): {len(df)} tokens over {n_aliases} indexed names")
    fn = sum(1 for e in sl.entries if e.footnotes)
    print(f"  Entity List entries with FDP footnotes: {fn}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
