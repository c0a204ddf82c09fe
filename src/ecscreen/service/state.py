"""The loaded screener and its hot reload.

A :class:`ScreeningState` is immutable once built: the screener (packs, engine, the lists it screens
against) and the hash of those lists. Requests take the current state once, at their start, and use it
to the end, so a swap never changes a screening half-way. :class:`StateHolder` watches the list store
(a cheap ``stat`` of its files every ``reload_interval`` seconds); when the files change it loads the
active lists, and when their hashes differ from the loaded ones it builds a new engine (matcher index
included) in the watcher thread and swaps it in with one assignment. A store that cannot be read keeps
the last good lists, and the service says so (``/readyz``, ``/v1/lists`` and every report's warnings).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ecscreen.service.config import ServiceConfig

log = logging.getLogger("ecscreen.service")

# The screening core keeps per-process working state (the matcher's scratch tables, the engine's chart
# memo) that is not safe to use from two threads at once: a process screens one request at a time
# (parallelism comes from worker processes). Every screening in the service holds this lock.
SCREEN_LOCK = threading.RLock()


@dataclass(frozen=True)
class ScreeningState:
    screener: Any  # ecscreen.api.Screener
    lists: tuple[Any, ...]  # ecscreen.parties.store.ScreeningList, as screened
    lists_hash: str  # sha256 over the lists' own sha256s ("" without lists)
    loaded_at: dt.datetime
    generation: int = 1
    decisions: int = 0  # review decisions in the store when the allow-list was built
    base_allow: Any = None  # the --clearances allow-list (None: $ECSCREEN_CLEARANCES), before decisions
    memo: dict[str, Any] = field(default_factory=dict, compare=False)  # e.g. the run manifest's sha256

    @property
    def engine(self) -> Any:
        return self.screener.engine


def lists_hash(lists: list[Any] | tuple[Any, ...]) -> str:
    if not lists:
        return ""
    h = hashlib.sha256()
    for sl in lists:
        h.update(sl.info.sha256.encode() + b"\x00")
    return h.hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def build_state(cfg: ServiceConfig, store: Any = None) -> ScreeningState:
    """Load packs and lists once (the compiled snapshot and index caches make this fast after a first run);
    the clearances of the store's ``cleared`` review decisions join the allow-list."""
    from ecscreen.api import Screener

    screener = Screener(rules=cfg.rules or None, rules_only=cfg.rules_only or None, lists=not cfg.no_lists,
                        clearances=cfg.clearances)
    screener._options["policy"] = cfg.policy
    base = screener.engine.allowlist
    lists = list(screener.engine.party_lists)
    n, allow = decided_allowlist(base, store)
    return _state(screener, lists, allow, base, policy=cfg.policy, generation=1, decisions=n)


def decided_allowlist(base: Any, store: Any) -> tuple[int, Any]:
    """(number of decision records, ``base`` plus the clearances of the store's ``cleared`` decisions).
    ``base`` None stands for ``$ECSCREEN_CLEARANCES`` (read by the party screening when no list is given)."""
    if store is None:
        return 0, base
    decisions = store.decisions()
    from ecscreen.runners.review import clearances_from

    decided = clearances_from(decisions)
    if not decided:
        return len(decisions), base
    from ecscreen.parties.matching import AllowList
    from ecscreen.parties.screening import default_allowlist

    start = base if base is not None else default_allowlist()
    return len(decisions), AllowList([*(start.clearances if start is not None else []), *decided])


def _warm(screener: Any) -> None:
    """Build the matcher index, the names lists' matchers (with plain-dict tables: ``resident_names_lists``)
    and fill the chart memo before the state serves a request."""
    from ecscreen.engine.core import resident_names_lists

    resident_names_lists(screener.engine)
    if screener.engine.use_lists:
        from ecscreen.parties.store import matcher_for

        matcher_for(list(screener.engine.party_lists))
    with SCREEN_LOCK:
        screener.screen({"destination": "DE", "items": [{"description": "warm-up", "eccn": "EAR99"}],
                         "parties": [{"role": "consignee", "name": "Warm Up GmbH", "country": "DE"}]})


def _state(old: Any, lists: list[Any], allow: Any, base_allow: Any, *, policy: str, generation: int,
           decisions: int) -> ScreeningState:
    """A new state: ``old``'s packs and options with these lists and this allow-list."""
    from ecscreen.engine.core import Engine

    engine = Engine.build(old.registry, use_lists=old.engine.use_lists, allowlist=allow,
                          lists=list(lists) if old.engine.use_lists else None, policy=policy,
                          max_age_days=old.engine.max_age_days, today=old.engine.today)
    screener = copy.copy(old)
    screener.engine = engine
    _warm(screener)
    return ScreeningState(screener=screener, lists=tuple(lists), lists_hash=lists_hash(lists), loaded_at=_now(),
                          generation=generation, decisions=decisions, base_allow=base_allow)


def store_fingerprint() -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of the list store's files: changes whenever a list is imported or updated."""
    from ecscreen.parties.store import store_dir

    d = store_dir()
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return ()
    out = []
    for n in names:
        try:
            st = os.stat(d / n)
        except OSError:
            continue
        out.append((n, st.st_size, st.st_mtime_ns))
    return tuple(out)


@dataclass
class StateHolder:
    """The current state, the record store, and the watcher that replaces the state when the active lists
    or the review decisions change."""

    cfg: ServiceConfig
    state: ScreeningState
    store: Any = None  # ecscreen.records.RecordStore, None with --no-record
    reload_error: str | None = None
    reloads: int = 0
    on_swap: Any = field(default=None, repr=False)  # called after a new state is swapped in (the service's GC)
    _fingerprint: tuple[tuple[str, int, int], ...] = field(default=(), repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, cfg: ServiceConfig) -> StateHolder:
        store = None
        if cfg.record:
            from ecscreen.records import RecordStore

            store = RecordStore.open(url=cfg.database_url, home=cfg.home)
        fp = store_fingerprint()
        return cls(cfg=cfg, state=build_state(cfg, store), store=store, _fingerprint=fp)

    def current(self) -> ScreeningState:
        return self.state

    def check_now(self) -> bool:
        """Swap in a new state when the list store changed and the active lists differ, or when review
        decisions were recorded (here or by another process); True when swapped."""
        with self._lock:
            old = self.state
            fp = store_fingerprint() if not self.cfg.no_lists else self._fingerprint
            lists: list[Any] = list(old.lists)
            lists_changed = False
            try:
                if fp != self._fingerprint:
                    from ecscreen.engine.core import pack_party_lists
                    from ecscreen.parties.store import active_lists

                    lists = active_lists(rules_roots=[]) + pack_party_lists(old.screener.registry)
                    lists_changed = lists_hash(lists) != old.lists_hash
                n = self.store.count(kind="decision") if self.store is not None else 0
                if not lists_changed and n == old.decisions:
                    self._fingerprint = fp
                    self.reload_error = None
                    return False
                t0 = time.perf_counter()
                n, allow = decided_allowlist(old.base_allow, self.store)
                new = _state(old.screener, lists, allow, old.base_allow, policy=old.engine.policy,
                             generation=old.generation + 1, decisions=n)
            except Exception as exc:  # keep the last good state and say so
                self.reload_error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("reload failed, still screening with the lists loaded at %s: %s",
                          old.loaded_at.isoformat(), self.reload_error)
                self._fingerprint = fp
                return False
            self.state = new  # the swap: one reference assignment
            self._fingerprint = fp
            self.reload_error = None
            self.reloads += 1
            if self.on_swap is not None:
                self.on_swap()
            log.info("screener reloaded in %.1f s (%s): %s", time.perf_counter() - t0,
                     "new lists" if lists_changed else f"{n} review decision(s)",
                     ", ".join(f"{sl.info.name} ({sl.info.sha256[:12]})" for sl in new.lists))
            return True

    def start(self) -> None:
        if self.cfg.reload_interval <= 0 or self._thread is not None:
            return
        if self.cfg.no_lists and self.store is None:
            return
        self._thread = threading.Thread(target=self._watch, name="ecscreen-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.store is not None:
            self.store.close()

    def _watch(self) -> None:
        while not self._stop.wait(self.cfg.reload_interval):
            try:
                self.check_now()
            except Exception as exc:  # pragma: no cover - check_now catches what it expects
                log.error("watcher: %s", exc)
