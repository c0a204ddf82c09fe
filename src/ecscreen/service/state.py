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
SCREEN_LOCK = threading.Lock()


@dataclass(frozen=True)
class ScreeningState:
    screener: Any  # ecscreen.api.Screener
    lists: tuple[Any, ...]  # ecscreen.lists.ScreeningList, as screened
    lists_hash: str  # sha256 over the lists' own sha256s ("" without lists)
    loaded_at: dt.datetime
    generation: int = 1

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


def build_state(cfg: ServiceConfig) -> ScreeningState:
    """Load packs and lists once (the compiled snapshot and index caches make this fast after a first run)."""
    from ecscreen.api import Screener
    from ecscreen.engine import Engine

    screener = Screener(rules=cfg.rules or None, rules_only=cfg.rules_only or None, lists=not cfg.no_lists,
                        clearances=cfg.clearances)
    if cfg.policy != "enforced":
        screener.engine = Engine.build(screener.registry, use_lists=not cfg.no_lists,
                                       allowlist=screener.engine.allowlist, policy=cfg.policy)
    screener._options["policy"] = cfg.policy
    lists = tuple(screener.engine.party_lists)
    _warm(screener)
    return ScreeningState(screener=screener, lists=lists, lists_hash=lists_hash(lists), loaded_at=_now())


def _warm(screener: Any) -> None:
    """Build the matcher index and fill the chart memo before the state serves a request."""
    if screener.engine.use_lists:
        from ecscreen.lists import matcher_for

        matcher_for(list(screener.engine.party_lists))
    with SCREEN_LOCK:
        screener.screen({"destination": "DE", "items": [{"description": "warm-up", "eccn": "EAR99"}],
                         "parties": [{"role": "consignee", "name": "Warm Up GmbH", "country": "DE"}]})


def _with_lists(state: ScreeningState, lists: list[Any]) -> ScreeningState:
    from ecscreen.engine import Engine

    old = state.screener
    engine = Engine.build(old.registry, use_lists=True, allowlist=old.engine.allowlist, lists=list(lists),
                          policy=old.engine.policy)
    screener = copy.copy(old)
    screener.engine = engine
    _warm(screener)
    return ScreeningState(screener=screener, lists=tuple(lists), lists_hash=lists_hash(lists), loaded_at=_now(),
                          generation=state.generation + 1)


def store_fingerprint() -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of the list store's files: changes whenever a list is imported or updated."""
    from ecscreen.lists import store_dir

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
    """The current state plus the watcher that replaces it when the active lists change."""

    cfg: ServiceConfig
    state: ScreeningState
    reload_error: str | None = None
    reloads: int = 0
    _fingerprint: tuple[tuple[str, int, int], ...] = field(default=(), repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, cfg: ServiceConfig) -> StateHolder:
        fp = store_fingerprint()
        return cls(cfg=cfg, state=build_state(cfg), _fingerprint=fp)

    def current(self) -> ScreeningState:
        return self.state

    def check_now(self) -> bool:
        """Reload when the list store changed and the active lists differ; True when swapped."""
        if self.cfg.no_lists:
            return False
        with self._lock:
            fp = store_fingerprint()
            if fp == self._fingerprint:
                return False
            from ecscreen.lists import active_lists, read_list

            old = self.state
            try:
                own = [read_list(lp.path) for lp in old.screener.registry.of_kind("party_list")]
                lists = active_lists(rules_roots=[]) + own
                if lists_hash(lists) == old.lists_hash:
                    self._fingerprint = fp
                    self.reload_error = None
                    return False
                t0 = time.perf_counter()
                new = _with_lists(old, lists)
            except Exception as exc:  # keep the last good lists and say so
                self.reload_error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("list reload failed, still screening with the lists loaded at %s: %s",
                          old.loaded_at.isoformat(), self.reload_error)
                self._fingerprint = fp
                return False
            self.state = new  # the swap: one reference assignment
            self._fingerprint = fp
            self.reload_error = None
            self.reloads += 1
            log.info("lists reloaded in %.1f s: %s", time.perf_counter() - t0,
                     ", ".join(f"{sl.info.name} ({sl.info.sha256[:12]})" for sl in new.lists))
            return True

    def start(self) -> None:
        if self.cfg.reload_interval <= 0 or self.cfg.no_lists or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._watch, name="ecscreen-list-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.cfg.reload_interval):
            try:
                self.check_now()
            except Exception as exc:  # pragma: no cover - check_now catches what it expects
                log.error("list watcher: %s", exc)
