"""The report envelope every command's output carries: what produced it and with which packs and lists.

``check --format json`` prints :class:`ecscreen.model.Report` (this envelope with the results inside);
``batch --format json`` writes one object with the envelope and its ``results``; ``batch`` csv/jsonl
write the envelope (without results) as a sidecar ``OUT.meta.json`` (or ``--meta FILE``); ``gate``
carries it in its JSON report. Same input, packs and lists give the same envelope: no timestamps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ecscreen import __version__

__all__ = ["envelope_head", "envelope_tail"]


def envelope_head(engine: Any, *, command: str, options: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    """tool, version, command, options, packs and lists (with SHA-256) of a run; ``as_of`` dates list ages."""
    lists: list[Any] = []
    warnings: list[str] = list(engine.registry.notes)
    if getattr(engine, "use_lists", False):
        from ecscreen.parties.screening import list_status

        infos, list_warns = list_status(engine.party_lists, as_of, getattr(engine, "max_age_days", None))
        lists = [i.model_dump(mode="json") for i in infos]
        warnings += list_warns
    else:
        warnings.append("restricted-party lists not used (--no-lists): parties were not screened")
    return {
        "tool": "ecscreen",
        "tool_version": __version__,
        "command": command,
        "options": {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in options.items()},
        "packs": [p.model_dump(mode="json") for p in engine.registry.infos],
        "lists": lists,
        "warnings": warnings,
    }


def envelope_tail(head: dict[str, Any], *, counts: dict[str, int], rows: int, orders: int,
                  warnings: list[str], exit_code: int) -> dict[str, Any]:
    """What is known at the end of a run: counts, the decision and every warning (the head's first)."""
    from ecscreen.model import Outcome

    worst = "error" if counts.get("error") else Outcome.worst([Outcome(o) for o, n in counts.items()
                                                               if n and o != "error"]).value
    return {
        "decision": worst,
        "exit_code": exit_code,
        "rows": rows,
        "orders": orders,
        "counts": dict(counts),
        "warnings": list(dict.fromkeys([*head.get("warnings", []), *warnings])),
    }
