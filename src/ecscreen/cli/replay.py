"""``ecscreen replay ID``: re-screen a recorded screening with its recorded packs and lists, and compare."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from ecscreen.errors import UsageError

_out = Console(soft_wrap=False, highlight=False)


def replay_command(
    record_id: Annotated[int, typer.Argument(metavar="ID", help="Record id (see ecscreen history).")],
    format: Annotated[str, typer.Option("--format", "-f", metavar="text|json", help="Output format.")] = "text",
) -> None:
    """Re-screen a recorded screening with the packs, lists, options and clearances it was screened with
    (from the store's content-addressed blobs, never the current ones) and report 'identical' or the
    exact differences. Exit 0 identical, 1 different (or a stored pack/list is missing or damaged)."""
    from ecscreen.cli.options import record_store
    from ecscreen.runners.replay import replay

    if format not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {format!r}")
    with record_store() as store:
        rec = store.get(record_id)
        if rec is None:
            raise UsageError(f"record {record_id} not found (see ecscreen history)")
        result = replay(store, rec)
    if format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        for line in _text(result):
            _out.print(line, markup=False, soft_wrap=True)
    raise typer.Exit(0 if result.identical else 1)


def _v(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


def _text(result: Any) -> list[str]:
    from ecscreen.domain.textsafe import clean

    rid = result.record_id
    if result.problems:
        return [clean(f"record {rid}: cannot be replayed as recorded: {p}") for p in result.problems]
    if result.identical:
        return [f"record {rid}: identical (decision {result.decision_after}; replayed with the recorded "
                f"{result.packs} pack(s) and {result.lists} list(s))"]
    lines = [f"record {rid}: DIFFERENT"]
    if result.decision_before != result.decision_after:
        lines.append(f"  decision: recorded {result.decision_before}, replayed {result.decision_after}")
    for f in result.added:
        lines.append(clean(f"  + finding {f['rule_id']} ({f['outcome']}) added: {_v(f['message'])}"))
    for f in result.removed:
        lines.append(clean(f"  - finding {f['rule_id']} ({f['outcome']}) removed: {_v(f['message'])}"))
    for f in result.changed:
        lines.append(f"  ~ finding {f['rule_id']} changed:")
        for fld, d in f["fields"].items():
            lines.append(clean(f"      {fld}: recorded {_v(d['recorded'])}"))
            lines.append(clean(f"      {' ' * len(fld)}  replayed {_v(d['replayed'])}"))
    return lines
