"""The record store: append-only, hash-chained screening records in SQLite or PostgreSQL.

Interface (stable; add, do not rename -- ``serve``, ``replay``, ``rescreen`` and ``review`` build on it)::

    store = RecordStore.open(url=None, home=Path(...))   # SQLite at HOME/records.db, or a URL
    ids = store.append_screenings([NewRecord(...), ...], at=now)   # one transaction, chained
    did = store.append_decision(Decision(...), at=now)             # a review decision, chained too
    store.get(id) -> StoredRecord | None
    store.query(party=, since=, until=, decision=, kind=, command=, subject=, limit=, newest_first=)
    store.iter_records(since=, until=, kind=)                      # ascending stream (export)
    store.iter_parties(since=, until=) -> PartySeen per distinct (normalised name, country)
    store.decisions(record_id=None) -> decision records
    store.put_blob(bytes, kind, ref=None) -> sha256 ; get_blob(sha) ; find_blob(kind, ref)
    store.put_manifest(dict) -> sha256 ; get_manifest(sha)      # a run's tool/options/packs/lists
    store.verify() -> VerifyResult ; store.prune(before, at=, force=) -> PruneResult

Nothing here reads the environment or the clock: the CLI passes the URL/home and the time (``at``).

Tamper evidence: every record (screening, decision, checkpoint) gets the next id and stores
``prev_hash`` (the previous record's ``hash``; 64 zeros for the first) and
``hash = sha256(prev_hash + "\\n" + content)``, where ``content`` is the JSON text stored with it and
names its own id, kind and time. :meth:`verify` re-walks the chain: an edited record (content or any
indexed column), a deleted record (a gap) or reordered records break it at the first bad id.
:meth:`prune` deletes the oldest records, keeps the hash of the last pruned one as the chain base
and appends a ``checkpoint`` record naming it, so the rest still verifies. (A chain kept in the
same database cannot show that the newest records were cut off: ``verify`` prints the head id and
hash so they can be noted elsewhere and compared with ``records verify --head ID:HASH``.)

Concurrency: appends hold the one writer lock (SQLite ``BEGIN IMMEDIATE`` in WAL mode with a busy
timeout; PostgreSQL a transaction-level advisory lock), read the chain head and insert in the same
transaction, so concurrent CLI runs interleave whole batches and the chain stays linear. With SQLite,
writers of this machine first take an exclusive ``flock`` on ``records.db.lock`` (POSIX): a waiting
writer is woken by the kernel when the lock frees, where SQLite's busy handler polls with sleeps of
1-100 ms (two ``serve`` workers committing every few milliseconds collided into those sleeps).
Screenings appended to SQLite go through the driver connection directly (one per thread, kept open):
SQLAlchemy's per-transaction work (pool checkout, events, statement cache) cost more than the insert
for ``serve``'s one-request transactions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, create_engine, delete, event, func, literal, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from ecscreen.errors import UsageError
from ecscreen.records.models import (
    Decision,
    NewRecord,
    PartySeen,
    PruneResult,
    StoredRecord,
    VerifyResult,
)
from ecscreen.records.rawsqlite import (
    CONTENT_VERSION,
    DB_NAME,
    GENESIS,
    HEAD_REVISION,
    BatchEntry,
    append_batch_rows,
    append_screening_rows,
    canonical,
    chain_hash,
    configure_connection,
    expand_content,
    head,
    immediate,
    locked,
    norm_name,
    open_lock_file,
    outcome_refs,
    release_map,
    sha256_text,
    stored_record,
    timestamp,
)
from ecscreen.records.schema import blobs, chain_base, record_parties, records

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's own busy handler only
    _fcntl = None  # type: ignore[assignment]

__all__ = ["GENESIS", "RETENTION_YEARS", "RecordStore", "canonical", "chain_hash", "norm_name", "sha256_text",
           "timestamp"]

RETENTION_YEARS = 5  # 15 CFR 762.6: records are kept five years
_OUTCOME_CACHE = 100_000  # parsed outcome blobs kept by a store for reading batch records
_LOCK_KEY = 0x6563_7363_7265_656E  # PostgreSQL advisory lock of the writer ('ecscreen')


# --------------------------------------------------------------------------- helpers
# canonical JSON, the chain hash and a screening's rows live in rawsqlite (no SQLAlchemy), shared with
# the check path's SqliteRecordWriter: one implementation for both drivers

def _bound(value: dt.date | dt.datetime | str | None) -> str | None:
    """A date/time bound of a query as stored text (a date means its first instant, UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return timestamp(value)
    return value.isoformat() + "T00:00:00.000000Z"


def _kind_is(kind: str) -> Any:
    """``records.kind = 'KIND'`` with the value rendered in the SQL: the index on kind is partial (decision
    records only, migration 0004) and PostgreSQL uses it only when the query names the value itself."""
    return records.c.kind == literal(kind, literal_execute=True)


def _like(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --------------------------------------------------------------------------- the store


class RecordStore:
    """Screening records behind one small interface (see the module docstring)."""

    def __init__(self, engine: Engine, *, shown: str, lock_path: Path | None = None) -> None:
        self.engine = engine
        self.shown = shown  # the database as shown to users (password masked)
        self.dialect = engine.dialect.name
        self._lock_path = lock_path  # SQLite: the writers' flock file (None: no flock)
        self._local = threading.local()  # this thread's lock file and raw connection (SQLite)
        self._opened: list[Any] = []  # every raw connection and lock file handed out, closed by close()
        self._opened_lock = threading.Lock()
        self._outcomes: dict[str, Any] = {}  # parsed outcome blobs (sha256 -> dict, None: missing or damaged)
        self._texts: dict[str, str | None] = {}  # blob texts for export (sha256 -> text, None: missing)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, url: str | None = None, home: Path | str | None = None, *, migrate: bool = True) -> RecordStore:
        """The store at ``url`` (``sqlite:///PATH`` or ``postgresql://...``), else SQLite at
        ``home/records.db`` (the directory is created). Migrates the schema to the newest revision."""
        if url:
            u = make_url(url)
            if u.drivername in ("postgresql", "postgres"):
                u = u.set(drivername="postgresql+psycopg")
            if not (u.drivername.startswith("sqlite") or u.drivername.startswith("postgresql")):
                raise UsageError(f"record store: unsupported database {u.drivername!r} (use sqlite or postgresql)")
        else:
            if home is None:
                raise UsageError("record store: give a database URL or a home directory")
            base = Path(home)
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = base / DB_NAME
            if not path.exists():
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
            u = make_url(f"sqlite:///{path}")
        shown = u.render_as_string(hide_password=True)
        lock_path = None
        if u.drivername.startswith("sqlite"):
            engine = create_engine(u, connect_args={"timeout": 60})
            _sqlite_events(engine)
            if u.database and u.database != ":memory:" and _fcntl is not None:
                lock_path = Path(u.database + ".lock")
        else:
            engine = create_engine(u, pool_pre_ping=True)
        store = cls(engine, shown=shown, lock_path=lock_path)
        if migrate:
            try:
                store.migrate()
            except DBAPIError as exc:
                engine.dispose()
                raise UsageError(f"record store {shown}: cannot open the database: "
                                 f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}") from None
        return store

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for thing in opened:
            with contextlib.suppress(Exception):
                thing.close()
        self._local = threading.local()
        self.engine.dispose()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def revision(self) -> str | None:
        """The schema revision of the database (None before the first migration)."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            return None

    def migrate(self) -> None:
        """Upgrade the schema to :data:`HEAD_REVISION` (Alembic), once, under the writer lock."""
        if self.revision() == HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
        with self._writer() as conn:
            cur = None
            with contextlib.suppress(DBAPIError), conn.begin_nested():
                cur = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if cur == HEAD_REVISION:
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    # ------------------------------------------------------------------ transactions
    def _keep(self, thing: Any) -> Any:
        with self._opened_lock:
            self._opened.append(thing)
        return thing

    @contextlib.contextmanager
    def _machine_lock(self, *, wait: bool = True) -> Iterator[None]:
        """SQLite: the writers' exclusive flock (blocks in the kernel, GIL released; ``wait=False``: raise
        :class:`StoreBusy` when another writer holds it); a no-op elsewhere."""
        if self._lock_path is None or _fcntl is None:
            yield
            return
        fh = getattr(self._local, "lock_file", None)
        if fh is None or getattr(self._local, "lock_pid", None) != os.getpid():
            self._local.lock_pid = os.getpid()
            fh = self._local.lock_file = self._keep(open_lock_file(self._lock_path))
        with locked(fh, wait=wait):
            yield

    @contextlib.contextmanager
    def _writer(self) -> Iterator[Connection]:
        """A transaction holding the one writer lock."""
        with self._machine_lock(), self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(ecscreen_immediate=True)
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                yield conn

    @contextlib.contextmanager
    def _sqlite_writer(self, *, wait: bool = True) -> Iterator[Any]:
        """SQLite: a driver cursor in a ``BEGIN IMMEDIATE`` transaction on this thread's own connection
        (opened through the engine, so with the same pragmas), committed at the end, rolled back on error."""
        raw = getattr(self._local, "raw", None)
        if raw is None or self._local.pid != os.getpid():  # never a connection inherited through fork
            raw = self._local.raw = self._keep(self.engine.raw_connection())
            self._local.pid = os.getpid()
        with self._machine_lock(wait=wait), immediate(raw.driver_connection) as cur:
            yield cur

    _head_raw = staticmethod(head)

    @staticmethod
    def _head(conn: Connection) -> tuple[int, str]:
        row = conn.execute(select(records.c.id, records.c.hash).order_by(records.c.id.desc()).limit(1)).first()
        if row is not None:
            return int(row[0]), str(row[1])
        base = conn.execute(select(chain_base.c.base_id, chain_base.c.base_hash)).first()
        if base is not None:
            return int(base[0]), str(base[1])
        return 0, GENESIS

    # ------------------------------------------------------------------ appending
    def append_screenings(self, recs: Sequence[NewRecord], *, at: dt.datetime, wait: bool = True) -> list[int]:
        """Append screenings in one transaction (ids consecutive, in the given order); returns their ids.
        ``wait=False`` (SQLite): raise :class:`StoreBusy` instead of waiting when another writer holds the
        store (the service's event loop must not block behind, e.g., a recorded batch's chunk)."""
        if not recs:
            return []
        stamp = timestamp(at)
        if self.dialect == "sqlite":
            with self._sqlite_writer(wait=wait) as cur:
                return append_screening_rows(cur, recs, stamp)
        with self._writer() as conn:
            cur = conn.connection.cursor()
            try:
                return append_screening_rows(cur, recs, stamp, self._head(conn), mark="%s")
            finally:
                cur.close()

    def append_batch(self, entries: Sequence[BatchEntry], blobs: Sequence[tuple[str, str, bytes]], *, at: dt.datetime,
                     manifest: str | None) -> list[int]:
        """Append prepared ``batch`` records (:class:`ecscreen.records.recorder.BatchRecorder`) and the new
        outcome blobs they name, in one transaction (ids consecutive, in order); returns their ids."""
        if not entries:
            return []
        stamp = timestamp(at)
        if self.dialect == "sqlite":
            with self._sqlite_writer() as cur:
                return append_batch_rows(cur, entries, blobs, stamp, manifest, head(cur))
        with self._writer() as conn:
            cur = conn.connection.cursor()
            try:
                return append_batch_rows(cur, entries, blobs, stamp, manifest, self._head(conn), mark="%s")
            finally:
                cur.close()

    def release_map(self) -> None:
        """SQLite: let this thread's writer connection go of the pages it read through its memory map of the
        store (:func:`ecscreen.records.rawsqlite.release_map`; the batch recorder calls it every few chunks so
        that a long run's resident set does not grow with the store). Nothing else on PostgreSQL."""
        raw = getattr(self._local, "raw", None)
        if self.dialect == "sqlite" and raw is not None and self._local.pid == os.getpid():
            release_map(raw.driver_connection)

    def _insert_sql(self, table: Any) -> str:
        cols = [c.name for c in table.columns]
        mark = "?" if self.dialect == "sqlite" else "%s"
        return f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"

    def _insert_many(self, conn: Connection, table: Any, rows: list[tuple[Any, ...]]) -> None:
        """Bulk insert of tuples in the table's column order through the driver's executemany (the
        SQLAlchemy statement compiler costs as much as the rest of recording on large batches)."""
        conn.exec_driver_sql(self._insert_sql(table), rows)

    def append_decision(self, decision: Decision, *, at: dt.datetime) -> int:
        """Append a review decision on record ``decision.record_id`` (which must exist); returns its id."""
        stamp = timestamp(at)
        body = decision.model_dump(mode="json")
        with self._writer() as conn:
            ref = conn.execute(select(records.c.kind).where(records.c.id == decision.record_id)).scalar()
            if ref is None:
                raise UsageError(f"record {decision.record_id} not found")
            if ref != "screening":
                raise UsageError(f"record {decision.record_id} is a {ref} record, not a screening")
            return self._append_one(conn, "decision", stamp, {
                "command": "review", "source": f"approver:{decision.approver}", "subject": decision.rule_id,
                "decision": decision.decision, "ref_id": decision.record_id}, {"decision_detail": body},
                parties=[decision.party.model_dump()] if decision.party else [])

    def _append_one(self, conn: Connection, kind: str, stamp: str, cols: dict[str, Any], body: dict[str, Any],
                    parties: list[dict[str, Any]] | None = None) -> int:
        head_id, prev = self._head(conn)
        n = head_id + 1
        doc = {"v": CONTENT_VERSION, "id": n, "kind": kind, "recorded_at": stamp, **cols, **body}
        content = canonical(doc)
        h = chain_hash(prev, content)
        conn.execute(records.insert(), [{
            "id": n, "kind": kind, "recorded_at": stamp, "command": cols.get("command"),
            "source": cols.get("source"), "subject": cols.get("subject"), "decision": cols.get("decision"),
            "ref_id": cols.get("ref_id"), "input_sha256": cols.get("input_sha256"),
            "manifest": cols.get("manifest"), "content": content, "prev_hash": prev, "hash": h}])
        for i, p in enumerate(parties or []):
            conn.execute(record_parties.insert(), [{
                "record_id": n, "idx": i, "name": p["name"], "norm_name": norm_name(p["name"]),
                "country": p.get("country"), "role": p.get("role"), "outcome": p.get("outcome"),
                "score": p.get("score")}])
        return n

    # ------------------------------------------------------------------ reading
    def _stored(self, row: Any) -> StoredRecord:
        return stored_record(row._mapping, self._expand)

    def _stored_rows(self, rows: Iterable[Any]) -> list[StoredRecord]:
        """Records of many rows, the outcome blobs they name read in bulk."""
        maps = [r._mapping for r in rows]
        docs = [json.loads(m["content"]) for m in maps]
        got = self._load_outcomes({s for d in docs for s in outcome_refs(d)})
        return [stored_record(m, (lambda d: expand_content(d, got.get)) if outcome_refs(d) else None, doc=d)
                for m, d in zip(maps, docs, strict=True)]

    def _blob_chunks(self, shas: list[str], size: int) -> Iterator[tuple[list[str], dict[str, bytes]]]:
        """``shas`` in chunks of ``size``, each with the stored bytes of the blobs it names (absent ones left out)."""
        for i in range(0, len(shas), size):
            part = shas[i:i + size]
            with self.engine.connect() as conn:
                data = {sha: bytes(d) for sha, d in conn.execute(select(blobs.c.sha256, blobs.c.data)
                                                                  .where(blobs.c.sha256.in_(part)))}
            yield part, data

    def _load_outcomes(self, shas: Iterable[str]) -> dict[str, Any]:
        """The parsed outcome blobs ``shas`` (None for one missing, damaged or not JSON), cached."""
        cache = self._outcomes
        out: dict[str, Any] = {}
        missing = []
        for s in shas:
            if s in cache:
                out[s] = cache[s]
            else:
                missing.append(s)
        if len(cache) + len(missing) > _OUTCOME_CACHE:
            self._outcomes = cache = {}
        for part, data in self._blob_chunks(missing, 500):
            for sha in part:
                parsed = None
                raw = data.get(sha)
                if raw is not None and hashlib.sha256(raw).hexdigest() == sha:
                    with contextlib.suppress(ValueError):
                        parsed = json.loads(raw)
                out[sha] = cache[sha] = parsed
        return out

    def _expand(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A record's content as readers see it (a batch record's row outcomes expanded)."""
        refs = outcome_refs(doc)
        if not refs:
            return doc
        got = self._load_outcomes(refs)
        return expand_content(doc, got.get)

    def referenced_blobs(self, record: StoredRecord) -> dict[str, str | None]:
        """The blobs a batch record's content names by sha256 (its rows' outcomes, its warnings, the file's
        header), each as its exact stored text (None: missing); {} for any other record."""
        try:
            doc = json.loads(record.content_text) if record.content_text else record.content
        except ValueError:
            return {}
        refs = _blob_refs(doc)
        if not refs:
            return {}
        if len(self._texts) > _OUTCOME_CACHE:
            self._texts = {}
        cache = self._texts
        want = [sha for sha in dict.fromkeys(refs) if sha not in cache]
        if want:
            with self.engine.connect() as conn:
                got = {sha: bytes(d) for sha, d in conn.execute(select(blobs.c.sha256, blobs.c.data)
                                                                 .where(blobs.c.sha256.in_(want)))}
            for sha in want:
                raw = got.get(sha)
                cache[sha] = None if raw is None else raw.decode("utf-8", "surrogateescape")
        return {sha: cache.get(sha) for sha in dict.fromkeys(refs)}

    def get(self, record_id: int) -> StoredRecord | None:
        """One record by id (any kind), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(records).where(records.c.id == record_id)).first()
        return None if row is None else self._stored(row)

    def _where(self, *, party: str | None, since: Any, until: Any, decision: str | None, kind: str | None,
               command: str | None, subject: str | None, ref_id: int | None = None) -> list[Any]:
        cond: list[Any] = []
        if kind:
            cond.append(_kind_is(kind))
        s, u = _bound(since), _bound(until)
        if s:
            cond.append(records.c.recorded_at >= s)
        if u:
            cond.append(records.c.recorded_at < u)
        if decision:
            cond.append(records.c.decision == decision)
        if command:
            cond.append(records.c.command == command)
        if subject:
            cond.append(records.c.subject == subject)
        if ref_id is not None:
            cond.append(records.c.ref_id == ref_id)
        if party:
            cond.append(records.c.id.in_(select(record_parties.c.record_id).where(
                record_parties.c.norm_name.like(_like(norm_name(party)), escape="\\"))))
        return cond

    def query(self, *, party: str | None = None, since: Any = None, until: Any = None, decision: str | None = None,
              kind: str | None = "screening", command: str | None = None, subject: str | None = None,
              limit: int | None = None, newest_first: bool = True) -> list[StoredRecord]:
        """Records matching every filter given: ``party`` is a case-insensitive part of a party name,
        ``since``/``until`` dates or times (``until`` exclusive), ``decision`` the stored decision
        (clear/review/license_required/prohibited/error; cleared/confirmed/escalated for decisions)."""
        q = select(records).where(*self._where(party=party, since=since, until=until, decision=decision,
                                               kind=kind, command=command, subject=subject))
        q = q.order_by(records.c.id.desc() if newest_first else records.c.id)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            rows = list(conn.execute(q))
        return self._stored_rows(rows)

    def iter_records(self, *, since: Any = None, until: Any = None, kind: str | None = None,
                     party: str | None = None, decision: str | None = None, chunk: int = 2000
                     ) -> Iterator[StoredRecord]:
        """Records in id order, streamed in chunks (for export and large scans)."""
        last = 0
        cond = self._where(party=party, since=since, until=until, decision=decision, kind=kind, command=None,
                           subject=None)
        while True:
            q = select(records).where(and_(records.c.id > last, *cond)).order_by(records.c.id).limit(chunk)
            with self.engine.connect() as conn:
                batch = list(conn.execute(q))
            yield from self._stored_rows(batch)
            if len(batch) < chunk:
                return
            last = batch[-1]._mapping["id"]

    def count(self, *, kind: str | None = None) -> int:
        q = select(func.count()).select_from(records)
        if kind:
            q = q.where(_kind_is(kind))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def decisions(self, record_id: int | None = None) -> list[StoredRecord]:
        """Decision records (on ``record_id`` if given), oldest first."""
        return self.query(kind="decision", newest_first=False) if record_id is None else [
            r for r in self._by_ref(record_id)]

    def _by_ref(self, record_id: int) -> list[StoredRecord]:
        q = select(records).where(and_(_kind_is("decision"), records.c.ref_id == record_id)).order_by(
            records.c.id)
        with self.engine.connect() as conn:
            rows = list(conn.execute(q))
        return self._stored_rows(rows)

    def iter_parties(self, *, since: Any = None, until: Any = None, chunk: int = 20_000) -> Iterator[PartySeen]:
        """Every distinct recorded party (normalised name, country) of the screenings in the window,
        with the ids of its records (ascending) and its latest outcome and score; sorted by name."""
        s, u = _bound(since), _bound(until)
        rp = record_parties.c
        q = select(rp.norm_name, rp.country, rp.record_id, rp.name, rp.outcome, rp.score)
        if s or u:
            q = q.join(records, records.c.id == rp.record_id)
            if s:
                q = q.where(records.c.recorded_at >= s)
            if u:
                q = q.where(records.c.recorded_at < u)
        q = q.order_by(rp.norm_name, rp.country, rp.record_id)
        cur: PartySeen | None = None
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=chunk).execute(q)
            for norm, country, rid, name, outcome, score in result:
                if cur is not None and cur.norm_name == norm and cur.country == country:
                    if cur.record_ids[-1] != rid:
                        cur.record_ids.append(rid)
                    cur.last_record_id, cur.name, cur.last_outcome, cur.last_score = rid, name, outcome or "clear", score
                    continue
                if cur is not None:
                    yield cur
                cur = PartySeen(norm_name=norm, country=country, name=name, record_ids=[rid], last_record_id=rid,
                                last_outcome=outcome or "clear", last_score=score)
        if cur is not None:
            yield cur

    def iter_party_rows(self, *, since: Any = None, until: Any = None, chunk: int = 50_000
                        ) -> Iterator[tuple[int, int, str, str | None, str | None, str | None]]:
        """Every recorded party occurrence of the *screening* records in the window, in record order:
        (record_id, party index, name as screened, country, role, outcome). Added for ``rescreen`` (h3),
        which needs each occurrence's own outcome, not only the latest."""
        s, u = _bound(since), _bound(until)
        rp = record_parties.c
        q = (select(rp.record_id, rp.idx, rp.name, rp.country, rp.role, rp.outcome)
             .join(records, records.c.id == rp.record_id).where(records.c.kind == "screening"))
        if s:
            q = q.where(records.c.recorded_at >= s)
        if u:
            q = q.where(records.c.recorded_at < u)
        q = q.order_by(rp.record_id, rp.idx)
        # the driver's own cursor: plain tuples, no per-row Row objects (a million rows); the only
        # parameters are the window bounds, timestamps this module formats, rendered as literals
        sql = str(q.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}))
        with self.engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cur.execute(sql)
                while True:
                    rows = cur.fetchmany(chunk)
                    if not rows:
                        break
                    yield from rows
            finally:
                cur.close()

    def manifests_of(self, record_ids: Iterable[int], *, chunk: int = 500) -> dict[int, str | None]:
        """The run manifest sha256 of each record id. Added for ``rescreen`` (h3)."""
        ids = sorted(set(record_ids))
        out: dict[int, str | None] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), chunk):
                for rid, man in conn.execute(select(records.c.id, records.c.manifest)
                                             .where(records.c.id.in_(ids[i:i + chunk]))):
                    out[int(rid)] = man
        return out

    def get_many(self, record_ids: Iterable[int], *, chunk: int = 500) -> dict[int, StoredRecord]:
        """Records by id (missing ids are left out). Added for ``rescreen`` (h3)."""
        ids = sorted(set(record_ids))
        out: dict[int, StoredRecord] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), chunk):
                rows = list(conn.execute(select(records).where(records.c.id.in_(ids[i:i + chunk]))))
                for rec in self._stored_rows(rows):
                    out[rec.id] = rec
        return out

    # ------------------------------------------------------------------ blobs
    def put_blob(self, data: bytes, kind: str, ref: str | None = None, *, at: dt.datetime | None = None) -> str:
        """Store ``data`` once, keyed by its sha256 (returned); ``ref`` is a lookup key (e.g. a list's
        entry digest) for :meth:`find_blob`."""
        sha = hashlib.sha256(data).hexdigest()
        with self.engine.connect() as conn:
            if conn.execute(select(blobs.c.sha256).where(blobs.c.sha256 == sha)).first() is not None:
                return sha
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: Any = pg_insert(blobs).on_conflict_do_nothing(index_elements=["sha256"])
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(blobs).on_conflict_do_nothing(index_elements=["sha256"])
        stamp = timestamp(at or dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(ecscreen_immediate=True)
            with conn.begin():
                conn.execute(stmt, [{"sha256": sha, "kind": kind, "ref": ref, "size": len(data), "data": data,
                                     "created_at": stamp}])
        return sha

    def has_blobs(self, shas: Iterable[str]) -> set[str]:
        want = list(set(shas))
        if not want:
            return set()
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(select(blobs.c.sha256).where(blobs.c.sha256.in_(want)))}

    def find_blob(self, kind: str, ref: str) -> str | None:
        """The sha256 of a blob stored with this kind and ref, or None."""
        with self.engine.connect() as conn:
            return conn.execute(select(blobs.c.sha256).where(and_(blobs.c.kind == kind, blobs.c.ref == ref))
                                .limit(1)).scalar()

    def get_blob(self, sha: str) -> bytes | None:
        """The blob's bytes (checked against its sha256: a damaged blob raises ValueError), or None."""
        with self.engine.connect() as conn:
            data = conn.execute(select(blobs.c.data).where(blobs.c.sha256 == sha)).scalar()
        if data is None:
            return None
        data = bytes(data)
        if hashlib.sha256(data).hexdigest() != sha:
            raise ValueError(f"blob {sha[:16]} is damaged: its content does not match its sha256")
        return data

    def put_manifest(self, manifest: dict[str, Any], *, at: dt.datetime | None = None) -> str:
        """Store a run manifest (canonical JSON blob, kind 'manifest'); returns its sha256."""
        return self.put_blob(canonical(manifest).encode("utf-8"), "manifest", at=at)

    def get_manifest(self, sha: str) -> dict[str, Any] | None:
        data = self.get_blob(sha)
        return None if data is None else json.loads(data.decode("utf-8"))

    # ------------------------------------------------------------------ verifying
    def verify(self, *, chunk: int = 5000) -> VerifyResult:
        """Walk the chain from its base: each record's content names its id, its hash covers the previous
        hash and its content, its indexed columns agree with its content; the chain base (after a
        prune) is the one the newest checkpoint record names."""
        with self.engine.connect() as conn:
            base = conn.execute(select(chain_base.c.base_id, chain_base.c.base_hash)).first()
        base_id, prev = (int(base[0]), str(base[1])) if base is not None else (0, GENESIS)
        expect = base_id + 1
        checked = 0
        last_checkpoint: dict[str, Any] | None = None
        last = base_id
        head_hash: str | None = None
        refs: dict[str, int] = {}  # blobs the chain covers by reference (sha256 -> the first record naming it)

        def bad(rid: int, why: str) -> VerifyResult:
            return VerifyResult(ok=False, checked=checked, first_bad_id=rid, problem=why, base_id=base_id)

        with self.engine.connect() as conn:
            first_any = conn.execute(select(func.min(records.c.id))).scalar()
        if first_any is not None and int(first_any) <= base_id:
            return bad(int(first_any), f"record {first_any} is at or before the chain base {base_id} "
                                       f"(records up to {base_id} were pruned)")
        while True:
            q = select(records).where(records.c.id > last).order_by(records.c.id).limit(chunk)
            with self.engine.connect() as conn:
                rows = list(conn.execute(q))
            for row in rows:
                m = row._mapping
                rid = int(m["id"])
                why, doc = _row_problem(m, rid, expect, prev)
                if why is not None:
                    return bad(rid, why)
                if doc.get("kind") == "checkpoint":
                    last_checkpoint = doc
                for ref in _blob_refs(doc):
                    refs.setdefault(ref, rid)
                prev = m["hash"]
                head_hash = prev
                expect += 1
                checked += 1
            if len(rows) < chunk:
                break
            last = int(rows[-1]._mapping["id"])
        broken = self._bad_blob(refs)
        if broken is not None:
            return bad(*broken)
        if base_id and (last_checkpoint is None or last_checkpoint.get("pruned_through") != base_id
                        or last_checkpoint.get("pruned_head_hash") != (base[1] if base else None)):
            return VerifyResult(ok=False, checked=checked, first_bad_id=base_id + 1, base_id=base_id, problem=(
                f"the chain base (records up to {base_id} pruned) is not the one the newest checkpoint "
                f"record names: the base was changed"))
        return VerifyResult(ok=True, checked=checked, base_id=base_id, head_id=expect - 1 if checked else None,
                            head_hash=head_hash)

    def _bad_blob(self, refs: dict[str, int]) -> tuple[int, str] | None:
        """The first record (by id) naming a blob that is missing or whose content no longer matches its
        sha256, with the reason; None when every blob in ``refs`` is intact."""
        found: list[tuple[int, str]] = []
        for part, data in self._blob_chunks(sorted(refs), 200):
            for sha in part:
                raw = data.get(sha)
                if raw is None:
                    found.append((refs[sha], f"record {refs[sha]} names blob {sha[:16]}, which is missing (deleted)"))
                elif hashlib.sha256(raw).hexdigest() != sha:
                    found.append((refs[sha], f"record {refs[sha]} names blob {sha[:16]}, which was changed: its "
                                             f"content does not match its sha256"))
        return min(found) if found else None

    def verify_blobs(self) -> list[str]:
        """sha256 of every blob whose content no longer matches it."""
        badones: list[str] = []
        last = ""
        while True:
            with self.engine.connect() as conn:
                rows = list(conn.execute(select(blobs.c.sha256, blobs.c.data).where(blobs.c.sha256 > last)
                                         .order_by(blobs.c.sha256).limit(50)))
            for sha, data in rows:
                if hashlib.sha256(bytes(data)).hexdigest() != sha:
                    badones.append(sha)
            if len(rows) < 50:
                return badones
            last = rows[-1][0]

    # ------------------------------------------------------------------ pruning
    def prune(self, before: dt.date | dt.datetime, *, at: dt.datetime, force: bool = False) -> PruneResult:
        """Delete the oldest records (the run of records from the start recorded before ``before``).

        Refused (nothing deleted) when ``before`` is later than five years before ``at`` (15 CFR 762.6)
        unless ``force``. The last pruned record's hash becomes the chain base and a ``checkpoint``
        record naming it is appended, so :meth:`verify` still passes."""
        limit = _bound(before)
        assert limit is not None
        at_utc = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        try:
            keep_from = at_utc.replace(year=at_utc.year - RETENTION_YEARS)
        except ValueError:  # 29 February
            keep_from = at_utc.replace(year=at_utc.year - RETENTION_YEARS, day=28)
        if limit > timestamp(keep_from) and not force:
            return PruneResult(pruned=0, refused=(
                f"records younger than {RETENTION_YEARS} years (recorded on or after "
                f"{keep_from.date().isoformat()}) must be kept (15 CFR 762.6); use --force to prune them anyway"))
        stamp = timestamp(at)
        with self._writer() as conn:
            base = conn.execute(select(chain_base.c.base_id)).scalar()
            base_id = int(base) if base is not None else 0
            first_young = conn.execute(select(func.min(records.c.id)).where(records.c.recorded_at >= limit)).scalar()
            head_id, _ = self._head(conn)
            cut = (int(first_young) - 1) if first_young is not None else head_id
            if cut <= base_id:
                return PruneResult(pruned=0)
            cut_hash = conn.execute(select(records.c.hash).where(records.c.id == cut)).scalar()
            n = conn.execute(select(func.count()).select_from(records).where(records.c.id <= cut)).scalar() or 0
            conn.execute(delete(record_parties).where(record_parties.c.record_id <= cut))
            conn.execute(delete(records).where(records.c.id <= cut))
            if base is None:
                conn.execute(chain_base.insert(), [{"one": 1, "base_id": cut, "base_hash": cut_hash}])
            else:
                conn.execute(chain_base.update().values(base_id=cut, base_hash=cut_hash))
            cp = self._append_one(conn, "checkpoint", stamp, {"command": "prune", "source": None, "subject": None,
                                                               "decision": None}, {
                "pruned_through": cut, "pruned_head_hash": cut_hash, "pruned": int(n), "before": limit,
                "forced": bool(force and limit > timestamp(keep_from))})
            gone = self._collect_blobs(conn)
        return PruneResult(pruned=int(n), through_id=cut, checkpoint_id=cp, blobs_deleted=gone)

    def _collect_blobs(self, conn: Connection) -> int:
        """Delete the blobs no record needs any more; returns how many. Kept: the manifests the remaining
        records name and every blob those manifests name (packs, lists, clearances and the run's other
        files), and the blobs the remaining version-2 batch records name (their rows' outcomes, warnings and
        the file's header). Blobs of any other kind are kept."""
        used = {r[0] for r in conn.execute(select(records.c.manifest).where(records.c.manifest.is_not(None))
                                           .distinct())}
        keep: set[str] = set(used)
        for (sha, data) in conn.execute(select(blobs.c.sha256, blobs.c.data).where(blobs.c.kind == "manifest")):
            if sha not in used:
                continue
            with contextlib.suppress(ValueError):
                keep.update(_manifest_blobs(json.loads(bytes(data).decode("utf-8"))))
        by_kind: dict[str, list[str]] = {}
        for sha, kind in conn.execute(select(blobs.c.sha256, blobs.c.kind)):
            by_kind.setdefault(kind, []).append(sha)
        if any(by_kind.get(k) for k in _RECORD_BLOB_KINDS):
            keep.update(self._batch_blob_refs(conn))
        gone = [sha for kind, shas in by_kind.items() if kind in _COLLECTED_KINDS or kind in _RECORD_BLOB_KINDS
                for sha in shas if sha not in keep]
        for i in range(0, len(gone), 500):
            conn.execute(delete(blobs).where(blobs.c.sha256.in_(gone[i:i + 500])))
        return len(gone)

    @staticmethod
    def _batch_blob_refs(conn: Connection) -> set[str]:
        """The blobs the version-2 screening records in the store name (batch orders since h17, every
        screening since h38; read in chunks of the content)."""
        import orjson

        refs: set[str] = set()
        # streamed in chunks (the statement's option: the connection's would stream the deletes after it too)
        q = select(records.c.content).where(records.c.kind == "screening").execution_options(yield_per=5000)
        for (content,) in conn.execute(q):
            if '"v":2' not in content:
                continue
            try:
                doc = orjson.loads(content)
            except orjson.JSONDecodeError:
                continue
            if isinstance(doc, dict):
                refs.update(_blob_refs(doc))
        return refs


# blob kinds a prune deletes when no record needs them: manifests and the run files they name (a file's role is
# its kind), and the blobs version-2 batch records name
_COLLECTED_KINDS = frozenset({"manifest", "pack", "list", "clearances", "columns", "catalog", "waivers"})
_RECORD_BLOB_KINDS = frozenset({"outcome", "text", "header"})


def _row_problem(m: Any, rid: int, expect: int, prev: str) -> tuple[str | None, dict[str, Any]]:
    """Why a stored record breaks the chain at its place (expected id ``expect`` after hash ``prev``), else
    None; with its parsed content."""
    if rid != expect:
        return (f"record {expect} is missing (deleted): the chain goes from {expect - 1} to {rid}" if rid > expect
                else f"record {rid} is out of order"), {}
    if m["prev_hash"] != prev:
        return (f"record {rid} does not follow record {rid - 1}: its prev_hash is not that record's hash "
                f"(records deleted, inserted or reordered)"), {}
    if chain_hash(prev, m["content"]) != m["hash"]:
        return f"record {rid} was changed: its content does not match its hash", {}
    try:
        doc = json.loads(m["content"])
    except ValueError:
        return f"record {rid}: its content is not JSON", {}
    if doc.get("id") != rid:
        return f"record {rid} carries the content of record {doc.get('id')} (reordered)", doc
    for col in ("kind", "recorded_at", "command", "source", "subject", "decision", "ref_id", "input_sha256",
                "manifest"):
        if doc.get(col) != m[col]:
            return (f"record {rid} was changed: its {col} column ({m[col]!r}) differs from its hashed content "
                    f"({doc.get(col)!r})"), doc
    return None, doc


def _blob_refs(doc: dict[str, Any]) -> list[str]:
    """The blobs a version-2 screening record covers by reference: its outcomes and warnings, and a batch
    order's file header."""
    refs = outcome_refs(doc)
    if refs and doc.get("command") == "batch":
        inp = doc.get("input")
        if isinstance(inp, dict) and isinstance(inp.get("header_sha256"), str):
            refs.append(inp["header_sha256"])
    return refs


def _manifest_blobs(manifest: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for key in ("packs", "lists", "clearances", "files"):  # files: the run's clearances, column map, catalog...
        for item in manifest.get(key) or []:
            if isinstance(item, dict) and item.get("blob"):
                out.add(str(item["blob"]))
    return out


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        configure_connection(dbapi_conn)  # transactions are begun below, not by the driver

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("ecscreen_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
