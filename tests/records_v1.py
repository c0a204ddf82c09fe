"""Writing screening records in content version 1, as every ``check``/API/serve/gate record (and every batch
record before h17) was written before h38: findings, warnings and ``extra`` inline in the hashed content,
no blobs. Stores made by older versions hold such records; the tests use this to check they are still read,
verified, exported, replayed and re-screened. (The writer below is the pre-h38 ``screening_rows``, kept
here only; the store writes version 2.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ecscreen.records import NewRecord, RecordStore
from ecscreen.records.rawsqlite import (
    PARTY_COLUMNS,
    RECORD_COLUMNS,
    canonical,
    chain_hash,
    col,
    content_json,
    head,
    insert_sql,
    norm_name,
    sha256_text,
    timestamp,
)


def v1_rows(recs: Sequence[NewRecord], stamp: str, head_row: tuple[int, str]
            ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    head_id, prev = head_row
    rows: list[tuple[Any, ...]] = []
    prow: list[tuple[Any, ...]] = []
    for n, r in enumerate(recs, head_id + 1):
        s_in = canonical(r.input)
        in_sha = sha256_text(s_in)
        parties = [{"name": col(p.name), "country": col(p.country), "role": col(p.role),
                    "outcome": p.outcome, "score": p.score} for p in r.parties]
        source, subject = col(r.source), col(r.subject)
        doc = {"v": 1, "id": n, "kind": "screening", "recorded_at": stamp,
               "command": r.command, "source": source, "subject": subject, "input_sha256": in_sha,
               "decision": r.decision, "findings": r.findings, "parties": parties,
               "manifest": r.manifest, "warnings": r.warnings, "errors": r.errors, "extra": r.extra}
        content = '{"input":' + s_in + "," + content_json(doc)[1:]
        h = chain_hash(prev, content)
        rows.append((n, "screening", stamp, r.command, source, subject, r.decision, None, in_sha,
                     r.manifest, content, prev, h))
        for i, p in enumerate(parties):
            prow.append((n, i, p["name"], norm_name(str(p["name"])), p["country"], p["role"], p["outcome"],
                         p["score"]))
        prev = h
    return rows, prow


def append_v1(store: RecordStore, recs: Sequence[NewRecord], *, at: dt.datetime) -> list[int]:
    """Append ``recs`` to a SQLite store in content version 1 (chained on its head); returns their ids."""
    with store._sqlite_writer() as cur:
        rows, prow = v1_rows(recs, timestamp(at), head(cur))
        cur.executemany(insert_sql("records", RECORD_COLUMNS), rows)
        if prow:
            cur.executemany(insert_sql("record_parties", PARTY_COLUMNS), prow)
    return [r[0] for r in rows]
