"""Rendering reports: a rich table view for people, JSON for machines.

Terminal output is safe whatever the data says: every text that can carry input (party names,
descriptions, SKUs, messages quoting them) goes through :func:`clean` (control characters such as
ANSI escape sequences, and bidirectional overrides, are removed; line breaks and tabs become spaces)
and is rendered as :class:`rich.text.Text`, never parsed as rich markup (``[/]`` in a SKU is text).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

# C0 and C1 controls (ESC starts ANSI sequences), DEL, and the bidi controls that reorder text on screen
from ecscreen.domain.textsafe import clean  # noqa: E402 - the one copy
from ecscreen.model import Citation, Finding, Outcome, Report, ShipmentResult, Step


def safe_text(value: Any, style: str = "") -> Text:
    """A rich Text of cleaned data (never interpreted as markup)."""
    return Text(clean(value), style=style)


STYLE = {
    "clear": "bold green",
    "review": "bold yellow",
    "license_required": "bold red",
    "prohibited": "bold white on red",
    "error": "bold magenta",
}


def _cites(cs: list[Citation]) -> str:
    return clean("; ".join(c.ref + (f" ({c.note})" if c.note and c.kind == "seed" else "") for c in cs))


def _steps_table(steps: list[Step], full: bool) -> Table | None:
    shown = steps if full else [s for s in steps if s.deciding]
    if not shown:
        return None
    t = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
    # headers as Text, not str: a str header is rendered as markup with emoji codes, whose first use imports
    # rich's ~3,600-entry emoji table (~3 ms CPU of a check); these plain words render the same either way
    t.add_column(Text("step"))
    t.add_column(Text("outcome"))
    t.add_column(Text("detail"), overflow="fold")
    t.add_column(Text("citation"), overflow="fold")
    for s in shown:
        t.add_row(safe_text(s.name), safe_text(s.outcome), safe_text(s.detail), Text(_cites(s.citations)))
    return t


def _finding(f: Finding, explain: bool) -> Group:
    head = Text()
    head.append(f"{f.outcome.value.upper():<17}", style=STYLE[f.outcome.value])
    head.append(f" {clean(f.rule_id)}", style="bold")
    if f.item_index is not None:
        head.append(f"  item {f.item_index}")
    head.append(f"  [{clean(f.jurisdiction)}]", style="dim")
    parts: list[Text | Table] = [head, safe_text("  " + f.message)]
    if f.covered_by:
        parts.append(safe_text(f"  covered by {f.covered_by.kind} {f.covered_by.ref}: {f.covered_by.detail}",
                               style="cyan"))
    for e in f.evidence:
        sc = f" score {e.score:g}" if e.score is not None else ""
        val = e.detail or f"{e.value!r} matched {e.matched!r}"
        parts.append(safe_text(f"  · {e.field}: {val}{sc}", style="dim"))
    for n in f.notes:
        parts.append(safe_text(f"  note: {n}", style="dim italic"))
    if f.citations:
        parts.append(Text(f"  cites: {_cites(f.citations)}", style="blue"))
    st = _steps_table(f.steps, explain)
    if st is not None:
        parts.append(st)
    return Group(*parts)


def _result(r: ShipmentResult, explain: bool) -> Panel:
    parts: list[Text | Group | Table] = []
    title = Text()
    title.append(f"{clean(r.id)}  ")
    title.append(str(r.decision.value if isinstance(r.decision, Outcome) else r.decision).upper(),
                 style=STYLE[r.decision.value if isinstance(r.decision, Outcome) else r.decision])
    if r.destination:
        parts.append(safe_text(f"destination {r.destination_name or ''} ({r.destination}), rules as of {r.as_of}"))
    for e in r.errors:
        loc = ":".join(str(x) for x in (e.file, e.line) if x)
        parts.append(safe_text(f"ERROR {loc + ' ' if loc else ''}{e.field + ': ' if e.field else ''}{e.message}",
                               style=STYLE["error"]))
    for j in r.jurisdiction:
        if explain or j.status != "subject":
            parts.append(safe_text(f"item {j.item_index} jurisdiction: {j.status} - {j.summary}", style="dim"))
            st = _steps_table(j.steps, explain)
            if st is not None:
                parts.append(st)
    blocking = [f for f in r.findings if f.covered_by is None]
    covered = [f for f in r.findings if f.covered_by is not None]
    for f in blocking + covered:
        parts.append(_finding(f, explain))
    if not r.findings and not r.errors:
        parts.append(Text("no rule fired", style="green"))
    for ps in r.party_screening:  # an auditor sees that a clear party was screened, and against what
        parts.append(safe_text(f"party {ps.party_index} '{ps.name}': {ps.summary}",
                               style="dim" if not ps.matches else ""))
    for w in r.warnings:
        parts.append(safe_text(f"warning: {w}", style="yellow"))
    return Panel(Group(*parts), title=title, title_align="left")


def print_table(report: Report, console: Console, *, explain: bool = False) -> None:
    for r in report.results:
        console.print(_result(r, explain))
    counts: dict[str, int] = {}
    for r in report.results:
        k = r.decision.value if isinstance(r.decision, Outcome) else r.decision
        counts[k] = counts.get(k, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    dec = report.decision.value if isinstance(report.decision, Outcome) else report.decision
    line = Text()
    line.append("decision: ")
    line.append(dec.upper(), style=STYLE[dec])
    line.append(f"  ({len(report.results)} shipment(s): {summary})")
    console.print(line)
    packs = ", ".join(f"{p.id}@{p.version}#{p.sha256[:8]}" for p in report.packs)
    console.print(safe_text(f"packs: {packs}", style="dim"))
    for li in report.lists:
        console.print(safe_text(f"list: {li.name} ({li.source}, {li.date}, {li.entries} entries, #{li.sha256[:8]})",
                                style="dim"))
    for w in report.warnings:
        console.print(safe_text(f"warning: {w}", style="yellow"))
    console.print(Text("ecscreen supports compliance decisions; it is not legal advice.", style="dim italic"))


def to_json(report: Report) -> str:
    return report.model_dump_json(indent=2)
