"""Everything a screening depends on, built once and explicitly: the :class:`ScreeningContext`.

The CLI and the Python API build it (from :class:`ecscreen.settings.Settings` and their options); then
:func:`screen` screens one shipment with it. ``screen`` reads no environment, no clock, no home
directory and no files: the packs, the restricted-party lists with their loaded index, the party_lists
pack (what a hit on each list means), the grants (clearances), the staleness limit, the date policy and
``today`` are all in the context. Licences and licence exceptions travel with the items; waivers belong
to the gate (:mod:`ecscreen.runners.gate`).

```python
ctx = ScreeningContext.build(registry, today=dt.date(2026, 10, 1), lists=active, clearances=allow)
result = screen(shipment, ctx)
```
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecscreen.engine.core import Engine, pack_party_lists
from ecscreen.model import InputError, Report, Shipment, ShipmentResult
from ecscreen.packs.registry import Registry

__all__ = ["ScreeningContext", "screen", "screen_report", "lists_for"]


def lists_for(registry: Registry, *, home: Path | None, cache_dir: Path | None) -> list[Any]:
    """The lists parties are screened against: the embedded CSL (or an imported CSL), the other lists
    imported into the store under ``home``, and every ``kind: party_list`` pack of ``registry`` (shipped or
    given with ``--rules``). ``home=None``: no list store; ``cache_dir=None``: no decoded-list cache."""
    from ecscreen.parties.store import active_lists

    return active_lists(rules_roots=[], home=home, cache_dir=cache_dir) + pack_party_lists(registry)


@dataclass
class ScreeningContext:
    """The packs (compiled), the party screener's lists and index, grants, date policy and ``today``."""

    registry: Registry
    engine: Engine
    today: dt.date
    as_of: dt.date | None = None

    @classmethod
    def build(
        cls,
        registry: Registry,
        *,
        today: dt.date,
        as_of: dt.date | None = None,
        use_lists: bool = True,
        lists: list[Any] | None = None,
        clearances: Any = None,
        policy: str = "enforced",
        max_age_days: int | None = None,
        cache_dir: Path | None = None,
        load_index: bool = True,
    ) -> ScreeningContext:
        """Build once per run. ``lists``: the lists to screen against (see :func:`lists_for`; None: the
        embedded list and the registry's party_list packs); ``clearances``: an
        :class:`~ecscreen.parties.matching.AllowList` or None; ``cache_dir``: where the party index is
        cached (None: built in memory). With lists on, the party index is loaded here, not while
        screening (``load_index=False``: a caller that knows no shipment names a party skips it)."""
        if use_lists and lists is None:
            lists = lists_for(registry, home=None, cache_dir=cache_dir)
        engine = Engine.build(registry, use_lists=use_lists, allowlist=clearances, lists=lists if use_lists else None,
                              policy=policy, max_age_days=max_age_days, today=today)
        if use_lists and lists and load_index:
            from ecscreen.parties.store import matcher_for

            engine.matcher = matcher_for(lists, cache_dir=cache_dir)  # loaded (or built and cached) now, once
        return cls(registry=registry, engine=engine, today=today, as_of=as_of)


def screen(shipment: Shipment, ctx: ScreeningContext, *, label: str | None = None) -> ShipmentResult:
    """Screen one shipment with everything ``ctx`` holds (no I/O, no environment, no clock)."""
    return ctx.engine.screen_one(shipment, as_of=ctx.as_of, label=label, today=ctx.today)


def screen_report(shipments: Iterable[tuple[str, Shipment | InputError]], ctx: ScreeningContext) -> Report:
    """Screen shipments (label, shipment or input error) into the report envelope ``check`` prints."""
    return ctx.engine.screen(shipments, as_of=ctx.as_of, today=ctx.today)
