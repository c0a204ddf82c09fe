"""``ecscreen explain ECCN DESTINATION [--date]``: the licence determination for one ECCN and
one destination, with its chain (entry -> destination row -> each reason for control -> column ->
X or not -> footnotes), the findings it gives and the licence exceptions available.

The lead's ``cli.py`` registers :func:`explain` as a command; it prints with rich to stdout
and raises :class:`~ecscreen.errors.UsageError` for bad input.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecscreen.cli.options import RulesOnlyOpt, RulesOpt, registry_for
from ecscreen.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ecscreen.packs.registry import Registry


def _safe(value: object) -> str:
    """Data for rich markup: control and bidi characters removed, markup escaped."""
    from ecscreen.domain.textsafe import clean

    return escape(clean(value))


_STYLE = {
    "clear": "green", "review": "yellow", "license_required": "red", "prohibited": "bold red",
    "no X": "green", "not applicable": "dim", "note": "dim", "eligible": "green", "conditional": "yellow",
    "ineligible": "dim",
}


def _registry(rules: list[Path] | None, rules_only: list[Path] | None = None) -> Registry:
    return registry_for(rules, rules_only)


def explain(
    eccn: Annotated[str, typer.Argument(help="ECCN, with its paragraph if known (e.g. 3A001.b.2, 5A002, EAR99).")],
    destination: Annotated[str, typer.Argument(help="Destination: ISO code or name (e.g. CN, Hong Kong, UA-43).")],
    date: Annotated[str | None, typer.Option("--date", help="Shipment date YYYY-MM-DD (default: today).")] = None,
    rules: RulesOpt = None,
    rules_only: RulesOnlyOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json", help="Output format.")] = "table",
) -> None:
    """Explain the Commerce Country Chart determination for an ECCN and a destination.

    Example: ecscreen explain 3A090.a CN --date 2026-10-01 --format json
    """
    if format not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not {format!r}")
    from ecscreen.domain.countries import resolve
    from ecscreen.engine.chart import chart_index, determine
    from ecscreen.engine.licensing import available_exceptions
    from ecscreen.model import Item, Outcome
    from ecscreen.packs.registry import normalize_eccn

    console = Console(highlight=False)
    on = dt.date.today()
    if date is not None:
        try:
            on = dt.date.fromisoformat(date)
        except ValueError:
            raise UsageError(f"--date: not a date (YYYY-MM-DD): {date!r}", field="--date") from None
    dest = resolve(destination)
    if dest is None:
        raise UsageError(f"unknown destination {destination!r} (give an ISO 3166 code or an English name)",
                         field="DESTINATION")
    reg = _registry(rules, rules_only)
    idx = chart_index(reg)
    if idx.ccl is None or idx.chart is None:
        raise UsageError("the Commerce Country Chart packs (kinds country_chart and ccl) are not loaded")
    item = Item(description=f"ecscreen explain {eccn}", eccn=eccn)
    res = determine(item, 0, dest, reg, on)
    if res.errors:
        raise UsageError(res.errors[0].message, field="ECCN")

    shown = normalize_eccn(eccn) or eccn
    if format == "json":
        _print_json(shown, dest, on, idx, res, reg)
        return
    console.print(f"[bold]{_safe(shown)}[/bold] to [bold]{_safe(dest.label)}[/bold] on {on}"
                  f"  (Commerce Country Chart, eCFR {idx.effective_from})")
    for n in res.notes:
        console.print(f"[dim]note:[/dim] {_safe(n)}")
    if not res.applied and not res.findings:
        return
    _print_steps(console, res.steps)
    blocking = _print_findings(console, res.findings)
    decision = Outcome.worst([f.outcome for f in blocking])
    style = _STYLE[decision.value]
    console.print(f"Decision from the chart: [{style}]{decision.value}[/{style}]"
                  + ("" if blocking else " - no X for any reason for control (other rules still apply)"))
    if res.eccn and res.eccn != "EAR99" and res.applied:
        _print_exceptions(console, available_exceptions(res.eccn, dest, reg, on))


def _print_steps(console: Console, steps: list[Any]) -> None:
    if not steps:
        return
    t = Table(title="Determination (15 CFR 738.4)", show_lines=False, expand=False)
    t.add_column("step", no_wrap=True)
    t.add_column("result", no_wrap=True)
    t.add_column("detail")
    for s in steps:
        style = _STYLE.get(s.outcome, "bold" if s.deciding else "")
        t.add_row(_safe(s.name), f"[{style}]{_safe(s.outcome)}[/{style}]" if style else _safe(s.outcome),
                  _safe(s.detail))
    console.print(t)


def _print_findings(console: Console, findings: list[Any]) -> list[Any]:
    """The findings that are not clear, printed with notes and citations; returns them."""
    from ecscreen.model import Outcome

    blocking = [f for f in findings if f.outcome != Outcome.clear]
    if blocking:
        console.print("[bold]Findings[/bold]")
    for f in blocking:
        fs = _STYLE[f.outcome.value]
        console.print(f"  [{fs}]{f.outcome.value}[/{fs}]  {_safe(f.rule_id)}: {_safe(f.message)}")
        for note in f.notes:
            console.print(f"      [dim]note:[/dim] {_safe(note)}")
        cites = "; ".join(c.ref + (f" ({c.note})" if c.note else "") for c in f.citations)
        console.print(f"      [dim]cites: {_safe(cites)}[/dim]")
    return blocking


def _print_exceptions(console: Console, opts: list[Any]) -> None:
    t = Table(title="Licence exceptions (15 CFR part 740)", expand=False)
    t.add_column("exception", no_wrap=True)
    t.add_column("status", no_wrap=True)
    t.add_column("why")
    ineligible = []
    for o in opts:
        if o.status == "ineligible":
            ineligible.append(o.symbol)
            continue
        limit = f" (limit ${o.value_limit_usd})" if o.value_limit_usd is not None else ""
        st = _STYLE[o.status]
        why = o.summary + (f"; not for {', '.join(o.reasons_excluded)}" if o.reasons_excluded
                           and "not for" not in o.summary else "")
        t.add_row(f"{o.symbol} {o.section}{limit}", f"[{st}]{o.status}[/{st}]", _safe(why))
    console.print(t)
    if ineligible:
        console.print(f"[dim]not available: {', '.join(ineligible)}[/dim]")


def _print_json(shown: str, dest: Any, on: dt.date, idx: Any, res: Any, reg: Registry) -> None:
    """The determination as one JSON object (the same facts the table shows; ``GET /v1/explain`` too)."""
    import json
    import sys

    from ecscreen.engine.explain import determination_document

    doc = determination_document(shown, dest, on, idx, res, reg)
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
