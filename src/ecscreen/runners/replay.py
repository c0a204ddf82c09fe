"""Replay a recorded screening with the packs and lists it was screened with, and compare.

The record names its run manifest (by sha256); the manifest names every pack file and party-list
snapshot by the sha256 of its stored blob. Replay rebuilds the registry from the pack blobs (written
under a temporary directory with their recorded paths, so pack paths and hashes are the recorded ones),
the lists from the list blobs (verified against their recorded digests), the clearances from the
recorded clearances file and the review decisions recorded before the record, then screens the recorded
input again on the recorded date and compares decision and findings with the record.

Nothing current is used: not the shipped or imported lists, not the packs on disk, not the clock.
A blob that is missing or no longer matches its sha256 makes the replay *not identical* (it is named).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["ReplayResult", "replay", "compare_findings", "finding_key"]

SUPPORTED = ("check", "api", "serve", "batch", "gate")


class ReplayBroken(Exception):
    """The record cannot be replayed as recorded (a blob is missing or damaged)."""


@dataclass
class ReplayResult:
    record_id: int
    identical: bool
    decision_before: str | None = None
    decision_after: str | None = None
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why it could not be replayed as recorded
    packs: int = 0
    lists: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"record": self.record_id, "identical": self.identical, "decision": {
            "recorded": self.decision_before, "replayed": self.decision_after},
            "findings_added": self.added, "findings_removed": self.removed, "findings_changed": self.changed,
            "problems": self.problems, "packs": self.packs, "lists": self.lists}


def finding_key(f: Mapping[str, Any]) -> tuple[str, Any, Any, str]:
    ev = f.get("evidence") or []
    first = ev[0].get("field") if ev and isinstance(ev[0], Mapping) else ""
    return (str(f.get("rule_id")), f.get("line"), f.get("item_index"), str(first or ""))


def _keyed(findings: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], Mapping[str, Any]]:
    out: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for f in findings:
        k = finding_key(f)
        n = 0
        while (*k, n) in out:
            n += 1
        out[(*k, n)] = f
    return out


def _short(f: Mapping[str, Any]) -> dict[str, Any]:
    out = {"rule_id": f.get("rule_id"), "outcome": f.get("outcome"), "item_index": f.get("item_index"),
           "message": f.get("message")}
    if f.get("line") is not None:
        out["line"] = f.get("line")
    return out


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)


def compare_findings(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(added, removed, changed) findings, matched by rule id, item and first evidence field; a changed
    finding lists each differing field with its recorded and replayed value."""
    b, a = _keyed(before), _keyed(after)
    added = [_short(a[k]) for k in a if k not in b]
    removed = [_short(b[k]) for k in b if k not in a]
    changed = []
    for k in b:
        if k not in a:
            continue
        fb, fa = b[k], a[k]
        diffs = {}
        for fld in sorted(set(fb) | set(fa)):
            if _canon(fb.get(fld)) != _canon(fa.get(fld)):
                diffs[fld] = {"recorded": fb.get(fld), "replayed": fa.get(fld)}
        if diffs:
            ch = {"rule_id": fb.get("rule_id"), "item_index": fb.get("item_index"), "fields": diffs}
            if fb.get("line") is not None:
                ch["line"] = fb.get("line")
            changed.append(ch)
    return added, removed, changed


# --------------------------------------------------------------------------- rebuilding the run


def _blob(store: Any, sha: str | None, what: str) -> bytes:
    if not sha:
        raise ReplayBroken(f"{what} was not stored with the record")
    try:
        data = store.get_blob(sha)
    except ValueError as exc:
        raise ReplayBroken(f"{what}: {exc}") from None
    if data is None:
        raise ReplayBroken(f"{what}: blob {sha[:16]} is missing from the store")
    return bytes(data)


def _safe_rel(path: str, fallback: str) -> PurePosixPath:
    parts = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("", "/", ".", "..")]
    return PurePosixPath(*parts) if len(parts) >= 2 else PurePosixPath("rules", parts[-1] if parts else fallback)


def _registry(store: Any, packs: list[Mapping[str, Any]], tmp: Path) -> Any:
    from ecscreen.packs.registry import load_registry

    roots: dict[str, Path] = {}
    for p in packs:
        data = _blob(store, p.get("blob"), f"pack {p.get('id')!r} ({p.get('path')})")
        rel = _safe_rel(str(p.get("path") or ""), f"{p.get('id')}.yaml")
        target = tmp.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        roots.setdefault(rel.parts[0], tmp / rel.parts[0])
    if not roots:
        raise ReplayBroken("the record's manifest names no packs")
    return load_registry(sorted(roots.values()), extend=False)


def _lists(store: Any, lists: list[Mapping[str, Any]]) -> list[Any]:
    from ecscreen.parties.store import ListError, _decode_store

    out = []
    for li in lists:
        what = f"list {li.get('name')!r}"
        raw = _blob(store, li.get("blob"), what)
        try:
            sl = _decode_store(raw, f"{what} (record blob {str(li.get('blob'))[:16]})")
        except ListError as exc:
            raise ReplayBroken(exc.render()) from None
        if li.get("sha256") and sl.info.sha256 != li.get("sha256"):
            raise ReplayBroken(f"{what}: the stored snapshot's entries do not match the recorded sha256")
        out.append(sl)
    return out


def _allowlist(store: Any, manifest: Mapping[str, Any], record_id: int, tmp: Path) -> Any:
    from ecscreen.parties.matching import AllowList
    from ecscreen.parties.screening import load_allowlist
    from ecscreen.runners.review import clearances_from

    clearances = []
    for n, f in enumerate(manifest.get("files") or []):
        if f.get("role") != "clearances":
            continue
        data = _blob(store, f.get("blob"), f"clearances file {f.get('path')}")
        p = tmp / f"clearances-{n}.yaml"
        p.write_bytes(data)
        clearances.extend(load_allowlist(p).clearances)
    decided = [d for d in store.decisions() if d.id < record_id]
    clearances.extend(clearances_from(decided))
    return AllowList(clearances)


def _date(v: Any) -> dt.date | None:
    if isinstance(v, str) and len(v) >= 10:
        return dt.date.fromisoformat(v[:10])
    return v if isinstance(v, dt.date) else None


def replay(store: Any, record: Any) -> ReplayResult:
    """Re-screen ``record`` (a StoredRecord of ``check``/API/``serve``/``batch``/``gate``) as recorded and compare."""
    from ecscreen.errors import UsageError
    from ecscreen.model import Shipment

    content = record.content
    rid = int(record.id)
    if record.kind != "screening":
        raise UsageError(f"record {rid} is a {record.kind} record: only screenings can be replayed")
    if record.command not in SUPPORTED:
        raise UsageError(f"record {rid} was recorded by '{record.command}': replay re-screens records of "
                         f"{', '.join(SUPPORTED)} (shipments); {record.command} records are not supported yet")
    before = [f for f in content.get("findings") or [] if isinstance(f, dict)]
    result = ReplayResult(record_id=rid, identical=False, decision_before=content.get("decision"))
    if content.get("problems"):  # a batch record whose outcome or warning blobs are missing or damaged
        result.problems += [f"the record's stored outcome cannot be read: {p}" for p in content["problems"]]
        return result
    inp = content.get("input")
    if not isinstance(inp, dict) or "raw" in inp and len(inp) == 1:
        raise UsageError(f"record {rid} holds no screenable input (its input could not be read when recorded)")
    with tempfile.TemporaryDirectory(prefix="ecscreen-replay-") as td:  # pack files may be read lazily
        try:
            engine, manifest = _engine(store, record, Path(td))
        except ReplayBroken as exc:
            result.problems.append(str(exc))
            return result
        result.packs, result.lists = len(engine.registry.packs), len(engine.lists or [])
        options = manifest.get("options") or {}
        as_of = _date(options.get("as_of"))
        extra = content.get("extra") or {}
        today = _date(extra.get("as_of")) or record.recorded_at.date()
        if record.command == "gate":
            try:
                after, result.decision_after, pair_diff = _replay_gate(store, engine, manifest, record, Path(td))
            except ReplayBroken as exc:
                result.problems.append(str(exc))
                return result
            result.changed += pair_diff
        elif record.command == "batch":
            try:
                after, result.decision_after, rows_diff = _replay_batch(store, engine, manifest, record, as_of,
                                                                        Path(td))
            except ReplayBroken as exc:
                result.problems.append(str(exc))
                return result
            result.changed += rows_diff
        else:
            sh = Shipment.model_validate(inp)
            res = engine.screen_one(sh, as_of=as_of, label=record.subject or sh.id, today=today)
            after = [f.model_dump(mode="json", exclude_defaults=True) for f in res.findings]
            result.decision_after = str(getattr(res.decision, "value", res.decision))
    a, r, c = compare_findings(before, after)
    result.added, result.removed, result.changed = a, r, result.changed + c
    result.identical = (result.decision_before == result.decision_after and not result.added
                        and not result.removed and not result.changed)
    return result


def _replay_batch(store: Any, engine: Any, manifest: Mapping[str, Any], record: Any, as_of: dt.date | None, tmp: Path
                  ) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    """Re-screen the rows of a recorded ``batch`` order (its header and cells, the recorded column map):
    (findings with their line, the order's decision, per-row differences)."""
    from ecscreen.runners.batch import (
        BatchOptions,
        BatchScreener,
        Columns,
        RawRow,
        group_orders,
        load_column_map,
        parse_row,
    )

    inp = record.content["input"]
    if inp.get("header") is None and inp.get("header_sha256"):  # the header is stored once per run, as a blob
        try:
            loaded = json.loads(_blob(store, inp["header_sha256"], "the file's header row").decode("utf-8"))
        except ValueError:
            raise ReplayBroken("the file's header row: its stored blob is not JSON") from None
        header = [str(h) for h in loaded or []]
    else:
        header = [str(h) for h in inp.get("header") or []]
    rows = [RawRow(line=int(r["line"]), values=[str(v) for v in r.get("cells") or []]) for r in inp.get("rows") or []]
    colmap: dict[str, str] = {}
    for n, f in enumerate(manifest.get("files") or []):
        if f.get("role") == "columns":
            p = tmp / f"columns-{n}.yaml"
            p.write_bytes(_blob(store, f.get("blob"), f"column map {f.get('path')}"))
            colmap = load_column_map(p)
    src = str(record.source or "")
    file = src.rsplit(":", 1)[0] if ":" in src else src
    cols = Columns.from_header(header, colmap, file or "<stdin>")
    parsed = [parse_row(r, cols, len(header)) for r in rows]
    screener = BatchScreener(engine, BatchOptions(as_of=as_of, today=record.recorded_at.date()))
    findings: list[dict[str, Any]] = []
    now_rows: list[dict[str, Any]] = []
    for order in group_orders(parsed, "order_id" in cols.index):
        for pr, o in zip(order.rows, screener.screen_order(order), strict=True):
            now_rows.append({"line": pr.raw.line, "decision": o.decision, "rule_ids": o.rule_ids,
                             "message": o.message})
            findings += [{"line": pr.raw.line, **fd} for fd in o.findings]
    decisions = [r["decision"] for r in now_rows]
    order_rank = ["clear", "review", "license_required", "prohibited"]
    decision = "error" if "error" in decisions else max(decisions, key=order_rank.index, default="clear")
    diffs: list[dict[str, Any]] = []
    recorded_rows = {int(r["line"]): r for r in (record.content.get("extra") or {}).get("rows") or []}
    for r in now_rows:
        old = recorded_rows.get(r["line"], {})
        # what the record kept of each row (the decision; older records also rule ids and message)
        fields = {k: {"recorded": old.get(k), "replayed": r[k]} for k in ("decision", "rule_ids", "message")
                  if (k in old or k == "decision") and old.get(k) != r[k]}
        if fields:
            diffs.append({"rule_id": f"row line {r['line']}", "item_index": None, "line": r["line"], "fields": fields})
    recorded_errors = [str(e) for e in record.content.get("errors") or []]
    now_errors = [f"{file}:{r['line']}: {r['message']}" for r in now_rows if r["decision"] == "error"]
    if recorded_errors and recorded_errors != now_errors:
        diffs.append({"rule_id": "errors", "item_index": None,
                      "fields": {"errors": {"recorded": recorded_errors, "replayed": now_errors}}})
    return findings, decision, diffs


def _replay_gate(store: Any, engine: Any, manifest: Mapping[str, Any], record: Any, tmp: Path
                 ) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    """Re-run the recorded ``gate`` catalog (its stored blob, with the recorded waivers file and options)
    and pick the recorded product x market pair: (its findings, its decision, differences in status/errors)."""
    from ecscreen.model import Outcome
    from ecscreen.runners.gate import load_waivers, run_gate

    files = list(manifest.get("files") or [])
    cat = next((f for f in files if f.get("role") == "catalog"), None)
    if cat is None:
        raise ReplayBroken("the record's manifest names no gate catalog")
    suffix = Path(str(cat.get("path") or "catalog.csv")).suffix or ".csv"
    cpath = tmp / f"catalog{suffix}"
    cpath.write_bytes(_blob(store, cat.get("blob"), f"gate catalog {cat.get('path')}"))
    options = manifest.get("options") or {}
    wl: list[Any] = []
    wlines: list[int | None] = []
    wfile: str | None = None
    wav = next((f for f in files if f.get("role") == "waivers"), None)
    if wav is not None:
        wpath = tmp / f"waivers{Path(str(wav.get('path') or 'w.yaml')).suffix or '.yaml'}"
        wpath.write_bytes(_blob(store, wav.get("blob"), f"waivers file {wav.get('path')}"))
        wl, wlines = load_waivers(wpath)
        wfile = str(wav.get("path"))
    try:
        fail_on = Outcome(str(options.get("fail_on") or "license_required"))
    except ValueError:
        raise ReplayBroken(f"the recorded --fail-on {options.get('fail_on')!r} is not an outcome") from None
    # the date the gate evaluated on (recorded since h9), else --as-of, else the day it was recorded
    on = (_date((record.content.get("extra") or {}).get("as_of")) or _date(options.get("as_of"))
          or record.recorded_at.date())
    report = run_gate(cpath, engine, as_of=on, fail_on=fail_on, waivers=wl, waiver_lines=wlines,
                      waivers_file=wfile)
    inp = record.content.get("input") or {}
    pair = next((p for p in report.pairs if p.sku == inp.get("sku") and p.market == inp.get("market")
                 and p.line == inp.get("line")), None)
    if pair is None:
        raise ReplayBroken(f"the recorded catalog no longer yields the pair {record.subject!r}")
    findings = [f.model_dump(mode="json", exclude_defaults=True) for f in pair.findings]
    diffs: list[dict[str, Any]] = []
    recorded_errors = [str(e) for e in record.content.get("errors") or []]
    if recorded_errors != list(pair.errors):
        diffs.append({"rule_id": "errors", "item_index": None,
                      "fields": {"errors": {"recorded": recorded_errors, "replayed": list(pair.errors)}}})
    status = (record.content.get("extra") or {}).get("status")
    if status is not None and status != pair.status:
        diffs.append({"rule_id": "status", "item_index": None,
                      "fields": {"status": {"recorded": status, "replayed": pair.status}}})
    return findings, str(getattr(pair.decision, "value", pair.decision)), diffs


def _engine(store: Any, record: Any, tmp: Path) -> tuple[Any, dict[str, Any]]:
    """The engine of the record's run, from its manifest's blobs (ReplayBroken when one is unusable)."""
    from ecscreen.engine.core import Engine

    if not record.manifest:
        raise ReplayBroken("the record names no run manifest (packs and lists unknown)")
    try:
        manifest = store.get_manifest(record.manifest)
    except ValueError as exc:
        raise ReplayBroken(f"run manifest: {exc}") from None
    if manifest is None:
        raise ReplayBroken(f"run manifest {record.manifest[:16]} is missing from the store")
    use_lists = bool(manifest.get("use_lists"))
    reg = _registry(store, list(manifest.get("packs") or []), tmp / "packs")
    lists = _lists(store, list(manifest.get("lists") or [])) if use_lists else None
    allow = _allowlist(store, manifest, int(record.id), tmp)
    engine = Engine.build(reg, use_lists=use_lists, allowlist=allow, lists=lists,
                          policy=str(manifest.get("policy") or "enforced"))
    return engine, manifest
