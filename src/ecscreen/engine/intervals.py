"""Date intervals for the engine's memos (issue 14).

Orders span months, so a memo keyed by the day is filled once per day for each of its keys (and, with
``--jobs``, in every process). A memoised function that reads a date only through dated pack data gives the
same answer for every day between two consecutive dates at which that data changes (its *breakpoints*); the
memo is keyed by the index of the interval instead: ``bisect_right(breakpoints, day)``, the number of
breakpoints on or before the day. A breakpoint opens an interval (every test in the packs is
``effective_from <= day`` and ``day < effective_to``: both change value exactly at a breakpoint).

The breakpoints of each kind of dated data are computed here, once per loaded registry or pack; the caller
chooses the union of the kinds its function reads (and says which in its docstring).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

__all__ = ["Intervals", "territory_dates", "group_dates", "dated_ref_dates"]


class Intervals:
    """Sorted breakpoints; :meth:`index` maps a day to its interval (two days with the same index see the same
    dated data of the kinds the breakpoints were taken from)."""

    __slots__ = ("bounds",)

    def __init__(self, dates: Iterable[dt.date | None]) -> None:
        self.bounds: list[dt.date] = sorted({d for d in dates if d is not None})

    def index(self, on: dt.date) -> int:
        """The number of breakpoints on or before ``on``."""
        return bisect_right(self.bounds, on)

    def __len__(self) -> int:
        return len(self.bounds)


def territory_dates(reg: Any) -> list[dt.date]:
    """Dates a territory mapping starts or stops applying: :meth:`Registry.territory_parents` (and so a
    country's codes with its territory parents) reads the day through these alone."""
    return [d for t in reg.territories.values() for d in (t.effective_from, t.effective_to) if d is not None]


def group_dates(reg: Any) -> list[dt.date]:
    """Dates of the Country Group membership changes: :meth:`Registry.group_members` (and so
    :meth:`Registry.expand` of codes and ``group:`` refs) reads the day through these alone (the snapshot date
    is fixed for the registry)."""
    return [ch.date for g in reg.groups.values() for ch in g.changes]


def dated_ref_dates(model: Any) -> list[dt.date]:
    """``effective_from`` / ``effective_to`` of every object in ``model`` (a pack model, walked through its
    fields, lists, tuples and dict values) that has an ``in_force`` test reading them (e.g. a jurisdiction
    pack's dated country refs)."""
    out: list[dt.date] = []
    stack: list[Any] = [model]
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, BaseModel):
            if hasattr(obj, "in_force"):
                out += [d for d in (getattr(obj, "effective_from", None), getattr(obj, "effective_to", None))
                        if isinstance(d, dt.date)]
            stack += [getattr(obj, name) for name in type(obj).model_fields]
        elif isinstance(obj, (list, tuple)):
            stack += obj
        elif isinstance(obj, dict):
            stack += obj.values()
    return out
