"""``ecscreen lists``: import or update restricted-party lists and show their status."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecscreen.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ecscreen.parties.store import ScreeningList

# ecscreen.parties.store (numpy, the matcher) is imported when a command runs: `ecscreen --help` stays fast.

app = typer.Typer(help="Import or update restricted-party lists and show their status.", no_args_is_help=True)

_out = Console(soft_wrap=False, highlight=False)
_err = Console(stderr=True, highlight=False)

_FORCE_HELP = (
    "Accept a list that fails a list-health guard (shrank by more than 10 %, lost or shrank a sub-list "
    "against the list it replaces or the embedded snapshot). The forced import is recorded in reports."
)


def _report_stored(sl: ScreeningList, verb: str, where: str, warnings: list[str]) -> None:
    for w in warnings:
        _err.print(f"WARNING: {w}", markup=False, soft_wrap=True)
    if sl.info.forced:
        _err.print(f"WARNING: {sl.info.forced}", markup=False, soft_wrap=True)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(sl.counts_by_code().items(), key=lambda kv: -kv[1]))
    _out.print(
        f"{verb} '{sl.info.name}' from {where} ({sl.format}): {sl.info.entries} entries, "
        f"{sl.info.aliases} aliases, {sl.info.addresses} addresses, date {sl.info.date or 'unknown'}, "
        f"sha256 {sl.info.sha256[:16]}",
        markup=False,
        soft_wrap=True,
    )
    if counts:
        _out.print(f"  sub-lists: {counts}", markup=False, soft_wrap=True)
    if sl.info.source_url:
        _out.print(
            f"  source {sl.info.source_url}, retrieved {sl.info.retrieved_at}, file sha256 {sl.info.file_sha256}",
            markup=False,
            soft_wrap=True,
        )
    _out.print(f"  stored in {sl.path}", markup=False, soft_wrap=True)


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="List file: CSL CSV/JSON, OFAC sdn.csv, UN XML, ecscreen YAML/CSV.")],
    name: Annotated[str | None, typer.Option("--name", help="Name to store the list under.")] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse (exit 2) also on list-health warnings (smaller shrinks)."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help=_FORCE_HELP)] = False,
) -> None:
    """Import a list into the local store ($ECSCREEN_HOME/lists).

    A list that drops more than the list-health guards allow is refused (exit 2) and the previous list
    is kept; --force accepts it and records that in reports.
    """
    from ecscreen.cli.rescreen import lists_before_change, report_affected
    from ecscreen.parties.store import import_list

    before = lists_before_change()
    sl, warnings = import_list(file, name, strict=strict, force=force)
    _report_stored(sl, "imported", str(file), warnings)
    report_affected(before)


@app.command("update")
def update_cmd(
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="List to fetch: csl (default), ofac-sdn, ofac-nonsdn, ofac (both), un, all. Repeatable.",
        ),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="Verify and store this already downloaded file instead (air-gapped sites)."),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Fetch from this URL (a mirror) instead.")] = None,
    force: Annotated[bool, typer.Option("--force", help=_FORCE_HELP)] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Network timeout in seconds.")] = 120.0,
) -> None:
    """Download official lists (URLs in ecscreen/data/list-sources.yaml), verify format, size and list
    health, and store them with source URL, retrieval time and sha256."""
    from ecscreen.cli.rescreen import lists_before_change, report_affected
    from ecscreen.parties.update import resolve_sources, update_list

    picked = resolve_sources(list(source or []))
    if (from_file is not None or url is not None) and len(picked) != 1:
        raise UsageError("--from and --url need exactly one --source")
    before = lists_before_change()
    for src in picked:
        sl, warnings = update_list(src, from_file=from_file, url=url, force=force, timeout=timeout)
        _report_stored(sl, f"updated ({src.key})", sl.info.source_url or src.url, warnings)
    report_affected(before)


def _notes(sl: ScreeningList) -> str:
    i = sl.info
    notes: list[str] = []
    if i.origin and i.origin != "snapshot":  # the snapshot's limits say what it is
        notes.append({"update": "downloaded", "import": "imported", "rules": "own list under rules/"}.get(i.origin, i.origin))
    if i.forced:
        short = i.forced if len(i.forced) <= 160 else i.forced[:157] + "..."
        notes.append(f"FORCED: {short} (full text: lists status --format json)")
    if i.source_url:
        notes.append(f"from {i.source_url} at {i.retrieved_at}")
    notes.extend(i.limits)
    return "; ".join(notes)


@app.command("status")
def status_cmd(
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json", help="Output format.")] = "table",
    as_json: Annotated[bool, typer.Option("--json", hidden=True, help="Same as --format json (kept for scripts).")
                       ] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="YYYY-MM-DD",
                                              help="Date for the age column (default today).")] = None,
) -> None:
    """Show the active lists: source, date, entries, aliases, addresses, hash, age and notes (snapshot
    limits, forced imports, where and when a list was retrieved)."""
    try:
        today = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        raise UsageError(f"--as-of: not a date (YYYY-MM-DD): {as_of!r}") from None
    if format not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not {format!r}")
    as_json = as_json or format == "json"
    from ecscreen.parties.store import active_lists, matcher_cache_status, store_dir

    active = active_lists()
    cache = matcher_cache_status(active)
    lists = [sl.with_age(today) for sl in active]
    if as_json:
        rows = [json.loads(sl.info.model_dump_json()) | {"path": sl.path, "format": sl.format} for sl in lists]
        doc = {"store": str(store_dir()), "lists": rows, "index_cache": cache}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    table = Table(title=escape(f"Active restricted-party lists (store: {store_dir()})"))
    for col in ("name", "source", "date", "entries", "aliases", "addresses", "sha256", "age (days)", "notes"):
        table.add_column(col, overflow="fold")
    for sl in lists:
        i = sl.info
        table.add_row(
            escape(i.name),
            escape(i.source),
            str(i.date or "unknown"),
            str(i.entries),
            str(i.aliases),
            str(i.addresses),
            escape(i.sha256[:16]),
            "" if i.age_days is None else str(i.age_days),
            escape(_notes(sl)),
        )
    _out.print(table)
    _out.print(_cache_line(cache), markup=False, soft_wrap=True)


def _cache_line(cache: dict[str, object]) -> str:
    """One line on the on-disk index cache (ECSCREEN_CACHE_DIR, ECSCREEN_NO_CACHE=1 turns it off)."""
    state = cache["state"]
    if state == "disabled":
        return "index cache: disabled (ECSCREEN_NO_CACHE is set or there is no cache directory)"
    if state == "not cached":
        return f"index cache: not used for lists this small (directory {cache['dir']})"
    size = cache.get("bytes")
    extra = f", {int(size) / 1e6:.1f} MB" if isinstance(size, int) else ""
    meaning = {
        "warm": "the next run loads the index",
        "cold": "the next run builds the index and saves it",
        "invalid": "the file will be ignored and rebuilt",
        "unwritable": "the directory cannot be written: every run builds the index",
    }.get(str(state), "")
    return f"index cache: {state}{extra} ({meaning}): {cache['file']}"
