"""``ecscreen history``, ``ecscreen show`` and ``ecscreen records export|prune|verify|info``: reading the
record store (see :mod:`ecscreen.records`). The store is ``$ECSCREEN_DATABASE_URL`` if set, else SQLite at
``$ECSCREEN_HOME/records.db``.

Exit codes: 0 done (``records verify``: the chain is intact); 1 ``records verify`` found the chain broken
(the first bad record id is printed); 2 usage error (bad option, unknown record, prune refused).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ecscreen.cli.options import record_store
from ecscreen.errors import UsageError

__all__ = ["app", "history_command", "show_command"]

app = typer.Typer(help="Export, verify and prune screening records.", no_args_is_help=True)

DECISIONS = ("clear", "review", "license_required", "prohibited", "error", "cleared", "confirmed", "escalated")


def _when(value: str | None, option: str) -> dt.date | dt.datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} must be a date YYYY-MM-DD (or an ISO date-time), not {value!r}") from None


def _rule_ids(content: dict[str, Any]) -> str:
    return ";".join(dict.fromkeys(str(f.get("rule_id")) for f in content.get("findings") or [] if f.get("rule_id")))


def _parties(content: dict[str, Any]) -> str:
    out = []
    for p in content.get("parties") or []:
        c = f" ({p['country']})" if p.get("country") else ""
        out.append(f"{p.get('name')}{c}")
    return "; ".join(out)


def _summary(r: Any) -> dict[str, Any]:
    c = r.content
    return {"id": r.id, "kind": r.kind, "recorded_at": r.recorded_at.isoformat().replace("+00:00", "Z"),
            "command": r.command, "source": r.source, "subject": r.subject, "decision": r.decision,
            "rule_ids": _rule_ids(c), "parties": _parties(c), "ref_id": r.ref_id,
            "input_sha256": r.input_sha256, "hash": r.hash}


CSV_COLUMNS = ("id", "kind", "recorded_at", "command", "source", "subject", "decision", "rule_ids", "parties",
               "ref_id", "input_sha256", "hash")


def _csv_cell(v: Any) -> str:
    from ecscreen.runners.batch import spreadsheet_safe

    return spreadsheet_safe("" if v is None else str(v))


def history_command(
    party: Annotated[str | None, typer.Option("--party", help="Records with a party whose name contains this "
                                              "(case-insensitive).")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DATE", help="Recorded on or after (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE", help="Recorded before (YYYY-MM-DD, UTC).")] = None,
    decision: Annotated[str | None, typer.Option("--decision", metavar="D", help="clear, review, license_required, "
                                                 "prohibited or error (cleared/confirmed/escalated: review decisions).")] = None,
    command: Annotated[str | None, typer.Option("--command", help="check, batch, gate, api, serve or review")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many, newest first (0: all).")] = 50,
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json|csv", help="Output format.")] = "table",
) -> None:
    """List recorded screenings (and review decisions), newest first."""
    if format not in ("table", "json", "csv"):
        raise UsageError(f"--format must be table, json or csv, not {format!r}")
    if decision is not None and decision not in DECISIONS:
        raise UsageError(f"--decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if limit < 0:
        raise UsageError(f"--limit must be 0 (all) or more, not {limit}")
    s, u = _when(since, "--since"), _when(until, "--until")
    kind = "decision" if decision in ("cleared", "confirmed", "escalated") or command == "review" else "screening"
    with record_store() as store:
        found = store.query(party=party, since=s, until=u, decision=decision, kind=kind, command=command,
                            limit=limit or None)
    rows = [_summary(r) for r in found]
    if format == "json":
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    if format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for r in rows:
            w.writerow([_csv_cell(r[c]) for c in CSV_COLUMNS])
        sys.stdout.write(buf.getvalue())
        return
    from rich.console import Console
    from rich.table import Table

    from ecscreen.outputs.render import safe_text

    out = Console(soft_wrap=False, highlight=False)
    if not rows:
        out.print("no records match", markup=False)
        return
    t = Table(title=f"records ({len(rows)}{' shown, newest first' if limit and len(rows) == limit else ''})")
    for col in ("id", "recorded (UTC)", "command", "source", "subject", "decision", "rules", "parties"):
        t.add_column(col, overflow="fold", no_wrap=col in ("id", "subject", "decision"))
    for r in rows:
        src = str(r["source"] or "")
        t.add_row(*(safe_text(x) for x in (r["id"], r["recorded_at"][:16].replace("T", " "), r["command"],
                                            Path(src).name if "/" in src else src, r["subject"], r["decision"],
                                            r["rule_ids"].replace(";", " "), r["parties"])))
    out.print(t)


def show_command(
    record_id: Annotated[int, typer.Argument(metavar="ID", help="Record id (from `ecscreen history`).")],
    format: Annotated[str, typer.Option("--format", "-f", metavar="text|json", help="Output format.")] = "text",
) -> None:
    """Show one record: input, decision, findings, parties, packs and lists, and its place in the hash chain."""
    if format not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {format!r}")
    with record_store() as store:
        rec = store.get(record_id)
        if rec is None:
            raise UsageError(f"record {record_id} not found (see `ecscreen history`)")
        manifest = store.get_manifest(rec.manifest) if rec.manifest else None
        decisions = store.decisions(record_id) if rec.kind == "screening" else []
    if format == "json":
        doc = rec.model_dump(mode="json", exclude={"content_text"})
        doc["manifest_content"] = manifest
        doc["decisions"] = [d.content for d in decisions]
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return
    from ecscreen.domain.textsafe import clean

    c = rec.content
    lines = [f"record {rec.id} ({rec.kind})", f"  recorded   {rec.recorded_at.isoformat().replace('+00:00', 'Z')}"]
    for label, val in (("command", rec.command), ("source", rec.source), ("subject", rec.subject),
                       ("decision", rec.decision), ("on record", rec.ref_id)):
        if val is not None:
            lines.append(f"  {label:<10} {val}")
    if rec.kind == "screening":
        lines += _screening_lines(rec, decisions)
    elif rec.kind == "decision":
        dd = c.get("decision_detail") or {}
        for k in ("rule_id", "decision", "reason", "approver", "expires", "entry"):
            if dd.get(k) is not None:
                lines.append(f"  {k:<10} {dd[k]}")
    else:
        lines.append(f"  pruned     {c.get('pruned')} record(s) up to {c.get('pruned_through')} "
                     f"(recorded before {c.get('before')}); their last hash {c.get('pruned_head_hash')}")
    if manifest:
        lines += _manifest_lines(rec, manifest)
    lines.append(f"  prev hash  {rec.prev_hash}")
    lines.append(f"  hash       {rec.hash}")
    sys.stdout.write("\n".join(clean(x) for x in lines) + "\n")


def _screening_lines(rec: Any, decisions: list[Any]) -> list[str]:
    """A screening record's input, parties, findings, errors, warnings and review decisions."""
    c = rec.content
    lines: list[str] = []
    lines.append(f"  input      sha256 {rec.input_sha256}")
    lines.append("             " + json.dumps(c.get("input"), ensure_ascii=False, sort_keys=True)[:2000])
    for p in c.get("parties") or []:
        sc = f", score {p['score']:.0f}" if p.get("score") is not None else ""
        lines.append(f"  party      {p.get('name')} ({p.get('country') or '?'}, {p.get('role') or '-'}): "
                     f"{p.get('outcome')}{sc}")
    findings = c.get("findings") or []
    lines.append(f"  findings   {len(findings)}")
    for f in findings:
        at_line = f" [line {f['line']}]" if f.get("line") else ""
        cov = f" (covered by {f['covered_by'].get('ref')})" if isinstance(f.get("covered_by"), dict) else ""
        lines.append(f"    - {f.get('rule_id')} {f.get('outcome')}{cov}{at_line}: {f.get('message')}")
    for e in c.get("errors") or []:
        lines.append(f"  error      {e}")
    for w in c.get("warnings") or []:
        lines.append(f"  warning    {w}")
    for d in decisions:
        dd = d.content.get("decision_detail") or {}
        lines.append(f"  decision   record {d.id}: {dd.get('rule_id')} {dd.get('decision')} by "
                     f"{dd.get('approver')}: {dd.get('reason')}")
    return lines


def _manifest_lines(rec: Any, manifest: dict[str, Any]) -> list[str]:
    """The tool version, packs and lists a record was made with."""
    lines: list[str] = []
    lines.append(f"  tool       ecscreen {manifest.get('tool_version')} (manifest {rec.manifest})")
    for p in manifest.get("packs") or []:
        kept = "kept" if p.get("blob") else "NOT kept"
        lines.append(f"  pack       {p.get('id')} {p.get('version')} sha256 {str(p.get('sha256'))[:16]} ({kept})")
    for li in manifest.get("lists") or []:
        lines.append(f"  list       {li.get('name')} ({li.get('date')}, {li.get('entries')} entries) "
                     f"sha256 {str(li.get('sha256'))[:16]}")
    if not manifest.get("use_lists"):
        lines.append("  lists      not used (--no-lists)")
    return lines


@app.command("export", epilog="Example: ecscreen records export --since 2026-01-01 --format jsonl -o audit.jsonl")
def export_command(
    since: Annotated[str | None, typer.Option("--since", metavar="DATE", help="Recorded on or after (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE", help="Recorded before (YYYY-MM-DD, UTC).")] = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="jsonl|csv", help="Output format.")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here (default stdout).")] = None,
) -> None:
    """Export records for auditors, oldest first.

    jsonl: one record per line with its exact hashed content text, prev_hash and hash (sha256 of
    prev_hash, a line feed and content), so the chain can be checked without ecscreen; a batch record
    also carries the blobs its content names by sha256 (its rows' outcomes, its warnings, the file's
    header) under "blobs", each as its exact text; csv: one summary row per record."""
    if format not in ("jsonl", "csv"):
        raise UsageError(f"--format must be jsonl or csv, not {format!r}")
    s, u = _when(since, "--since"), _when(until, "--until")
    fh = out.open("w", encoding="utf-8", newline="") if out is not None else sys.stdout
    n = 0
    try:
        with record_store() as store:
            if format == "csv":
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(CSV_COLUMNS)
            for r in store.iter_records(since=s, until=u):
                if format == "jsonl":
                    line = {"id": r.id, "kind": r.kind, "recorded_at": _summary(r)["recorded_at"],
                            "command": r.command, "source": r.source, "subject": r.subject,
                            "decision": r.decision, "ref_id": r.ref_id, "input_sha256": r.input_sha256,
                            "manifest": r.manifest, "prev_hash": r.prev_hash, "hash": r.hash,
                            "content": r.content_text}
                    refs = store.referenced_blobs(r)
                    if refs:  # a batch record names its rows' outcomes and warnings by sha256: their exact text
                        line["blobs"] = refs
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                else:
                    row = _summary(r)
                    w.writerow([_csv_cell(row[c]) for c in CSV_COLUMNS])
                n += 1
    finally:
        if out is not None:
            fh.close()
    from ecscreen.cli.options import STATE

    if not STATE.quiet:
        sys.stderr.write(f"exported {n:,} record(s)\n")


@app.command("prune", epilog="Example: ecscreen records prune --before 2020-01-01")
def prune_command(
    before: Annotated[str, typer.Option("--before", metavar="DATE", help="Delete the records recorded before this "
                                        "date (UTC).")],
    force: Annotated[bool, typer.Option("--force", help="Also delete records younger than five years "
                                        "(15 CFR 762.6 requires keeping them).")] = False,
) -> None:
    """Delete old records, keeping the chain verifiable (a checkpoint record names the last pruned hash).

    Refuses records younger than five years (15 CFR 762.6) without --force."""
    from ecscreen.cli.options import now

    b = _when(before, "--before")
    assert b is not None
    with record_store() as store:
        res = store.prune(b, at=now(), force=force)
    if res.refused:
        raise UsageError(f"prune refused: {res.refused}")
    if res.pruned:
        sys.stdout.write(f"pruned {res.pruned:,} record(s) (ids up to {res.through_id}); checkpoint record "
                         f"{res.checkpoint_id} keeps the chain verifiable\n")
        if res.blobs_deleted:
            sys.stdout.write(f"deleted {res.blobs_deleted:,} stored blob(s) no remaining record needs\n")
    else:
        sys.stdout.write("nothing to prune\n")


@app.command("verify", epilog="Example: ecscreen records verify --head 1234:9f86d081...")
def verify_command(
    head: Annotated[str | None, typer.Option("--head", metavar="ID:HASH", help="A head noted earlier (printed by "
                                             "verify): fail unless that record is still there with that hash.")] = None,
    blobs: Annotated[bool, typer.Option("--blobs/--no-blobs", help="Also check every stored pack, list and manifest "
                                        "against its sha256.")] = True,
    format: Annotated[str, typer.Option("--format", "-f", metavar="text|json", help="Output format.")] = "text",
) -> None:
    """Check the hash chain: exit 1 naming the first bad record if one was edited, deleted or reordered.

    Also fails when a stored pack, list or manifest no longer matches its sha256; exit 0 when intact."""
    if format not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {format!r}")
    want: tuple[int, str] | None = None
    if head is not None:
        hid, _, hh = head.partition(":")
        if not hid.isdigit() or len(hh) != 64:
            raise UsageError(f"--head must be ID:HASH (the 64-hex-digit hash), not {head!r}")
        want = (int(hid), hh.lower())
    with record_store() as store:
        res = store.verify()
        bad_blobs = store.verify_blobs() if blobs and res.ok else []
        if res.ok and want is not None:
            rec = store.get(want[0])
            if rec is None and want[0] > (res.head_id or 0):
                res = res.model_copy(update={"ok": False, "first_bad_id": want[0], "problem": (
                    f"record {want[0]} (the noted head) is missing: records after {res.head_id} were deleted")})
            elif rec is None:
                res = res.model_copy(update={"ok": False, "first_bad_id": want[0], "problem": (
                    f"record {want[0]} (the noted head) is gone (pruned?)")})
            elif rec.hash != want[1]:
                res = res.model_copy(update={"ok": False, "first_bad_id": want[0], "problem": (
                    f"record {want[0]} does not have the noted hash: the chain was rewritten")})
        shown = store.shown
    if bad_blobs and res.ok:
        res = res.model_copy(update={"ok": False, "problem": (
            f"{len(bad_blobs)} stored blob(s) no longer match their sha256 (first {bad_blobs[0]})")})
    if format == "json":
        sys.stdout.write(json.dumps({**res.model_dump(mode="json"), "store": shown, "bad_blobs": bad_blobs},
                                    indent=2) + "\n")
    elif res.ok:
        base = f" after {res.base_id} pruned" if res.base_id else ""
        if res.checked:
            sys.stdout.write(f"ok: {res.checked:,} record(s) verified{base}; head {res.head_id}:{res.head_hash}\n")
        else:
            sys.stdout.write(f"ok: no records{base}\n")
    else:
        where = f"record {res.first_bad_id}: " if res.first_bad_id is not None else ""
        sys.stderr.write(f"error: chain broken at {where}{res.problem}\n")
        if res.first_bad_id is not None:
            sys.stdout.write(f"first bad record: {res.first_bad_id}\n")
    raise typer.Exit(0 if res.ok else 1)


@app.command("info")
def info_command(
    format: Annotated[str, typer.Option("--format", "-f", metavar="text|json", help="Output format.")] = "text",
) -> None:
    """Where the records are, how many, the schema revision and the chain head."""
    with record_store() as store:
        doc = {"store": store.shown, "revision": store.revision(), "records": store.count(),
               "screenings": store.count(kind="screening"), "decisions": store.count(kind="decision")}
        last = store.query(kind=None, limit=1)
        doc["head"] = f"{last[0].id}:{last[0].hash}" if last else None
    if format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    for k, v in doc.items():
        sys.stdout.write(f"{k:<11} {v}\n")
