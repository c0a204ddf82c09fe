"""Group commit of screening records: the records of requests screened one after another are written
together, in one transaction of the record store, by one recorder thread per process.

A request screens (holding the process's screening slot), hands its records to the recorder and
releases the slot; the next request screens while the recorder writes. Whatever accumulated while a
transaction ran goes into the next one, so under load a transaction carries many requests' records
(one chain-head read, one commit) and without load each request's records are written at once. The
response waits for its record ids: a screening that could not be recorded is not handed out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from ecscreen.records.rawsqlite import StoreBusy

log = logging.getLogger("ecscreen.service")

Done = Callable[[list[int] | BaseException], None]


class GroupRecorder:
    def __init__(self, store: Any, *, max_batch: int = 2000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: list[tuple[list[Any], Done]] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="ecscreen-recorder", daemon=True)
        self._thread.start()
        self.transactions = 0
        self.records = 0

    def submit(self, records: list[Any], done: Done) -> None:
        """Write ``records`` (NewRecord) and call ``done`` with their ids, in order (or the exception)."""
        with self._cond:
            if self._stopping:
                done(RuntimeError("the service is shutting down"))
                return
            self._queue.append((records, done))
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=30)

    def _take(self) -> list[tuple[list[Any], Done]]:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            taken: list[tuple[list[Any], Done]] = []
            n = 0
            while self._queue and (not taken or n + len(self._queue[0][0]) <= self.max_batch):
                item = self._queue.pop(0)
                taken.append(item)
                n += len(item[0])
            return taken

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return  # stopping and nothing left
            flat = [r for recs, _ in batch for r in recs]
            try:
                ids = self.store.append_screenings(flat, at=dt.datetime.now(dt.UTC))
            except Exception as exc:  # every waiting request learns it was not recorded
                log.error("recording failed: %s: %s", type(exc).__name__, exc)
                for _, done in batch:
                    done(exc)
                continue
            self.transactions += 1
            self.records += len(flat)
            pos = 0
            for recs, done in batch:
                done(list(ids[pos: pos + len(recs)]))
                pos += len(recs)


class LoopBatch:
    """Group commit on the event loop, for SQLite: the records of the one-shipment requests screened on
    the event loop (see ``service.app``) in one pass of the loop are appended in one transaction.

    The first request of a pass adds its records and schedules :meth:`flush` with ``call_soon``; requests
    whose turn comes before it (their data arrived while an earlier one was screened: under load there is
    usually one or more per connection) add theirs. :meth:`flush` appends them all (one ``BEGIN
    IMMEDIATE``, one chain-head read, one commit: ~0.15 ms alone, ~0.05 ms per request in eights) and
    answers each request its ids. It never waits on the event loop: when another writer holds the store
    (``StoreBusy``: with ``--workers 2`` the other worker commits in ~4 % of the flushes) the batch is tried
    again a little later (``RETRY_DELAYS``, the loop screening on meanwhile; requests screened meanwhile join
    it), and when the store stays busy that long (a recorded ``batch`` writing a chunk) the batch goes to the
    recorder thread, which waits for it. Handing a batch to the thread costs ~0.5 ms of CPU and the thread
    then waits for the GIL while the loop screens (up to the 5 ms switch interval). Every response still
    waits for its records to be committed."""

    RETRY_DELAYS = (0.0005, 0.001, 0.002, 0.004, 0.008)  # seconds; ~15 ms in all, then the recorder thread

    def __init__(self, store: Any, recorder: Callable[[], GroupRecorder | None]) -> None:
        self.store = store
        self.recorder = recorder
        self._pending: list[tuple[list[Any], Any]] = []
        self._tries = 0  # consecutive StoreBusy of the pending batch (a retry is scheduled while > 0)
        self.transactions = 0
        self.records = 0
        self.busy = 0  # StoreBusy answers
        self.handed = 0  # batches handed to the recorder thread

    def add(self, records: list[Any]) -> Any:
        """An awaitable of the ids of ``records`` (in order), or of the exception that kept them out."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self._pending and not self._tries:
            loop.call_soon(self.flush)
        self._pending.append((records, fut))
        return fut

    def flush(self, *, final: bool = False) -> None:
        """Append the pending records (``final``: the service stops; a busy store -> the recorder thread at once)."""
        batch, self._pending = self._pending, []
        if not batch:
            self._tries = 0
            return
        flat = [r for recs, _ in batch for r in recs]
        try:
            ids = self.store.append_screenings(flat, at=dt.datetime.now(dt.UTC), wait=False)
        except StoreBusy:
            self.busy += 1
            if final or self._tries >= len(self.RETRY_DELAYS):
                self._tries = 0
                self.handed += 1
                self._to_thread(batch, flat)
                return
            self._pending = batch + self._pending
            batch[0][1].get_loop().call_later(self.RETRY_DELAYS[self._tries], self.flush)
            self._tries += 1
            return
        except Exception as exc:  # every request of the batch learns it was not recorded
            self._tries = 0
            log.error("recording failed: %s: %s", type(exc).__name__, exc)
            _settle(batch, exc)
            return
        self._tries = 0
        self.transactions += 1
        self.records += len(flat)
        _settle(batch, ids)

    def _to_thread(self, batch: list[tuple[list[Any], Any]], flat: list[Any]) -> None:
        recorder = self.recorder()
        if recorder is None:
            _settle(batch, RuntimeError("the service is not started"))
            return
        loop = batch[0][1].get_loop()

        def done(value: list[int] | BaseException) -> None:
            loop.call_soon_threadsafe(_settle, batch, value)

        recorder.submit(flat, done)


def _settle(batch: list[tuple[list[Any], Any]], value: list[int] | BaseException) -> None:
    """Answer each waiting request of ``batch``: its slice of ``value`` (the ids, in order), or the exception."""
    pos = 0
    for recs, fut in batch:
        if not fut.done():
            if isinstance(value, BaseException):
                fut.set_exception(value)
            else:
                fut.set_result(list(value[pos: pos + len(recs)]))
        pos += len(recs)
