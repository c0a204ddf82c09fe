"""The licence determination for one ECCN and one destination as one JSON-able document: what
``ecscreen explain --format json`` prints and ``GET /v1/explain/{eccn}/{destination}`` answers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ecscreen.errors import UsageError

__all__ = ["determination_document", "explain_document"]


def determination_document(shown: str, dest: Any, on: dt.date, idx: Any, res: Any, reg: Any) -> dict[str, Any]:
    """The determination ``res`` (``ecscreen.engine.chart.determine``) with its steps, findings and the
    licence exceptions available: the same facts the ``explain`` table shows."""
    from ecscreen.engine.licensing import available_exceptions
    from ecscreen.model import Outcome

    blocking = [f for f in res.findings if f.outcome != Outcome.clear]
    exceptions = []
    if res.eccn and res.eccn != "EAR99" and res.applied:
        exceptions = [{k: v for k, v in dataclasses.asdict(o).items() if k != "entry_text"}
                      for o in available_exceptions(res.eccn, dest, reg, on)]
    return {
        "eccn": shown, "destination": dest.code, "destination_name": dest.label, "date": on.isoformat(),
        "chart_effective_from": str(idx.effective_from), "applied": res.applied, "row": res.row,
        "decision": Outcome.worst([f.outcome for f in blocking]).value,
        "notes": list(res.notes),
        "steps": [s.model_dump(mode="json") for s in res.steps],
        "findings": [f.model_dump(mode="json") for f in res.findings],
        "licence_exceptions": exceptions,
    }


def explain_document(reg: Any, eccn: str, destination: str, on: dt.date) -> dict[str, Any]:
    """:func:`determination_document` for ``eccn`` to ``destination`` on ``on``; input that cannot be
    explained is a :class:`UsageError` naming the field (``eccn`` or ``destination``)."""
    from ecscreen.domain.countries import resolve
    from ecscreen.engine.chart import chart_index, determine
    from ecscreen.model import Item
    from ecscreen.packs.registry import normalize_eccn

    dest = resolve(destination)
    if dest is None:
        raise UsageError(f"unknown destination {destination!r} (give an ISO 3166 code or an English name)",
                         field="destination")
    idx = chart_index(reg)
    if idx.ccl is None or idx.chart is None:
        raise UsageError("the Commerce Country Chart packs (kinds country_chart and ccl) are not loaded")
    res = determine(Item(description=f"ecscreen explain {eccn}", eccn=eccn), 0, dest, reg, on)
    if res.errors:
        raise UsageError(res.errors[0].message, field="eccn")
    return determination_document(normalize_eccn(eccn) or eccn, dest, on, idx, res, reg)
