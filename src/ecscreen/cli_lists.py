"""``ecscreen lists``: import restricted-party lists and show their status."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ecscreen.errors import EXIT_USAGE
from ecscreen.lists import ListError, active_lists, import_list, matcher_cache_status, store_dir

app = typer.Typer(help="Import restricted-party lists and show their status.", no_args_is_help=True)

_out = Console(soft_wrap=False, highlight=False)
_err = Console(stderr=True, highlight=False)


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="List file: CSL CSV/JSON, OFAC sdn.csv, UN XML, ecscreen YAML/CSV.")],
    name: Annotated[str | None, typer.Option("--name", help="Name to store the list under.")] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 2) instead of warning when the list shrank or lost a sub-list.")
    ] = False,
) -> None:
    """Import a list into the local store ($ECSCREEN_HOME/lists)."""
    try:
        sl, warnings = import_list(file, name, strict=strict)
    except ListError as exc:
        if strict and "--strict" in exc.message:
            exc.exit_code = EXIT_USAGE
        raise
    for w in warnings:
        _err.print(f"WARNING: {w}", markup=False, soft_wrap=True)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(sl.counts_by_code().items(), key=lambda kv: -kv[1]))
    _out.print(
        f"imported '{sl.info.name}' from {file} ({sl.format}): {sl.info.entries} entries, "
        f"{sl.info.aliases} aliases, date {sl.info.date or 'unknown'}, sha256 {sl.info.sha256[:16]}",
        markup=False,
        soft_wrap=True,
    )
    if counts:
        _out.print(f"  sub-lists: {counts}", markup=False, soft_wrap=True)
    _out.print(f"  stored in {sl.path}", markup=False, soft_wrap=True)


@app.command("status")
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date for the age column (default today).")] = None,
) -> None:
    """Show the active lists: source, date, entries, aliases, hash and age."""
    today = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    active = active_lists()
    cache = matcher_cache_status(active)
    lists = [sl.with_age(today) for sl in active]
    if as_json:
        rows = [json.loads(sl.info.model_dump_json()) | {"path": sl.path, "format": sl.format} for sl in lists]
        doc = {"store": str(store_dir()), "lists": rows, "index_cache": cache}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    table = Table(title=f"Active restricted-party lists (store: {store_dir()})")
    for col in ("name", "source", "date", "entries", "aliases", "sha256", "age (days)"):
        table.add_column(col, overflow="fold")
    for sl in lists:
        i = sl.info
        table.add_row(
            i.name,
            i.source,
            str(i.date or "unknown"),
            str(i.entries),
            str(i.aliases),
            i.sha256[:16],
            "" if i.age_days is None else str(i.age_days),
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
