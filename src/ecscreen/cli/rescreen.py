"""``ecscreen rescreen``: screen every distinct recorded party against the CURRENT lists and report the
parties whose outcome got worse since they were recorded, with the records (shipments) they were on."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ecscreen.cli.options import date_option, record_store
from ecscreen.errors import UsageError
from ecscreen.settings import today

_out = Console(soft_wrap=False, highlight=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def current_lists() -> list[Any]:
    """The lists ``check`` screens against: embedded or imported CSL, other imported lists, own lists
    under the shipped rules."""
    from ecscreen.engine.core import Engine
    from ecscreen.engine.snapshot import load_registry_snapshot
    from ecscreen.parties.matching import index_cache_dir

    return list(Engine.build(load_registry_snapshot(None, cache_dir=index_cache_dir())).party_lists)


def rescreen_command(
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD",
                                              help="Parties of the screenings recorded from this date (default: all).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD",
                                              help="... and before this date.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="YYYY-MM-DD",
                                              help="Date of the screening (clearance expiry, list age); default today.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json|csv", help="Output format.")] = "table",
    workers: Annotated[int, typer.Option("--workers", "-j", min=0, max=64,
                                         help="Processes screening in parallel (0: up to 2, the default).")] = 0,
    clearances: Annotated[Path | None, typer.Option("--clearances", help="Allow-list file (default: $ECSCREEN_CLEARANCES); "
                                            "cleared review decisions of the store always apply.")] = None,
) -> None:
    """Re-screen the recorded parties against the current lists; report those now worse than recorded
    (a new hit, possible -> strong, a worse outcome) with their record ids. Exit 0 none, 1 some."""
    from ecscreen.cli.decisions import decision_allowlist
    from ecscreen.cli.main import load_clearances
    from ecscreen.runners.rescreen import default_workers, recorded_parties, rescreen

    if format not in ("table", "json", "csv"):
        raise UsageError(f"--format must be table, json or csv, not {format!r}")
    start, end = date_option(since, "--since"), date_option(until, "--until")
    on = date_option(as_of, "--as-of") or today()
    t0 = time.perf_counter()
    with record_store() as store:
        parties = recorded_parties(store, since=start, until=end)
        allow = decision_allowlist(load_clearances(clearances), store)
    t_read = time.perf_counter() - t0
    t1 = time.perf_counter()
    lists = current_lists()
    t_lists = time.perf_counter() - t1
    n = workers or default_workers()
    result = rescreen(parties, as_of=on, lists=lists, allowlist=allow, workers=n)
    timings = {"read_records_s": round(t_read, 2), "load_lists_s": round(t_lists, 2),
               "screen_s": round(result.seconds, 2), "total_s": round(time.perf_counter() - t0, 2)}
    if format == "json":
        doc = result.to_json()
        doc["since"], doc["until"], doc["timings"], doc["workers"] = since, until, timings, n
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    elif format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["party", "country", "outcome", "band", "reasons", "entries", "records"])
        for p in result.worsened:
            w.writerow([p.name, p.country or "", p.now.outcome.value, p.now.band_name, "; ".join(p.reasons),
                        " ".join(sorted(p.now.entries or ())), " ".join(str(r) for r in p.record_ids)])
    else:
        _table(result)
    window = f"recorded {'from ' + since if since else 'at any time'}{' until ' + until if until else ''}"
    lists_txt = "; ".join(f"{i.name} ({i.date or 'undated'})" for i in result.lists)
    _err.print(f"rescreened {result.parties:,} distinct parties ({result.occurrences:,} recorded occurrences, "
               f"{window}) against {lists_txt} in {timings['total_s']:.1f} s: {len(result.worsened)} part"
               f"{'y' if len(result.worsened) == 1 else 'ies'} worse on {len(result.records)} record(s)",
               markup=False)
    raise typer.Exit(1 if result.worsened else 0)


def _table(result: Any) -> None:
    from ecscreen.outputs.render import STYLE, safe_text

    if not result.worsened:
        _out.print("no recorded party is worse against the current lists")
        return
    t = Table(title="recorded parties worse against the current lists")
    for col in ("party", "country", "now", "why", "records"):
        t.add_column(col, overflow="fold")
    for p in result.worsened:
        ids = [str(r) for r in p.record_ids]
        shown = ", ".join(ids[:8]) + (f" (+{len(ids) - 8} more)" if len(ids) > 8 else "")
        t.add_row(safe_text(p.name), safe_text(p.country or "-"),
                  safe_text(f"{p.now.outcome.value} ({p.now.band_name})", STYLE.get(p.now.outcome.value, "")),
                  safe_text("; ".join(p.reasons)), safe_text(shown))
    _out.print(t)


# --------------------------------------------------------------------------- after `lists import/update`


def lists_before_change() -> list[Any] | None:
    """The current lists, when a record store with recorded parties exists (else None: nothing to
    compare; ``lists import``/``update`` then skip the affected-parties count)."""
    from ecscreen.cli.review import existing_store

    store = existing_store()
    if store is None:
        return None
    with store:
        if not store.count(kind="screening"):
            return None
    return current_lists()


def report_affected(before: list[Any] | None) -> None:
    """After a list change: how many recorded parties now hit an entry the change added or altered, on
    how many records, and the ``rescreen`` command that lists them."""
    from ecscreen.cli.decisions import decision_allowlist, existing_store
    from ecscreen.parties.store import refresh
    from ecscreen.runners.rescreen import affected_by_change, default_workers, recorded_parties

    if before is None:
        return
    store = existing_store()
    if store is None:
        return
    refresh()
    after = current_lists()
    t0 = time.perf_counter()
    with store:
        parties = recorded_parties(store)
        allow = decision_allowlist(None, store)
    result, changed = affected_by_change(parties, before=before, after=after, as_of=dt.date.today(),
                                         allowlist=allow, workers=default_workers())
    secs = time.perf_counter() - t0
    if not changed:
        _out.print(f"  recorded parties: the lists' entries did not change, no recorded party is affected "
                   f"({len(parties):,} distinct recorded parties)", markup=False, soft_wrap=True)
        return
    recs = result.records
    msg = (f"  recorded parties: {len(result.worsened):,} of {len(parties):,} distinct recorded parties now hit "
           f"one of the {changed:,} added or changed list entries, on {len(recs):,} record(s) ({secs:.1f} s)")
    _out.print(msg, markup=False, soft_wrap=True)
    if result.worsened:
        with existing_store() as st:  # type: ignore[union-attr]
            first = st.get_many(recs[:1]).get(recs[0])
        since = first.recorded_at.date().isoformat() if first is not None else None
        _out.print(f"  see them with: ecscreen rescreen{' --since ' + since if since else ''}", markup=False,
                   soft_wrap=True)
