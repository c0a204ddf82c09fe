"""``ecscreen gate``: the command-line layer over :mod:`ecscreen.runners.gate` (options, output file, exit code).

Only typer and the standard library are imported here; the screening modules are imported when the
command runs, so ``ecscreen --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ecscreen.cli.options import DEFAULT_WAIVERS, NoRecordOpt, RulesOnlyOpt, RulesOpt
from ecscreen.errors import UsageError

__all__ = ["gate_command"]


def gate_command(
    catalog: Annotated[Path, typer.Argument(help="Product catalog (YAML with 'products', or CSV).")],
    format: Annotated[str, typer.Option("--format", "-f", help="table, json, sarif, junit or markdown")] = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the report here (default stdout).")] = None,
    fail_on: Annotated[str, typer.Option("--fail-on", help="review, license_required or prohibited")] = "license_required",
    waivers: Annotated[Path | None, typer.Option("--waivers", help=f"Waivers file (default {DEFAULT_WAIVERS} if present).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate rules, licences and waivers at this date.")] = None,
    rules: RulesOpt = None,
    rules_only: RulesOnlyOpt = None,
    no_record: NoRecordOpt = False,
) -> None:
    """Screen every product x market of a catalog; fail on unlicensed findings and classification gaps."""
    from rich.console import Console

    from ecscreen.cli.options import STATE, context_for, registry_for
    from ecscreen.inputs.files import parse_date_option
    from ecscreen.model import Outcome
    from ecscreen.outputs.reporters import render_gate
    from ecscreen.runners.gate import FORMATS, load_waivers, run_gate

    if format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    try:
        threshold = Outcome(fail_on)
    except ValueError:
        raise UsageError(f"--fail-on must be review, license_required or prohibited, not {fail_on!r}") from None
    if threshold == Outcome.clear:
        raise UsageError("--fail-on clear would fail every pair: use review, license_required or prohibited")
    on = parse_date_option(as_of)
    if not catalog.is_file():
        raise UsageError("file not found", file=str(catalog))
    wpath = waivers if waivers is not None else Path(DEFAULT_WAIVERS)
    wl: list[Any] = []
    wlines: list[int | None] = []
    if waivers is not None and not wpath.is_file():
        raise UsageError("waivers file not found", file=str(wpath))
    if wpath.is_file():
        wl, wlines = load_waivers(wpath)
    from ecscreen.cli.options import open_record_store

    store = open_record_store(no_record)
    ctx = context_for(registry_for(rules, rules_only), use_lists=False, as_of=on)
    engine = ctx.engine
    report = run_gate(catalog, engine, as_of=on or ctx.today, fail_on=threshold, waivers=wl, waiver_lines=wlines,
                      waivers_file=str(wpath) if wpath.is_file() else None)
    if store is not None:
        _record_gate(store, engine, report, catalog, fail_on, on, rules, rules_only, wpath)
    from ecscreen.domain.textsafe import clean

    err = Console(stderr=True, highlight=False)
    _print_errors(err, report, catalog)
    for w in report.warnings if not STATE.quiet else []:
        err.print(clean(f"warning: {w}"), markup=False, soft_wrap=True)
    if format == "table":
        console = Console(file=out.open("w", encoding="utf-8") if out else None, soft_wrap=False, highlight=False)
        render_gate(report, "table", console=console)
        if out:
            console.file.close()
    else:
        text = render_gate(report, format)
        if out:
            out.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    c = report.counts()
    if not STATE.quiet:
        err.print(f"gate {report.status}: {c['pairs']} product x market pair(s): {c['fail']} failing, {c['error']} "
              f"error(s), {c['waived']} waived finding(s), {c['catalog_errors']} catalog error(s)",
                  markup=False)
    raise typer.Exit(report.exit_code)


def _record_gate(store: Any, engine: Any, report: Any, catalog: Path, fail_on: str, on: Any,
                 rules: list[Path] | None, rules_only: list[Path] | None, wpath: Path) -> None:
    """Record the gate's pairs (manifest with catalog and waivers files); a store that fails is a usage error."""
    from ecscreen.cli.options import note_recorded, now, recording_failed
    from ecscreen.records.recorder import record_gate, run_manifest

    at = now()
    try:
        manifest = run_manifest(store, engine, command="gate", at=at, options={
            "catalog": str(catalog), "fail_on": fail_on, "as_of": on, "rules": [str(r) for r in rules or []],
            "rules_only": [str(r) for r in rules_only or []], "waivers": str(wpath) if wpath.is_file() else None},
            files=[("catalog", catalog)] + ([("waivers", wpath)] if wpath.is_file() else []))
        ids = record_gate(store, report, manifest=manifest, catalog=str(catalog), at=at)
    except Exception as exc:
        raise recording_failed(store, exc) from exc
    finally:
        store.close()
    note_recorded(ids, store)


def _print_errors(err: Any, report: Any, catalog: Path) -> None:
    """Catalog entries and pairs that could not be screened, each naming its file and line."""
    from ecscreen.domain.textsafe import clean

    for e in report.errors:
        err.print(clean(f"error: {e.file}:{e.line}: {e.field + ': ' if e.field else ''}{e.message}"), markup=False,
                  soft_wrap=True)
    for p in report.pairs:
        for m in p.errors:
            err.print(clean(f"error: {catalog}:{p.line}: {p.subject}: {m}"), markup=False, soft_wrap=True)
