"""``ecscreen review``: findings awaiting a person, and recording a person's decision on one.

Decisions are records of the record store (hash-chained like screenings). A ``cleared`` decision on a
party-hit finding becomes a clearance of that (party, list entry) pair: ``check``, ``batch``, ``gate`` and
``rescreen`` load the store's decisions with :func:`decision_allowlist` and pass them to the engine in the
same allow-list as ``--clearances`` files, so later screenings show the hit as covered (until it expires).
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

# the decisions as clearances live in ecscreen.cli.decisions (a check needs them, not this module): re-exported
from ecscreen.cli.decisions import _decisions_store, decision_allowlist, existing_store  # noqa: F401
from ecscreen.cli.options import date_option, record_store
from ecscreen.errors import UsageError

app = typer.Typer(help="Review findings awaiting a person and record decisions on them.", no_args_is_help=True)

_out = Console(soft_wrap=False, highlight=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

FLAGGED = ("review", "license_required", "prohibited")


@app.command("list", epilog="Example: ecscreen review list --open --format json")
def list_cmd(
    open_only: Annotated[bool, typer.Option("--open", help="Only findings no one has decided (or escalated).")] = False,
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="Records from this date.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json|csv", help="Output format.")] = "table",
) -> None:
    """Review findings of recorded screenings with their decision (none: awaiting a person)."""
    from ecscreen.runners.review import review_items

    if format not in ("table", "json", "csv"):
        raise UsageError(f"--format must be table, json or csv, not {format!r}")
    start = date_option(since, "--since")
    with record_store() as store:
        recs = [r for d in FLAGGED for r in store.query(kind="screening", decision=d, since=start, newest_first=False)]
        recs.sort(key=lambda r: r.id)
        items = review_items(recs, store.decisions())
    if open_only:
        items = [i for i in items if i.open]
    if format == "json":
        sys.stdout.write(json.dumps([i.to_json() for i in items], indent=2, ensure_ascii=False) + "\n")
        return
    if format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        cols = ["record", "recorded_at", "subject", "rule_id", "party", "entries", "status", "decision", "decided_by",
                "expires", "title"]
        w.writerow(cols)
        for i in items:
            d = i.to_json()
            w.writerow(["" if d.get(c) is None else " ".join(d[c]) if isinstance(d[c], list) else d[c] for c in cols])
        return
    from ecscreen.outputs.render import safe_text

    if not items:
        _out.print("no review findings" + (" awaiting a decision" if open_only else "") + " in the recorded screenings")
        return
    t = Table(title="review findings" + (" awaiting a decision" if open_only else ""))
    for col in ("record", "date", "subject", "finding", "party", "status"):
        t.add_column(col, overflow="fold")
    for i in items:
        status = "open" if i.decision is None else f"{i.decision} by {i.decided_by}" + (
            f" (until {i.expires})" if i.expires else "")
        t.add_row(*(safe_text(x) for x in (i.record_id, i.recorded_at[:10], i.subject or "",
                                           f"{i.rule_id}: {i.title or i.message[:120]}" + (f" [{' '.join(i.entries)}]" if i.entries
                                                                         else ""), i.party or "-", status)))
    _out.print(t)
    n_open = sum(1 for i in items if i.open)
    _err.print(f"{len(items)} review finding(s), {n_open} awaiting a decision "
               "(decide with: ecscreen review decide ID --finding RULE_ID --as cleared|confirmed|escalated "
               "--reason TEXT --approver NAME)", markup=False)


@app.command("decide", epilog="Example: ecscreen review decide 42 --finding PARTY-EL --as cleared "
             "--reason 'different company: Shenzhen, not Beijing' --approver 'J. Smith' --expires 2027-06-30")
def decide_cmd(
    record_id: Annotated[int, typer.Argument(metavar="ID", help="Record id of the screening (ecscreen history).")],
    finding: Annotated[str, typer.Option("--finding", metavar="RULE_ID", help="Rule id of the finding.")],
    as_: Annotated[str, typer.Option("--as", metavar="cleared|confirmed|escalated", help="The decision.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the decision).")],
    approver: Annotated[str, typer.Option("--approver", help="Who decided.")],
    expires: Annotated[str | None, typer.Option("--expires", metavar="YYYY-MM-DD",
                                                help="A clearance stops covering the hit after this date.")] = None,
    party: Annotated[str | None, typer.Option("--party", help="The party (name or index) when the record has "
                                              "the finding for several parties.")] = None,
    entry: Annotated[str | None, typer.Option("--entry", help="A list entry id the finding names, when the "
                                              "record has several findings with this rule id.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="text|json", help="Output format.")] = "text",
) -> None:
    """Record a decision on a finding of a recorded screening (a hash-chained record of its own).

    'cleared' on a party-hit finding clears that party against the finding's list entries for later
    screenings (shown as covered, until --expires); 'confirmed' closes the finding as a true match and
    withdraws an earlier clearance; 'escalated' leaves it open for someone else."""
    from ecscreen.cli.options import now
    from ecscreen.records import Decision, PartyRef
    from ecscreen.runners.review import DECISIONS, decision_fields

    if as_ not in DECISIONS:
        raise UsageError(f"--as must be one of {', '.join(DECISIONS)}, not {as_!r}")
    if format not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {format!r}")
    if not reason.strip() or not approver.strip():
        raise UsageError("--reason and --approver must not be empty")
    exp = date_option(expires, "--expires")
    at = now()
    if exp is not None and exp < at.date():
        raise UsageError(f"--expires {exp} is in the past")
    with record_store() as store:
        rec = store.get(record_id)
        if rec is None:
            raise UsageError(f"record {record_id} not found (see ecscreen history)")
        if rec.kind != "screening":
            raise UsageError(f"record {record_id} is a {rec.kind} record, not a screening")
        fields = decision_fields(rec, finding, as_, party=party, entry=entry, store=store)
        d = Decision(record_id=record_id, rule_id=fields["rule_id"], decision=as_,  # type: ignore[arg-type]
                     reason=reason.strip(), approver=approver.strip(), expires=exp,
                     party=PartyRef(**fields["party"]) if fields["party"] else None, entry=fields["entry"],
                     extra=fields["extra"])
        did = store.append_decision(d, at=at)
    entries = fields["extra"].get("entries") or []
    effect = ""
    if as_ == "cleared" and fields["party"] and entries:
        effect = (f"; '{fields['party']['name']}' is cleared against {', '.join(entries)} for later screenings"
                  + (f" until {exp}" if exp else ""))
    elif as_ == "cleared":
        effect = "; not a party hit: recorded, no clearance follows from it"
    if format == "json":
        sys.stdout.write(json.dumps({"decision_record": did, "record": record_id, "rule_id": fields["rule_id"],
                                     "decision": as_, "party": fields["party"], "entries": entries,
                                     "expires": exp.isoformat() if exp else None}, indent=2) + "\n")
        return
    from ecscreen.domain.textsafe import clean

    _out.print(clean(f"recorded decision {did}: {fields['rule_id']} of record {record_id} {as_} by "
                     f"{approver.strip()}{effect}"), markup=False, soft_wrap=True)
