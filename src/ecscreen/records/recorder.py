"""Turning screenings into records: the run manifest (tool, options, packs and lists stored by hash)
and one :class:`NewRecord` per screened shipment (``check``, API, ``serve``), order (``batch``) or
product x market pair (``gate``).

The manifest is stored once per distinct run set-up (content-addressed), and each pack file and
party-list snapshot once per content: a record names its manifest's sha256, the manifest names the
blobs, so a record can be replayed with exactly the packs and lists it was screened with.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import marshal
import queue
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ecscreen.records.models import NewRecord, PartyRef
from ecscreen.records.rawsqlite import canonical, canonical_bytes, col, content_json, norm_name, timestamp

if TYPE_CHECKING:  # ``check`` records through rawsqlite.SqliteRecordWriter, without SQLAlchemy
    from ecscreen.records.store import RecordStore

__all__ = ["BatchRecorder", "env_clearance_files", "list_blob_bytes", "record_gate", "record_report", "result_record", "run_manifest"]

_PARTY_FIELD = re.compile(r"^parties\[(\d+)\]")
_RANK = {"clear": 0, "review": 1, "license_required": 2, "prohibited": 3}


def _worst(outcomes: Iterable[str]) -> str:
    return max(outcomes, key=lambda o: _RANK.get(o, 0), default="clear")


def list_blob_bytes(sl: Any) -> bytes:
    """A party list in the stored-list format (gzip JSON, read back by ``ecscreen.parties.store._decode_store``):
    the stored file itself when the list came from one, else the list re-encoded."""
    from ecscreen.settings import package_file

    path = str(getattr(sl, "path", "") or "")
    if path.startswith("ecscreen/data/") and path.endswith(".json.gz"):
        try:
            return package_file(*path.split("/")[1:]).read_bytes()
        except OSError:
            pass
    elif path.endswith(".json.gz") and Path(path).is_file():
        try:
            return Path(path).read_bytes()
        except OSError:
            pass
    from ecscreen.parties.store import _to_store

    return bytes(_to_store(sl))


def _pack_bytes(lp: Any) -> bytes | None:
    """The pack file's text as the loader hashed it (its sha256 is the pack's sha256), or None."""
    from ecscreen.packs import yamlio

    try:
        return str(yamlio.read_text(Path(lp.path))).encode("utf-8")
    except Exception:
        return None


def run_manifest(store: RecordStore, engine: Any, *, command: str, options: dict[str, Any], at: dt.datetime,
                 files: Sequence[tuple[str, str | Path]] = ()) -> str:
    """Store the set-up of a run (tool version, command, options, packs and lists, each by sha256 with
    its stored blob) and return the manifest's sha256. ``files`` are extra input files worth keeping
    with the run, as (role, path): a clearances file, a gate catalog or waivers file. When the run screens
    parties and no clearances file is given, the files of ``$ECSCREEN_CLEARANCES`` (which the party
    screening then applies) are stored instead, marked ``"from": "ECSCREEN_CLEARANCES"``, so replay uses them."""
    from ecscreen import __version__

    packs: list[dict[str, Any]] = []
    infos = list(engine.registry.packs)
    have = store.has_blobs(lp.info.sha256 for lp in infos)
    for lp in infos:
        info = lp.info
        blob: str | None = info.sha256 if info.sha256 in have else None
        if blob is None:
            data = _pack_bytes(lp)
            if data is not None and hashlib.sha256(data).hexdigest() == info.sha256:
                blob = store.put_blob(data, "pack", ref=info.id, at=at)
        packs.append({"id": info.id, "version": info.version, "kind": getattr(lp.model, "kind", "rules"),
                      "jurisdiction": info.jurisdiction, "sha256": info.sha256, "path": info.path, "blob": blob})
    lists: list[dict[str, Any]] = []
    if getattr(engine, "use_lists", False):
        for sl in engine.party_lists:
            info = sl.info
            lblob = store.find_blob("list", info.sha256)
            if lblob is None:
                lblob = store.put_blob(list_blob_bytes(sl), "list", ref=info.sha256, at=at)
            lists.append({"name": info.name, "source": info.source, "date": info.date, "entries": info.entries,
                          "sha256": info.sha256, "origin": info.origin, "blob": lblob})
    extra: list[dict[str, Any]] = []
    given: list[tuple[str, str | Path, str | None]] = [(role, path, None) for role, path in files]
    if getattr(engine, "use_lists", False) and not any(role == "clearances" for role, _ in files):
        # without a clearances file the party screening applied $ECSCREEN_CLEARANCES: keep those files
        given += [("clearances", path, "ECSCREEN_CLEARANCES") for path in env_clearance_files()]
    for role, path, env in given:
        entry: dict[str, Any] = {"role": role, "path": str(path)}
        if env:
            entry["from"] = env
        try:
            data = Path(path).read_bytes()
        except OSError:
            extra.append({**entry, "blob": None})
            continue
        extra.append({**entry, "blob": store.put_blob(data, role, at=at)})
    manifest = {
        "tool": "ecscreen", "tool_version": __version__, "command": command,
        "options": {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in options.items()},
        "policy": getattr(engine, "policy", None), "use_lists": bool(getattr(engine, "use_lists", False)),
        "packs": packs, "lists": lists, "files": extra,
    }
    return store.put_manifest(manifest, at=at)


def env_clearance_files() -> list[str]:
    """The clearance files named in ``$ECSCREEN_CLEARANCES`` (``os.pathsep``-separated), as the party
    screening reads them when no clearances file is given."""
    from ecscreen.settings import Settings

    return [str(p) for p in Settings.from_env().clearances]


def _party_outcomes(findings: Iterable[Any], n: int) -> tuple[list[str], list[float | None]]:
    """Worst outcome and best score of each party's own findings (evidence on ``parties[i]``)."""
    outs = ["clear"] * n
    scores: list[float | None] = [None] * n
    for f in findings:
        idx: set[int] = set()
        for e in f.evidence:
            m = _PARTY_FIELD.match(e.field or "")
            if m and int(m.group(1)) < n:
                i = int(m.group(1))
                idx.add(i)
                if e.score is not None:
                    scores[i] = max(scores[i] or 0.0, float(e.score))
        for i in idx:
            if f.covered_by is None:
                outs[i] = _worst([outs[i], f.outcome.value])
    return outs, scores


def result_record(result: Any, shipment: Any, *, command: str, source: str, manifest: str | None,
                  raw: Any = None) -> NewRecord:
    """The record of one screened shipment (``ShipmentResult``) and its input (a ``Shipment``, or for
    input that could not be read, the raw document if there is one)."""
    decision = result.decision if isinstance(result.decision, str) else str(result.decision)
    parties: list[PartyRef] = []
    if shipment is not None and not isinstance(shipment, dict) and hasattr(shipment, "parties"):
        doc: Any = shipment.model_dump(mode="json", exclude_defaults=True)
        outs, scores = _party_outcomes(result.findings, len(shipment.parties))
        parties = [PartyRef(name=p.name, country=p.country, role=str(p.role.value if hasattr(p.role, "value")
                                                                        else p.role), outcome=o, score=s)
                   for p, o, s in zip(shipment.parties, outs, scores, strict=True)]
    else:
        doc = {"raw": raw} if raw is not None else None
    return NewRecord(
        command=command, source=source, subject=result.id, input=doc, decision=str(getattr(decision, "value", decision)),
        findings=[f.model_dump(mode="json", exclude_defaults=True) for f in result.findings],
        parties=parties, manifest=manifest, warnings=list(result.warnings),
        errors=[":".join(str(x) for x in (e.file, e.line) if x) + (": " if (e.file or e.line) else "")
                + (f"{e.field}: " if e.field else "") + e.message for e in result.errors],
        extra={"as_of": result.as_of.isoformat() if result.as_of else None, "destination": result.destination},
    )


def record_report(store: RecordStore, report: Any, shipments: Sequence[Any], *, command: str, manifest: str | None,
                  at: dt.datetime, raws: Sequence[Any] | None = None, client: str | None = None) -> list[int]:
    """Record every result of a ``check``/API report (``shipments`` aligned with ``report.results``)."""
    recs = []
    for n, (res, sh) in enumerate(zip(report.results, shipments, strict=True)):
        src = f"api:{client}" if client is not None else (res.source or command)
        recs.append(result_record(res, sh, command=command, source=src, manifest=manifest,
                                  raw=raws[n] if raws else None))
    return store.append_screenings(recs, at=at)


class BatchRecorder:
    """Records ``batch`` orders in bulk: ``start(header)`` once, ``add(order, outcomes)`` per order (in
    output order), ``finish()`` at the end. Buffered: one transaction per ``chunk`` orders.

    A batch record (content version 2) keeps the order's input rows (cells and line; the file's header is
    one blob per run), decision, parties and errors inline, and by reference (sha256) to content-addressed
    blobs stored once however many records share them: each row's outcome (kind ``outcome``: its decision
    and findings; most rows share one, e.g. no findings or the same chart finding) and the order's warnings
    (kind ``text``: one blob per distinct warning). The chain hash covers the references, ``records
    verify`` checks the blobs, and readers see the version-1 keys (``findings`` with their line,
    ``warnings``, ``extra.rows``) expanded (:func:`ecscreen.records.rawsqlite.expand_content`). Nothing of
    the run's set-up (tool, options, packs, lists) is repeated per record: the manifest's sha256 names it.

    Each order is packed as plain values (:meth:`_pack`) and its record built from them (:meth:`_build`):
    here for the writer thread, in the child for the writer process (:class:`_ProcessWriter`), so both write
    the same bytes."""

    def __init__(self, store: RecordStore, *, manifest: str | None, file: str, at: dt.datetime,
                 chunk: int = 2000, threaded: bool = True, process: bool = False) -> None:
        self.store = store
        self.threaded = threaded
        # the writer in a child process (a SQLite store only; see _ProcessWriter), else in a thread
        self.process = process and threaded and _can_fork() and _sqlite_file(store) is not None
        self._proc: _ProcessWriter | None = None
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._failure: Exception | None = None
        self.manifest = manifest
        self.file = file
        self.at = at
        self.chunk = chunk
        self.header: list[str] = []
        self.buf: list[Any] = []  # prepared records (rawsqlite.BatchEntry)
        self.recorded = 0
        self._chunks = 0  # chunks written
        self.first_id: int | None = None
        self.last_id: int | None = None
        self.header_sha: str | None = None
        self._party_cols: list[tuple[str, str, str]] = []
        self._refs: dict[Any, str] = {}  # a row outcome's / warning's key -> its blob's sha256 (stored or pending)
        self._new_blobs: list[tuple[str, str, bytes]] = []  # (sha256, kind, data) to insert with the next chunk
        self._names: dict[tuple[str, Any, str], tuple[str, str, Any, Any, str]] = {}  # party -> name, norm, country, role, JSON head
        # an order's parties (found) without list hits -> their rows and content JSON (all clear, no score)
        self._clear_parties: dict[tuple[Any, ...], tuple[tuple[tuple[Any, ...], ...], str]] = {}
        self._file = str(col(file))
        self._plain_file = content_json(self._file) == f'"{self._file}"'  # no character JSON escapes
        # the content's constant part after the id
        self._fixed = (f',"kind":"screening","recorded_at":{content_json(timestamp(at))},"command":"batch",'
                       f'"manifest":{content_json(manifest)}')
        self._input_head = ""

    def start(self, header: list[str], party_columns: Sequence[tuple[str, str, Any]] = ()) -> None:
        """The file's header (stored once as a blob of kind 'header'; each record names its sha256) and
        the batch fields that name parties: (name field, country field, role), in screening order."""
        self.header = list(header)
        self.header_sha = self.store.put_blob(canonical(self.header).encode("utf-8"), "header", at=self.at)
        self._party_cols = [(n, c, str(getattr(r, "value", r))) for n, c, r in party_columns]
        self._input_head = f'{{"header_sha256":"{self.header_sha}","rows":['
        if self.process and self._proc is None:
            # forked now, before the screening starts any worker processes or threads of its own
            self._proc = _ProcessWriter(self)

    def _blob(self, key: Any, kind: str, doc: Any) -> str:
        """The sha256 of the blob of ``doc`` (canonical JSON), queued for the next chunk when new."""
        data = canonical_bytes(doc)
        sha = hashlib.sha256(data).hexdigest()
        self._queue_blob(key, sha, kind, data)
        return sha

    def _queue_blob(self, key: Any, sha: str, kind: str, data: bytes) -> None:
        if len(self._refs) >= _MEMO:
            self._refs.clear()  # bounded; a blob queued again is ignored by the store (same sha256)
        self._refs[key] = sha
        self._new_blobs.append((sha, kind, data))

    def add(self, order: Any, outs: Sequence[Any]) -> None:
        """Record one order with its row outcomes (in output order). With the writer in a child process only
        the order's plain values are kept here (:meth:`_pack`): the child builds the record (:meth:`_build`)."""
        item = self._pack(order, outs)
        if self.process:  # bytes (not tracked by the cyclic GC however long they wait for the chunk to fill)
            self.buf.append(_marshal_packed(item))
        else:
            self._build(item, self.buf)
        if len(self.buf) >= self.chunk:
            self.flush()

    def _pack(self, order: Any, outs: Sequence[Any]) -> Packed:
        """An order and its row outcomes as plain values (text, bytes, numbers, lists, dicts, None: what
        marshal sends), all :meth:`_build` reads: (order id, its parties as :meth:`_found` gives them, the
        input's canonical JSON, per row (line, decision, findings, warnings, list hits, message of an error
        row); the last four None when empty)."""
        rows = order.rows
        # the input's canonical JSON (sorted keys: header_sha256, rows; cells, line), as canonical() writes it
        try:
            b_in = _dumps({"header_sha256": self.header_sha,
                           "rows": [{"cells": pr.raw.values, "line": pr.raw.line} for pr in rows]})
        except orjson.JSONEncodeError:  # undecodable bytes (lone surrogates): ASCII JSON, as canonical() does
            b_in = canonical({"header_sha256": self.header_sha,
                              "rows": [{"line": pr.raw.line, "cells": pr.raw.values} for pr in rows]}).encode()
        return (order.order_id, self._found(rows) if self._party_cols else (), b_in,
                [(pr.raw.line, o.decision, o.findings or None, o.warnings or None, o.hits or None,
                  o.message if o.decision == "error" else None) for pr, o in zip(rows, outs, strict=True)])

    def _build(self, item: Packed, out: list[Any]) -> None:
        """Append the prepared record (:data:`ecscreen.records.rawsqlite.BatchEntry`) of a packed order
        (:meth:`_pack`) to ``out``, queueing the blobs it names that are new (:attr:`_new_blobs`)."""
        subject, found, b_in, rows = item
        memo = self._refs
        refs: list[str] = []
        errors: list[str] = []
        warnings: dict[str, None] = {}
        last_w: Any = None
        worst = 0
        hits = False
        rank = _RANK
        for line, d, findings, w, o_hits, message in rows:
            if findings:  # keyed by the blob's own sha256 (the memo keeps 64 characters, not the findings)
                data = canonical_bytes({"decision": d, "findings": findings})
                sha = _sha256(data).hexdigest()
                if sha not in memo:
                    self._queue_blob(sha, sha, OUTCOME, data)
                refs.append(sha)
            else:
                refs.append(memo.get(d) or self._blob(d, OUTCOME, {"decision": d, "findings": []}))
            if d == "error":
                errors.append(f"{self.file}:{line}: {message}")
            elif rank[d] > worst:
                worst = rank[d]
            if o_hits:
                hits = True
            if w and w is not last_w and w != last_w:  # the rows of an order mostly carry the same warnings
                if last_w is None:
                    warnings = dict.fromkeys(w)
                else:
                    warnings.update(dict.fromkeys(w))
                last_w = w
        first, last = rows[0][0], rows[-1][0]
        src = f"{self._file}:{first}" if first == last else f"{self._file}:{first}-{last}"
        decision = "error" if errors else _DECISION[worst]
        s_in = b_in.decode()
        in_sha = _sha256(b_in).hexdigest()
        wrefs = [memo.get(w) or self._blob(w, TEXT, w) for w in warnings]
        if isinstance(subject, str) and subject.isascii():
            subj_json = _ascii_json(subject)
        else:
            subject = col(subject)
            subj_json = content_json(subject)
        parties, parties_json = self._parties(found, rows, hits) if self._party_cols else ((), "[]")
        # the rest of the content, after its id (the keys a reader checks against the columns, then the body)
        rest = (f'{self._fixed},"source":{self._src_json(src)},"subject":{subj_json},'
                f'"input_sha256":"{in_sha}","decision":"{decision}","outcomes":{_refs_json(refs)},'
                f'"warnings":{_refs_json(wrefs)},"parties":{parties_json},'
                f'"errors":{content_json(errors) if errors else "[]"}}}')
        out.append((s_in, rest, src, subject, decision, in_sha, parties))

    def _src_json(self, src: str) -> str:
        return f'"{src}"' if self._plain_file else content_json(src)

    def _found(self, rows: Sequence[Any]) -> tuple[tuple[str, Any, str], ...]:
        """(name, country, role) of each party the order names (the first row giving a party's name or
        country gives it), in the order of the batch's party fields."""
        found: list[tuple[str, Any, str]] = []
        f = rows[0].fields
        more = len(rows) > 1
        for name_col, country_col, role in self._party_cols:
            # the first row's value, else the first later row giving one (an order's lines mostly repeat its
            # parties, so the first row usually gives them)
            name = f.get(name_col)
            if not name and more:
                name = next((v for r in rows if (v := r.fields.get(name_col))), None)
            if name:
                country = f.get(country_col)
                if not country and more:
                    country = next((v for r in rows if (v := r.fields.get(country_col))), None)
                found.append((str(name), str(country) if country else None, role))
        return tuple(found)

    def _parties(self, found: tuple[tuple[str, Any, str], ...], rows: Sequence[PackedRow], hits: bool = True
                 ) -> tuple[tuple[tuple[Any, ...], ...], str]:
        """(name, normalised name, country, role, outcome, score) of each party the order names (``found``:
        :meth:`_found`), and their JSON list for the content. ``rows``: the packed rows (:meth:`_pack`);
        ``hits``: some row has list hits (else every party is clear, no score: the parties of an order without
        hits are memoised whole)."""
        if not found:
            return (), "[]"
        if not hits:
            got = self._clear_parties.get(found)
            if got is not None:
                return got
        outcome = ["clear"] * len(found)
        score: list[float | None] = [None] * len(found)
        if hits:
            for r in rows:
                if r[4]:
                    self._party_hits(r[2] or (), r[4], outcome, score)
        out: list[tuple[Any, ...]] = []
        texts: list[str] = []
        names = self._names
        for i, key in enumerate(found):
            got_n = names.get(key)
            if got_n is None:
                if len(names) >= _MEMO:
                    names.clear()
                name, country, role = str(col(key[0])), col(key[1]), col(key[2])
                # the party's JSON up to its outcome (keys in the order of version 1)
                head = content_json({"name": name, "country": country, "role": role})[:-1] + ',"outcome":'
                got_n = names[key] = (name, norm_name(name), country, role, head)
            out.append((*got_n[:4], outcome[i], score[i]))
            sc = "null" if score[i] is None else content_json(score[i])
            texts.append(f'{got_n[4]}"{outcome[i]}","score":{sc}}}')
        text = "[" + ",".join(texts) + "]"
        if not hits:
            if len(self._clear_parties) >= _PARTIES_MEMO:
                self._clear_parties.clear()
            self._clear_parties[found] = (tuple(out), text)
        # tuples of plain values: the cyclic GC untracks them (the buffered records of a long run would
        # otherwise be promoted to the oldest generation and rescanned by every full collection)
        return tuple(out), text

    @staticmethod
    def _party_hits(findings: Iterable[dict[str, Any]], row_hits: Iterable[dict[str, Any]], outcome: list[str],
                    score: list[float | None]) -> None:
        """Fold one row's list hits (with its findings) into the parties' worst outcome and best score
        (evidence on ``parties[i]``)."""
        by_rule = {fd["rule_id"]: fd for fd in findings}
        for h in row_hits:
            m = _PARTY_FIELD.match(str(h.get("field") or ""))
            if not m or int(m.group(1)) >= len(outcome):
                continue
            i = int(m.group(1))
            if h.get("score") is not None:
                score[i] = max(score[i] or 0.0, float(h["score"]))
            fd = by_rule.get(h.get("rule_id"))
            if fd is not None and "covered_by" not in fd:
                outcome[i] = _worst([outcome[i], fd["outcome"]])

    def flush(self) -> None:
        """Hand the buffered records to the writer thread (started on the first chunk): the database work
        (chain hashes, inserts, commit, WAL checkpoints; SQLite runs without the GIL) overlaps the screening
        of the next chunk. At most one chunk waits, so a slow store slows the run instead of filling memory.
        A chunk the store refused stops the run at the next chunk or at :meth:`finish`."""
        self._raise_failure()
        if not self.buf:
            return
        chunk, blobs = self.buf, self._new_blobs
        self.buf, self._new_blobs = [], []
        if not self.threaded:
            self._write(chunk, blobs)
            self._raise_failure()
            return
        if self.process:
            if self._proc is None:
                self._proc = _ProcessWriter(self)
            self._proc.send(chunk, blobs)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._writer, name="ecscreen-batch-recorder", daemon=True)
            self._thread.start()
        self._queue.put((chunk, blobs))

    def _writer(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._failure is None:  # after a failure the remaining chunks are dropped (the run stops)
                self._write(*item)

    def _write(self, chunk: list[Any], blobs: list[tuple[str, str, bytes]]) -> None:
        try:
            ids = self.store.append_batch(chunk, blobs, at=self.at, manifest=self.manifest)
        except Exception as exc:
            self._failure = exc
            return
        self._written(ids[0], ids[-1], len(ids))
        if self._chunks % _UNMAP_EVERY == 0:
            release = getattr(self.store, "release_map", None)
            if release is not None:
                release()

    def _written(self, first: int, last: int, n: int) -> None:
        """Count a chunk the store took (records ``first``-``last``, ``n`` of them)."""
        self.recorded += n
        if self.first_id is None:
            self.first_id = first
        self.last_id = last
        self._chunks += 1

    def _raise_failure(self) -> None:
        exc = self._failure
        if exc is None:
            return
        from ecscreen.errors import UsageError

        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"could not record the screening in {self.store.shown}: {first}; the run stops "
                         f"(use --no-record to screen without recording)") from exc

    def finish(self) -> None:
        """Record what is buffered and wait for the writer thread: every record is in the store after this."""
        try:
            self.flush()
        finally:
            self.close()
        self._raise_failure()

    def close(self) -> None:
        """Stop the writer thread (or process) after the chunks already handed to it (nothing buffered is
        recorded)."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.close()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


def _can_fork() -> bool:
    """Whether this platform starts processes by fork (POSIX); elsewhere the writer stays a thread."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _sqlite_file(store: Any) -> str | None:
    """The database file of a SQLite store (a :class:`RecordStore` or a ``SqliteRecordWriter``), else None."""
    path = getattr(store, "path", None)
    if getattr(store, "dialect", None) != "sqlite":
        return None
    if path is None:
        engine = getattr(store, "engine", None)
        path = getattr(getattr(engine, "url", None), "database", None)
    if not path or str(path) == ":memory:" or not Path(str(path)).is_file():
        return None
    return str(path)


class _ProcessWriter:
    """The batch writer in a forked child process, for a SQLite store: the child opens the store itself
    (:class:`ecscreen.records.rawsqlite.SqliteRecordWriter`: the same rows, transactions and locks as the
    store's own ``append_batch``) and writes the chunks the screening process sends it over a pipe.

    Why a process: a writer thread shares the interpreter lock with the screening thread. Its Python work
    (chain hashes, row tuples, binding 13 parameters a record) holds the lock, and the driver gives the lock up
    and takes it back around every statement step (once per inserted row), so the screening thread waits for
    it over and over (400,000 ERP rows: blocked ~2 s in ~1,800-3,200 waits against 0.06 s in 70 without
    recording; measured under load). In a process the writer's work overlaps the screening on the second core
    and no lock is shared. The child also builds the records (:meth:`BatchRecorder._build`: outcome blobs,
    sha256s, parties, content text: ~16 us an order) from the plain values the screening process packs
    (:meth:`BatchRecorder._pack` and one marshal dump an order: ~9-10 us, against ~19 us for building the
    record there; 30,000 ERP rows in process, under load); the rest of the cost is the chunk's way through
    the pipe.

    The child is forked before the run starts any worker process or thread, with the parent's store
    connections idle (no transaction open). It never uses them: it opens its own connection (SQLite forbids
    using a connection across fork(), not opening a new one in the child) and its own lock file, and the
    parent keeps its connections, and so its locks on the WAL index, open until the child has ended.

    At most one chunk waits in the pipe while the child writes another (the send blocks: a slow store slows
    the run instead of filling memory). The child answers each chunk with the ids it was given, or with the
    error that stopped it (then it drops the rest); it ignores SIGINT and SIGTERM (the parent decides: the
    chunks handed over are written, then it stops) and ends when told to or when the pipe closes."""

    def __init__(self, rec: BatchRecorder) -> None:
        import multiprocessing

        path = _sqlite_file(rec.store)
        assert path is not None
        self._rec = rec
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child_writer, args=(child, self._conn, path, rec),
                                 name="ecscreen-batch-recorder", daemon=True)
        self._proc.start()
        child.close()
        self._sent = 0
        self._answered = 0

    def send(self, chunk: list[Any], blobs: list[tuple[str, str, bytes]]) -> None:
        """Hand a chunk to the child (after taking in its answers so far)."""
        self._answers(block=False)
        try:
            # marshal: the chunk is tuples of text, numbers and None (half pickle's cost, ~1.3 us a record;
            # text with lone surrogates round-trips)
            self._conn.send_bytes(marshal.dumps((chunk, blobs)))
        except OSError as exc:  # the child is gone: its answer (if any) says why
            self._answers(block=False)
            if self._rec._failure is None:
                self._rec._failure = exc
            return
        self._sent += 1

    def _answers(self, *, block: bool) -> None:
        """Take in the child's answers: all it has sent (``block``: until every chunk sent is answered)."""
        rec = self._rec
        while self._answered < self._sent and (block or self._conn.poll()):
            try:
                got = self._conn.recv()
            except (EOFError, OSError) as exc:
                if rec._failure is None:
                    rec._failure = RuntimeError(f"the record writer process ended early ({exc or 'no answer'})")
                self._answered = self._sent
                return
            self._answered += 1
            if got[0] == "ok":
                rec._written(got[1], got[2], got[3])
            elif rec._failure is None:
                rec._failure = RuntimeError(got[1])

    def close(self) -> None:
        """Wait for the answers of every chunk sent, then end the child."""
        try:
            self._answers(block=True)
            self._conn.send_bytes(b"")  # the end
        except OSError:
            pass
        finally:
            self._conn.close()
            self._proc.join()


def _marshal_packed(item: Packed) -> bytes:
    """A packed order (:meth:`BatchRecorder._pack`) as marshal bytes (~1 us; one dump per order: a dump of a
    whole chunk of them cost far more, its table of shared objects growing with the chunk). A findings or
    hits value marshal cannot write (not plain JSON data, e.g. an enum) goes as JSON data read back: the same
    canonical JSON, so the same blobs and records."""
    try:
        return marshal.dumps(item)
    except ValueError:
        oid, found, b_in, rows = item
        return marshal.dumps((oid, found, b_in, [(*r[:2], _plain(r[2]), r[3], _plain(r[4]), r[5]) for r in rows]))


def _plain(doc: Any) -> Any:
    """``doc`` as plain JSON data, read back (:func:`canonical_bytes` gives the same bytes for both)."""
    import json

    from ecscreen.records.rawsqlite import _default

    return doc if doc is None else json.loads(json.dumps(doc, default=_default))


def _child_writer(conn: Any, parent_end: Any, path: str, rec: BatchRecorder) -> None:
    """The child of :class:`_ProcessWriter`: build the records of each chunk of packed orders received
    (:meth:`BatchRecorder._build`, with the recorder as forked: its header, file and memos) and write them,
    answer ("ok", first id, last id, count) or ("error", text); after an error the chunks are dropped (still
    answered). Ends when told to or when the parent's end of the pipe closes (its copy here is closed first)."""
    at, manifest = rec.at, rec.manifest
    import signal

    from ecscreen.records.rawsqlite import SqliteRecordWriter

    parent_end.close()

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # the objects inherited from the screening process stay out of the child's collections: traversing them
    # would copy their pages (copy-on-write) and cost the time of a full collection of the parent's heap
    gc.freeze()
    store: Any = None
    failed: str | None = None
    try:
        store = SqliteRecordWriter.open(Path(path))
        if store is None:
            failed = f"{path}: not a record store at the current schema"
    except Exception as exc:
        failed = f"{type(exc).__name__}: {exc}"
    chunks = 0
    try:
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                return
            if not data:
                return
            item = marshal.loads(data)
            if failed is not None:
                conn.send(("error", failed))
                continue
            try:
                entries: list[Any] = []
                for packed in item[0]:
                    rec._build(marshal.loads(packed), entries)
                blobs, rec._new_blobs = [*item[1], *rec._new_blobs], []
                ids = store.append_batch(entries, blobs, at=at, manifest=manifest)
            except Exception as exc:
                failed = str(exc) or type(exc).__name__
                conn.send(("error", failed))
                continue
            conn.send(("ok", ids[0], ids[-1], len(ids)))
            chunks += 1
            if chunks % _UNMAP_EVERY == 0:
                store.release_map()
    finally:
        if store is not None:
            store.close()


def _ascii_json(s: str) -> str:
    """An ASCII text as JSON (orjson's output): quoted, escaped only when it holds a quote, a backslash
    or a control character."""
    if s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    return orjson.dumps(s).decode()


_sha256 = hashlib.sha256
_dumps = orjson.dumps


def _refs_json(refs: list[str]) -> str:
    return '["' + '","'.join(refs) + '"]' if refs else "[]"


# an order as the screening process hands it to the record writer (BatchRecorder._pack): plain values only
PackedRow = tuple[int, str, Any, Any, Any, Any]  # line, decision, findings, warnings, hits, error message
Packed = tuple[Any, tuple[tuple[str, Any, str], ...], bytes, list[PackedRow]]  # order id, parties, input, rows

_MEMO = 200_000  # bound of the recorder's memos (blob references, party names)
# bound of the memo of an order's parties without hits (keys, rows and JSON of up to three parties: ~1.2 KB an
# entry). 1,000,000 ERP rows name 92,376 distinct party sets in 364,299 orders: unbounded it held ~110 MB for a
# 75 % hit rate; 20,000 entries hold ~25 MB for 57 % (a miss costs a few microseconds: the names are memoised)
_PARTIES_MEMO = 20_000
# every this many chunks the writer lets go of the store's memory map (SQLite maps it again on the next read):
# the pages a long run reads through the map otherwise stay in its resident set (~130 MB at 1,000,000 rows)
_UNMAP_EVERY = 25
_DECISION = {v: k for k, v in _RANK.items()}
OUTCOME, TEXT = "outcome", "text"


def record_gate(store: RecordStore, report: Any, *, manifest: str | None, catalog: str, at: dt.datetime) -> list[int]:
    """One record per product x market pair of a ``gate`` run (the catalog file is in the manifest)."""
    recs = []
    for p in report.pairs:
        recs.append(NewRecord(
            command="gate", source=f"{catalog}:{p.line}" if p.line else catalog, subject=p.subject,
            input={"sku": p.sku, "market": p.market, "eccn": p.eccn, "description": p.description, "line": p.line},
            decision=str(getattr(p.decision, "value", p.decision)),
            findings=[f.model_dump(mode="json", exclude_defaults=True) for f in p.findings],
            manifest=manifest, errors=list(p.errors), extra={"status": p.status, "market_code": p.market_code,
                                                     "as_of": report.as_of.isoformat()}))
    return store.append_screenings(recs, at=at)
