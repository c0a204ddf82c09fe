"""The record store's SQLite writing with the stdlib driver alone (no SQLAlchemy), and the pieces of a
record both drivers share: canonical JSON, the hash chain, the rows of a screening.

:class:`RecordStore` (``store.py``) appends screenings to SQLite through these functions on the driver
connection it takes from its engine; :class:`SqliteRecordWriter` is the same writing without the
engine, for ``ecscreen check``: importing SQLAlchemy and building an engine cost ~150 ms of a 0.8 s
check. It opens only a store that exists and whose schema is at :data:`HEAD_REVISION` (read from
``alembic_version``); anything else (a new store, an older schema, PostgreSQL) goes through
:meth:`RecordStore.open`, which migrates. Both write the same rows, in the same transactions, under the
same locks, so a store written by either is read and verified by the other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's own busy handler only
    _fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from ecscreen.records.models import NewRecord, StoredRecord

__all__ = ["BATCH_CONTENT_VERSION", "CONTENT_VERSION", "DB_NAME", "GENESIS", "HEAD_REVISION", "OUTCOME_KIND",
           "PARTY_COLUMNS", "RECORD_COLUMNS", "SCREENING_CONTENT_VERSION", "TEXT_KIND", "BatchEntry",
           "SqliteRecordWriter", "StoreBusy", "append_batch_rows", "batch_rows", "canonical", "canonical_bytes",
           "chain_hash", "configure_connection", "expand_content", "head", "immediate", "insert_blobs", "insert_sql",
           "locked", "norm_name", "outcome_blob", "outcome_refs", "release_map", "screening_rows", "sha256_text",
           "stored_record", "text_blob", "timestamp"]

HEAD_REVISION = "0004_partial_kind_ref_indexes"  # the newest Alembic revision (a test checks it is the scripts' head)
GENESIS = "0" * 64
DB_NAME = "records.db"  # the SQLite store in $ECSCREEN_HOME
CONTENT_VERSION = 1  # decision and checkpoint records; screening records written before h38
# screening records: batch since h17, check/API/serve/gate since h38. Each row's (batch) or the shipment's
# outcome (decision, findings) and the warnings by reference to content-addressed blobs (most records share
# them: no findings, the same chart finding); the reader expands them into the version-1 keys
# (:func:`expand_content`), ``verify`` checks the blobs. Version-1 screening records are still read.
SCREENING_CONTENT_VERSION = 2
BATCH_CONTENT_VERSION = SCREENING_CONTENT_VERSION
OUTCOME_KIND, TEXT_KIND = "outcome", "text"  # the kinds of the blobs a version-2 record names

# the columns of ``records`` and ``record_parties`` in table order (a test checks them against schema.py)
RECORD_COLUMNS = ("id", "kind", "recorded_at", "command", "source", "subject", "decision", "ref_id", "input_sha256",
                  "manifest", "content", "prev_hash", "hash")
PARTY_COLUMNS = ("record_id", "idx", "name", "norm_name", "country", "role", "outcome", "score")


# --------------------------------------------------------------------------- content and chain


def _default(o: Any) -> Any:
    if isinstance(o, dt.datetime | dt.date):
        return o.isoformat()
    if isinstance(o, Enum):
        return o.value
    if isinstance(o, set | frozenset):
        return sorted(o, key=str)
    dump = getattr(o, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    return str(o)


_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def canonical_bytes(obj: Any) -> bytes:
    """:func:`canonical` as UTF-8 bytes (ASCII escapes for lone surrogates), without a decode."""
    try:
        return orjson.dumps(obj, option=_OPTS, default=_default)
    except orjson.JSONEncodeError:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          default=_default).encode("ascii")


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text (dates ISO, enums by value). orjson: the
    stdlib encoder made recording cost over 10 % of a batch run. Text holding lone surrogates (the
    bytes of a CSV cell that could not be decoded) is kept as ``\\udcXX`` escapes (ASCII JSON)."""
    try:
        return orjson.dumps(obj, option=_OPTS, default=_default).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_default)


def content_json(doc: Any) -> str:
    """The record content as stored (key order as built; it is hashed exactly as stored)."""
    try:
        return orjson.dumps(doc, default=_default).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, default=_default)


def sha256_text(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()


def timestamp(at: dt.datetime) -> str:
    """``at`` as stored: UTC, microseconds, 'Z' (sorts as text). A naive time is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def norm_name(name: str) -> str:
    """A party name as indexed: NFKC, case-folded, spaces collapsed (exact re-screening uses the name)."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + content.encode("utf-8", "surrogatepass")).hexdigest()


def col(value: Any) -> Any:
    """Text for an indexed column: lone surrogates (undecodable input bytes) as backslash escapes,
    since the databases store UTF-8 only. Used for the content too, so both agree."""
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def outcome_blob(decision: str, findings: Any) -> tuple[str, bytes]:
    """The blob (sha256, bytes) of one outcome -- a batch row's or a shipment's decision and findings, as
    canonical JSON: the same outcome is stored once however many records name it."""
    data = canonical_bytes({"decision": decision, "findings": findings})
    return hashlib.sha256(data).hexdigest(), data


def text_blob(text: str) -> tuple[str, bytes]:
    """The blob (sha256, bytes) of a warning text (a JSON string)."""
    data = canonical_bytes(text)
    return hashlib.sha256(data).hexdigest(), data


def screening_rows(recs: Sequence[NewRecord], stamp: str, head: tuple[int, str]
                   ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[str, str, bytes]]]:
    """The rows of ``records`` and ``record_parties`` for ``recs``, chained on from ``head``, and the blobs
    (sha256, kind, data) they name (content version 2, as batch records: the shipment's outcome, i.e. its
    decision and findings, and each of its warnings by reference to a content-addressed blob; the rest,
    its input, parties, errors and ``extra``, inline)."""
    head_id, prev = head
    rows: list[tuple[Any, ...]] = []
    prow: list[tuple[Any, ...]] = []
    blobs: dict[str, tuple[str, str, bytes]] = {}
    for n, r in enumerate(recs, head_id + 1):
        s_in = canonical(r.input)
        in_sha = sha256_text(s_in)
        parties = [{"name": col(p.name), "country": col(p.country), "role": col(p.role),
                    "outcome": p.outcome, "score": p.score} for p in r.parties]
        source, subject = col(r.source), col(r.subject)
        osha, odata = outcome_blob(r.decision, r.findings)
        blobs.setdefault(osha, (osha, OUTCOME_KIND, odata))
        wrefs: list[str] = []
        for w in r.warnings:
            wsha, wdata = text_blob(w)
            blobs.setdefault(wsha, (wsha, TEXT_KIND, wdata))
            wrefs.append(wsha)
        # the content is hashed exactly as stored: only the input needs a canonical form (its hash)
        doc = {"v": SCREENING_CONTENT_VERSION, "id": n, "kind": "screening", "recorded_at": stamp,
               "command": r.command, "source": source, "subject": subject, "input_sha256": in_sha,
               "decision": r.decision, "outcomes": [osha], "warnings": wrefs, "parties": parties,
               "manifest": r.manifest, "errors": r.errors, "extra": r.extra}
        content = '{"input":' + s_in + "," + content_json(doc)[1:]
        h = chain_hash(prev, content)
        rows.append((n, "screening", stamp, r.command, source, subject, r.decision, None, in_sha,
                     r.manifest, content, prev, h))
        for i, p in enumerate(parties):
            prow.append((n, i, p["name"], norm_name(str(p["name"])), p["country"], p["role"], p["outcome"],
                         p["score"]))
        prev = h
    return rows, prow, list(blobs.values())


# a prepared batch record (BatchRecorder.add): everything but its id and chain hashes, which only the writer
# transaction knows. (input canonical JSON, the content after its id ('","kind":...}'), source, subject,
# decision, input sha256, parties as (name, normalised name, country, role, outcome, score))
BatchEntry = tuple[str, str, str, str | None, str, str, Sequence[tuple[Any, ...]]]


def batch_rows(entries: Sequence[BatchEntry], stamp: str, manifest: str | None, head: tuple[int, str]
               ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of ``records`` and ``record_parties`` for prepared batch records, chained on from ``head``:
    the content is ``{"input":INPUT,"v":2,"id":N`` + the prepared rest, hashed exactly as stored."""
    head_id, prev = head
    rows: list[tuple[Any, ...]] = []
    prow: list[tuple[Any, ...]] = []
    sha = hashlib.sha256
    for n, (s_in, body, source, subject, decision, in_sha, parties) in enumerate(entries, head_id + 1):
        content = f'{{"input":{s_in},"v":{BATCH_CONTENT_VERSION},"id":{n}{body}'
        h = sha(f"{prev}\n{content}".encode("utf-8", "surrogatepass")).hexdigest()
        rows.append((n, "screening", stamp, "batch", source, subject, decision, None, in_sha, manifest, content,
                     prev, h))
        for i, p in enumerate(parties):
            prow.append((n, i, *p))
        prev = h
    return rows, prow


def append_batch_rows(cur: Any, entries: Sequence[BatchEntry], blobs: Sequence[tuple[str, str, bytes]], stamp: str,
                      manifest: str | None, head_row: tuple[int, str], mark: str = "?") -> list[int]:
    """Insert the new blobs (sha256, kind, data) and the prepared batch records chained on ``head_row``, in
    the caller's writer transaction; returns the records' ids."""
    insert_blobs(cur, blobs, stamp, mark)
    rows, prow = batch_rows(entries, stamp, manifest, head_row)
    cur.executemany(insert_sql("records", RECORD_COLUMNS, mark), rows)
    if prow:
        cur.executemany(insert_sql("record_parties", PARTY_COLUMNS, mark), prow)
    return [r[0] for r in rows]


def insert_blobs(cur: Any, blobs: Sequence[tuple[str, str, bytes]], stamp: str, mark: str = "?") -> None:
    """Insert blobs (sha256, kind, data) not stored yet (one already stored is left as it is)."""
    if blobs:
        cur.executemany(insert_sql("blobs", ("sha256", "kind", "ref", "size", "data", "created_at"), mark)
                        + " ON CONFLICT (sha256) DO NOTHING",
                        [(s, kind, None, len(d), d, stamp) for s, kind, d in blobs])


def outcome_refs(doc: Any) -> list[str]:
    """The blobs a version-2 screening record's content names besides its header: its outcomes (one per
    row of a batch order, one for a shipment or gate pair), then its warnings; [] for any other record."""
    if not isinstance(doc, dict) or doc.get("v") != SCREENING_CONTENT_VERSION:
        return []
    refs = doc.get("outcomes")
    warns = doc.get("warnings")
    return [str(r) for r in (refs if isinstance(refs, list) else []) + (warns if isinstance(warns, list) else [])]


def _warning_texts(doc: dict[str, Any], load: Any, problems: list[str]) -> tuple[list[str], list[Any]]:
    wrefs = doc.get("warnings")
    wrefs = wrefs if isinstance(wrefs, list) else []
    warnings: list[str] = []
    for sha in wrefs:
        w = load(str(sha))
        if isinstance(w, str):
            warnings.append(w)
        else:
            problems.append(f"warning blob {str(sha)[:16]} is missing or damaged")
    return warnings, wrefs


def expand_content(doc: dict[str, Any], load: Any) -> dict[str, Any]:
    """A version-2 screening record's content with the version-1 keys its readers use, from the blobs it
    names (``load(sha)``: the parsed blob, None when missing or damaged: then named in ``problems``):
    ``findings`` and ``warnings`` (the texts); for a batch order also each finding's row ``line`` and
    ``extra.rows`` (each row's line and decision; a shipment or gate pair keeps its ``extra`` inline). The
    references stay under ``outcomes`` and ``warning_refs``. Other records are returned as they are."""
    if doc.get("v") != SCREENING_CONTENT_VERSION or not isinstance(doc.get("outcomes"), list):
        return doc
    if doc.get("command") != "batch":
        return _expand_single(doc, load)
    shas = doc["outcomes"]
    inp = doc.get("input")
    rows = inp.get("rows") if isinstance(inp, dict) else None
    rows = rows if isinstance(rows, list) else []
    findings: list[dict[str, Any]] = []
    extra_rows: list[dict[str, Any]] = []
    problems: list[str] = []
    if len(rows) != len(shas):
        problems.append(f"the record names {len(shas)} row outcome(s) for {len(rows)} input row(s)")
    for r, sha in zip(rows, shas, strict=False):
        line = r.get("line") if isinstance(r, dict) else None
        o = load(str(sha))
        if not isinstance(o, dict):
            problems.append(f"line {line}: its outcome blob {str(sha)[:16]} is missing or damaged")
            continue
        extra_rows.append({"line": line, "decision": o.get("decision")})
        findings.extend({"line": line, **fd} for fd in o.get("findings") or [])
    warnings, wrefs = _warning_texts(doc, load, problems)
    out = dict(doc)
    out.update(findings=findings, warnings=warnings, warning_refs=wrefs, extra={"rows": extra_rows})
    if problems:
        out["problems"] = problems
    return out


def _expand_single(doc: dict[str, Any], load: Any) -> dict[str, Any]:
    """:func:`expand_content` of a shipment's or gate pair's record: one outcome."""
    shas = doc["outcomes"]
    problems: list[str] = []
    findings: list[dict[str, Any]] = []
    if len(shas) != 1:
        problems.append(f"the record names {len(shas)} outcome(s) for one shipment")
    for sha in shas[:1]:
        o = load(str(sha))
        if isinstance(o, dict) and isinstance(o.get("findings", []), list):
            findings = list(o.get("findings") or [])
        else:
            problems.append(f"its outcome blob {str(sha)[:16]} is missing or damaged")
    warnings, wrefs = _warning_texts(doc, load, problems)
    out = dict(doc)
    out.update(findings=findings, warnings=warnings, warning_refs=wrefs)
    if problems:
        out["problems"] = problems
    return out


def stored_record(m: Any, expand: Any = None, doc: Any = None) -> StoredRecord:
    """A stored row (a mapping of the ``records`` columns) as a :class:`StoredRecord`; ``expand(doc)``, if
    given, turns the parsed content (``doc``, parsed here when not given) into what readers see
    (:func:`expand_content` with the store's blobs)."""
    from ecscreen.records.models import StoredRecord

    if doc is None:
        doc = json.loads(m["content"])
    if expand is not None:
        doc = expand(doc)
    return StoredRecord(id=m["id"], kind=m["kind"], recorded_at=parse_ts(m["recorded_at"]),
                        command=m["command"], source=m["source"], subject=m["subject"],
                        decision=m["decision"], ref_id=m["ref_id"], input_sha256=m["input_sha256"],
                        manifest=m["manifest"], prev_hash=m["prev_hash"], hash=m["hash"],
                        content=doc, content_text=m["content"])


# --------------------------------------------------------------------------- the driver


def insert_sql(table: str, cols: Iterable[str], mark: str = "?") -> str:
    names = list(cols)
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"


# the most of the store SQLite reads through a memory map (its default build caps it at ~2 GB; beyond that,
# pages are read as before). The store is never truncated while open (no VACUUM), so the map stays valid.
MMAP_BYTES = 2_147_418_112


def configure_connection(dbapi_conn: Any) -> None:
    """The pragmas of every SQLite connection to the store (autocommit driver: transactions are begun
    explicitly, ``BEGIN IMMEDIATE`` for writers)."""
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 60000")
    cur.execute("PRAGMA page_size = 8192")  # a new store only (no effect once written)
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    # pages read through a memory map instead of one read() call each, once the store outgrows SQLite's 2 MB
    # page cache: at 1,000,000 rows (a 1 GB store) recording cost +34 % against --no-record without the map,
    # +20 % with it (measured; which pages a batch reads back is not established: subjects are inserted in
    # order and the party-name index was dropped in migration 0003)
    cur.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    cur.close()


def release_map(dbapi_conn: Any) -> None:
    """Let go of the pages ``dbapi_conn`` read through its memory map of the store, outside a transaction: a
    changed ``mmap_size`` unmaps the file (mapped again, lazily, on the next read). A long batch run reads the
    B-trees' newest pages through the map, and every page read once stays in the process's resident set."""
    if dbapi_conn.in_transaction:
        return
    dbapi_conn.execute("PRAGMA mmap_size = 0")
    dbapi_conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


def head(cur: Any) -> tuple[int, str]:
    """(id, hash) of the chain head: the newest record, else the chain base after a prune, else genesis."""
    row = cur.execute("SELECT id, hash FROM records ORDER BY id DESC LIMIT 1").fetchone()
    if row is not None:
        return int(row[0]), str(row[1])
    base = cur.execute("SELECT base_id, base_hash FROM chain_base").fetchone()
    if base is not None:
        return int(base[0]), str(base[1])
    return 0, GENESIS


def open_lock_file(path: Path) -> Any:
    """The writers' flock file (``records.db.lock``), opened for locking."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    return os.fdopen(fd, "r+b", buffering=0)


class StoreBusy(Exception):
    """Another writer holds the store's lock and the caller asked not to wait (``wait=False``)."""


@contextlib.contextmanager
def locked(fh: Any, *, wait: bool = True) -> Iterator[None]:
    """Hold the writers' exclusive flock on ``fh`` (blocks in the kernel, GIL released); None: no lock.
    ``wait=False``: raise :class:`StoreBusy` at once when another writer holds it."""
    if fh is None or _fcntl is None:
        yield
        return
    try:
        _fcntl.flock(fh.fileno(), _fcntl.LOCK_EX | (0 if wait else _fcntl.LOCK_NB))
    except BlockingIOError as exc:
        raise StoreBusy("another writer holds the record store") from exc
    try:
        yield
    finally:
        _fcntl.flock(fh.fileno(), _fcntl.LOCK_UN)


@contextlib.contextmanager
def immediate(dbapi: Any) -> Iterator[Any]:
    """A driver cursor in a ``BEGIN IMMEDIATE`` transaction, committed at the end, rolled back on error."""
    cur = dbapi.cursor()
    try:
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            if dbapi.in_transaction:
                dbapi.rollback()
            raise
        dbapi.commit()
    finally:
        cur.close()


def append_screening_rows(cur: Any, recs: Sequence[NewRecord], stamp: str, head_row: tuple[int, str] | None = None,
                          mark: str = "?") -> list[int]:
    """Insert ``recs`` and the blobs they name, chained on ``head_row`` (default: the head read through
    ``cur``), in the caller's writer transaction; returns their ids."""
    rows, prow, blobs = screening_rows(recs, stamp, head(cur) if head_row is None else head_row)
    insert_blobs(cur, blobs, stamp, mark)
    cur.executemany(insert_sql("records", RECORD_COLUMNS, mark), rows)
    if prow:
        cur.executemany(insert_sql("record_parties", PARTY_COLUMNS, mark), prow)
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- the check path's writer


class SqliteRecordWriter:
    """The part of :class:`RecordStore` a screening command needs (``has_blobs``, ``find_blob``,
    ``put_blob``, ``put_manifest``, ``append_screenings``, ``decisions``, ``shown``, ``close``) on an
    existing SQLite store at the head revision, through the stdlib driver."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self.shown = f"sqlite:///{path}"
        self._lock_file: Any = None

    @classmethod
    def open(cls, path: Path) -> SqliteRecordWriter | None:
        """The store at ``path`` if it exists and its schema is at :data:`HEAD_REVISION`, else None (the
        caller opens it with :meth:`RecordStore.open`, which creates or migrates it)."""
        if not path.is_file() or path.stat().st_size == 0:
            return None
        try:
            conn = sqlite3.connect(path, timeout=60, check_same_thread=False)
        except sqlite3.Error:
            return None
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            row = None
        if row is None or row[0] != HEAD_REVISION:
            conn.close()
            return None
        configure_connection(conn)
        return cls(conn, path)

    def close(self) -> None:
        for thing in (self._conn, self._lock_file):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()
        self._lock_file = None

    def __enter__(self) -> SqliteRecordWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _lock(self) -> Any:
        if self._lock_file is None and _fcntl is not None:
            self._lock_file = open_lock_file(Path(str(self.path) + ".lock"))
        return self._lock_file

    # ------------------------------------------------------------------ blobs
    def has_blobs(self, shas: Iterable[str]) -> set[str]:
        want = list(set(shas))
        if not want:
            return set()
        marks = ", ".join("?" * len(want))
        return {r[0] for r in self._conn.execute(f"SELECT sha256 FROM blobs WHERE sha256 IN ({marks})", want)}

    def find_blob(self, kind: str, ref: str) -> str | None:
        row = self._conn.execute("SELECT sha256 FROM blobs WHERE kind = ? AND ref = ? LIMIT 1", (kind, ref)).fetchone()
        return None if row is None else str(row[0])

    def put_blob(self, data: bytes, kind: str, ref: str | None = None, *, at: dt.datetime | None = None) -> str:
        """As :meth:`RecordStore.put_blob`: stored once, keyed by its sha256 (returned)."""
        sha = hashlib.sha256(data).hexdigest()
        if self._conn.execute("SELECT sha256 FROM blobs WHERE sha256 = ?", (sha,)).fetchone() is not None:
            return sha
        stamp = timestamp(at or dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        with immediate(self._conn) as cur:
            cur.execute("INSERT INTO blobs (sha256, kind, ref, size, data, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (sha256) DO NOTHING", (sha, kind, ref, len(data), data, stamp))
        return sha

    def put_manifest(self, manifest: dict[str, Any], *, at: dt.datetime | None = None) -> str:
        return self.put_blob(canonical(manifest).encode("utf-8"), "manifest", at=at)

    # ------------------------------------------------------------------ records
    def append_screenings(self, recs: Sequence[NewRecord], *, at: dt.datetime) -> list[int]:
        """As :meth:`RecordStore.append_screenings` (the same rows, transaction and locks)."""
        if not recs:
            return []
        stamp = timestamp(at)
        with locked(self._lock()), immediate(self._conn) as cur:
            return append_screening_rows(cur, recs, stamp)

    def append_batch(self, entries: Sequence[BatchEntry], blobs: Sequence[tuple[str, str, bytes]], *, at: dt.datetime,
                     manifest: str | None) -> list[int]:
        """As :meth:`RecordStore.append_batch` (the same rows, transaction and locks)."""
        if not entries:
            return []
        stamp = timestamp(at)
        with locked(self._lock()), immediate(self._conn) as cur:
            return append_batch_rows(cur, entries, blobs, stamp, manifest, head(cur))

    def release_map(self) -> None:
        """As :meth:`RecordStore.release_map`."""
        release_map(self._conn)

    def decisions(self) -> list[StoredRecord]:
        """Decision records, oldest first (as :meth:`RecordStore.decisions`)."""
        cur = self._conn.execute(f"SELECT {', '.join(RECORD_COLUMNS)} FROM records WHERE kind = 'decision' "
                                 "ORDER BY id")
        return [stored_record(dict(zip(RECORD_COLUMNS, row, strict=True))) for row in cur]
