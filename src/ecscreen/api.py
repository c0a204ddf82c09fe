"""The public Python API: one :class:`Screener` built once, then ``screen()`` per shipment.

```python
import ecscreen
screener = ecscreen.Screener()          # shipped packs + active restricted-party lists
result = screener.screen({"destination": "CN", "items": [{"description": "GPU", "eccn": "3A090.a"}]})
result.decision, [f.rule_id for f in result.findings]
report = screener.report([shipment_a, shipment_b])   # the envelope `ecscreen check --format json` prints
```

The screener holds everything a screening depends on (packs, the party screener with its lists, clearances,
the date policy); ``screen`` itself reads no files, no environment and no clock beyond what the screener
was given (``as_of``, or ``today`` fixed per call when neither the call nor the shipment states a date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ecscreen.model import InputError, Report, Shipment, ShipmentResult
from ecscreen.settings import Settings, utc_now
from ecscreen.settings import today as _today

__all__ = ["Screener"]

ShipmentLike = Shipment | Mapping[str, Any]


class Screener:
    """Screens shipments against rule packs and restricted-party lists.

    Parameters
    ----------
    rules:
        extra pack files/directories, added to the shipped packs (a pack with the id of a shipped pack
        replaces that pack; the report says so) — like ``ecscreen check --rules``.
    rules_only:
        pack files/directories used *instead of* the shipped packs (``--rules-only``).
    lists:
        ``True`` (default): screen parties against the active lists (embedded CSL + imported lists);
        ``False``: do not screen parties (every shipment with parties gets a "parties not screened" review).
    clearances:
        allow-list file(s) of cleared (party, list entry) pairs (the ``--clearances`` format); default: the
        files in ``$ECSCREEN_CLEARANCES`` (if set).
    as_of:
        evaluate every shipment at this date (overrides shipment dates), like ``--as-of``.
    cache_dir:
        where compiled snapshots are cached; default: the CLI's cache directory
        (``$ECSCREEN_CACHE_DIR`` / ``~/.cache/ecscreen``); ``None`` turns the cache off.
    record:
        a :class:`ecscreen.records.RecordStore` to record every screening in (source ``api:CLIENT``), or
        ``None`` (default): not recorded. The API reads no environment, so it records only into a store
        it is given, e.g. ``RecordStore.open(home=Path("~/.local/share/ecscreen").expanduser())`` (the
        CLI's default store) or ``RecordStore.open(url="postgresql://...")``; ``ecscreen serve`` passes its own.
    decisions:
        a :class:`ecscreen.records.RecordStore` whose review decisions apply: each active ``cleared``
        party-hit decision (``ecscreen review decide ... --as cleared``) becomes a clearance, added to the
        ``clearances`` files (or, without them, to ``$ECSCREEN_CLEARANCES``'s), exactly as ``ecscreen check``
        applies the store's decisions. Read when the screener is built; :meth:`reload_decisions` re-reads
        them. ``None`` (default): no decisions (the API opens no store by itself). It may be the same store
        as ``record``.
    client:
        the name recorded as the source of the screenings (``api:CLIENT``).
    clock:
        the time records are stamped with (default: the current UTC time).
    """

    def __init__(
        self,
        *,
        rules: Sequence[str | Path] | None = None,
        rules_only: Sequence[str | Path] | None = None,
        lists: bool = True,
        clearances: str | Path | Sequence[str | Path] | None = None,
        as_of: dt.date | str | None = None,
        cache_dir: str | Path | None | bool = True,
        record: Any = None,
        decisions: Any = None,
        client: str = "api",
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        from ecscreen.engine.context import ScreeningContext, lists_for
        from ecscreen.engine.snapshot import load_registry_snapshot
        from ecscreen.parties.screening import load_allowlists

        if rules and rules_only:
            raise ValueError("give rules (added to the shipped packs) or rules_only (instead of them), not both")
        settings = Settings.from_env()  # the API layer reads the environment once, here
        if cache_dir is True:
            cache: Path | None = settings.cache_dir
        elif cache_dir is False or cache_dir is None:
            cache = None
        else:
            cache = Path(cache_dir)
        paths = [Path(p) for p in (rules or rules_only or [])]
        self.registry = load_registry_snapshot(paths or None, extend=bool(rules), cache_dir=cache)
        files = (list(settings.clearances) if clearances is None
                 else [clearances] if isinstance(clearances, str | Path) else list(clearances))
        self._file_allow: Any = load_allowlists(files)
        self.decision_store = decisions
        self.decided = 0  # clearances from the store's cleared decisions (see reload_decisions)
        allow = self._allowlist() if lists else self._file_allow
        self.as_of = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
        self._options: dict[str, Any] = {
            "as_of": self.as_of.isoformat() if self.as_of else None, "rules": [str(p) for p in rules or []],
            "rules_only": [str(p) for p in rules_only or []], "no_lists": not lists,
            "clearances": None if clearances is None else [str(c) for c in (
                [clearances] if isinstance(clearances, str | Path) else clearances)],
            "decisions": decisions is not None}
        self.context = ScreeningContext.build(
            self.registry, today=_today(), as_of=self.as_of, use_lists=lists,
            lists=lists_for(self.registry, home=settings.home, cache_dir=cache) if lists else None,
            clearances=allow, max_age_days=settings.max_age_days, cache_dir=cache)
        self.engine = self.context.engine
        self.record_store = record
        self.client = client
        self._clock = clock or utc_now
        self._manifest: str | None = None
        self._clearance_files = [] if clearances is None else [
            ("clearances", str(c)) for c in ([clearances] if isinstance(clearances, str | Path) else clearances)]
        self.last_record_ids: list[int] = []

    def _allowlist(self) -> Any:
        """The clearances files' allow-list plus the cleared decisions of ``decisions`` (the CLI's rule:
        without files, the decisions add to ``$ECSCREEN_CLEARANCES``'s clearances)."""
        if self.decision_store is None:
            self.decided = 0
            return self._file_allow
        from ecscreen.parties.matching import AllowList
        from ecscreen.parties.screening import default_allowlist
        from ecscreen.runners.review import clearances_from

        decided = clearances_from(self.decision_store.decisions())
        self.decided = len(decided)
        if not decided:
            return self._file_allow
        start = self._file_allow if self._file_allow is not None else default_allowlist()
        return AllowList([*(start.clearances if start is not None else []), *decided])

    def reload_decisions(self) -> int:
        """Re-read the review decisions of ``decisions`` (e.g. after ``review decide``) and apply them to
        later screenings; returns how many clearances they give."""
        if self.engine.use_lists:
            self.engine.allowlist = self._allowlist()
        return self.decided

    def _record(self, report: Report, shipments: Sequence[Shipment | InputError], raws: Sequence[Any]) -> None:
        """Record the screenings of ``report`` in the store given as ``record`` (nothing without one)."""
        if self.record_store is None:
            return
        from ecscreen.records.recorder import record_report, run_manifest

        at = self._clock()
        if self._manifest is None:
            self._manifest = run_manifest(self.record_store, self.engine, command="api", options=self._options,
                                          at=at, files=self._clearance_files)
        self.last_record_ids = record_report(self.record_store, report, list(shipments), command="api",
                                             manifest=self._manifest, at=at, raws=list(raws), client=self.client)

    # ------------------------------------------------------------------ one shipment
    def screen(self, shipment: ShipmentLike, *, today: dt.date | None = None) -> ShipmentResult:
        """Screen one shipment (a :class:`Shipment` or a dict of the shipment format).

        An invalid shipment is not raised: it comes back with decision ``error`` and the errors naming
        the field (fail closed, exactly as ``ecscreen check`` reports it).
        """
        label, parsed = _parse(shipment, 1)
        if isinstance(parsed, InputError):
            res = ShipmentResult(id=label, decision="error", errors=[parsed], source=label)
        else:
            res = self.engine.screen_one(parsed, as_of=self.as_of, label=label, today=today or _today())
        if self.record_store is not None:
            self._record(Report(decision=res.decision, results=[res]), [parsed], [_raw(shipment)])
        return res

    # ------------------------------------------------------------------ many
    def report(self, shipments: Iterable[ShipmentLike], *, today: dt.date | None = None) -> Report:
        """Screen shipments and return the report envelope (tool version, packs, lists, warnings, results)."""
        given = list(shipments)
        seq = [_parse(s, n) for n, s in enumerate(given, 1)]
        report = self.engine.screen(seq, as_of=self.as_of, today=today or _today())
        report.command = "api"
        report.options = dict(self._options)
        if self.record_store is not None:
            self._record(report, [p for _, p in seq], [_raw(s) for s in given])
        return report


def _raw(shipment: Any) -> Any:
    """What was given, JSON-able, for a record of input that could not be read."""
    if isinstance(shipment, Shipment):
        return None
    if isinstance(shipment, Mapping):
        return dict(shipment)
    return repr(shipment)[:1000]


def _parse(shipment: ShipmentLike, n: int) -> tuple[str, Shipment | InputError]:
    if isinstance(shipment, Shipment):
        return shipment.id or f"shipment-{n}", shipment
    if not isinstance(shipment, Mapping):
        return f"shipment-{n}", InputError(message="a shipment must be a mapping with destination and items")
    try:
        sh = Shipment.model_validate(dict(shipment))
    except ValidationError as exc:
        e = exc.errors()[0]
        fld = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in e["loc"]).replace(".[", "[")
        more = f" (and {exc.error_count() - 1} more error(s))" if exc.error_count() > 1 else ""
        sid = shipment.get("id")
        return (str(sid) if sid else f"shipment-{n}"), InputError(field=fld or None, message=e["msg"] + more)
    return sh.id or f"shipment-{n}", sh
