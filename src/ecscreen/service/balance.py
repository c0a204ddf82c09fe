"""Keep-alive connections spread over the worker processes of ``ecscreen serve --workers N``.

The workers share one listening socket. A worker that wakes for a new connection accepts every connection
waiting (libuv drains the queue), so connections opened close together (a client's pool at start-up, the
serve benchmark's eight clients) can all land on one worker, and keep-alive keeps them there: measured with
eight connections opened at once, 8/0 or 7/1 splits, one worker screening everything while the other idles
(half the throughput, twice the latency).

Each worker publishes how many connections it holds in a slot of a small shared file (``mmap``; the parent
creates it, ``ServiceConfig.balance_file``; a worker claims the first slot it can lock with ``lockf``, a lock
the kernel releases when the process dies). When a request arrives on a keep-alive connection of a worker
holding at least two connections more than the least loaded live worker, that one response is sent with
``Connection: close`` (uvicorn's own way of ending a keep-alive connection, as on shutdown) and the
connection closed after it; the client opens a new one, which the kernel hands to whichever worker accepts
first: usually the less loaded one, as this worker is busy screening. At most one connection per
``MIN_GAP`` seconds per worker is closed, so a few responses rebalance eight connections within a second;
while the connections it closes keep coming back to it (the other workers busy, or one hung), the gap doubles
up to ``MAX_BACKOFF`` times. No
request is refused or retried: the response is the same, only its connection ends (HTTP/1.1 clients open a
new one; a connection with pipelined requests waiting is never chosen).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import tempfile
import time
from pathlib import Path

FREE = -1  # a slot no live worker holds
SLOT = 8  # bytes per slot (a signed 64-bit count)
MIN_GAP = 0.02  # seconds between two connections closed by one worker
MAX_BACKOFF = 64  # while closed connections keep coming back: at most MIN_GAP * this between two closes


def create_file(workers: int) -> str | None:
    """A new shared file for ``workers`` processes (every slot free; None when no file can be made: the
    workers then do without); the caller removes it when done."""
    slots = 2 * workers + 4  # room for workers restarted while a dead one's slot is still locked
    shm = Path("/dev/shm")
    try:
        fd, path = tempfile.mkstemp(prefix="ecscreen-serve-", suffix=".balance", dir=shm if shm.is_dir() else None)
    except OSError:
        try:
            fd, path = tempfile.mkstemp(prefix="ecscreen-serve-", suffix=".balance")
        except OSError:
            return None
    try:
        os.write(fd, FREE.to_bytes(SLOT, "little", signed=True) * slots)
    finally:
        os.close(fd)
    return path


class Balance:
    """This worker's slot in the shared file: its connection count, and the decision to close one."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR)
        size = os.fstat(self._fd).st_size
        self._map = mmap.mmap(self._fd, size)
        self.counts = memoryview(self._map).cast("q")
        self.slot = self._claim()
        self.mine = 0  # connections this worker holds
        self.closing = 0  # of them, chosen to close and not yet gone
        self.closed_by_balance = 0
        self._last = 0.0
        self._backoff = 1  # times MIN_GAP before the next close
        self._others_then = -1  # the other workers' connections when this worker last closed one
        self._open = True
        self.counts[self.slot] = 0

    def _claim(self) -> int:
        for i in range(len(self.counts)):
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, SLOT, i * SLOT, os.SEEK_SET)
            except OSError:
                continue
            return i
        raise RuntimeError("no free slot in the workers' balance file")

    def opened(self) -> None:
        self.mine += 1
        if self._open:
            self.counts[self.slot] = self.mine

    def lost(self) -> None:
        self.mine -= 1
        if self.closing:
            self.closing -= 1
        if self._open:  # a connection may end after the worker's shutdown freed the slot
            self.counts[self.slot] = self.mine

    def should_close(self) -> bool:
        """True when this worker should end the connection a request just arrived on (see the module)."""
        mine = self.mine - self.closing
        if mine < 2 or not self._open:
            return False
        low = -1
        low_slot = -1
        others = 0
        counts = self.counts
        for i in range(len(counts)):
            c = counts[i]
            if c >= 0 and i != self.slot:
                others += c
                if low < 0 or c < low:
                    low, low_slot = c, i
        if low < 0 or mine - low < 2:
            return False
        now = time.monotonic()
        if now - self._last < MIN_GAP * self._backoff:
            return False
        if not self._alive(low_slot):  # a worker that died without freeing its slot
            counts[low_slot] = FREE
            return False
        # the connection closed last time came back here (the other workers hold no more than then: busy, or
        # hung): wait twice as long before the next (up to MAX_BACKOFF times MIN_GAP), else as little as allowed
        self._backoff = min(2 * self._backoff, MAX_BACKOFF) if 0 <= others <= self._others_then else 1
        self._others_then = others
        self._last = now
        self.closing += 1
        self.closed_by_balance += 1
        return True

    def _alive(self, slot: int) -> bool:
        """Whether a process holds ``slot``'s lock (a dead worker's lock is gone with it)."""
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB, SLOT, slot * SLOT, os.SEEK_SET)
        except OSError:
            return True
        fcntl.lockf(self._fd, fcntl.LOCK_UN, SLOT, slot * SLOT, os.SEEK_SET)
        return False

    def close(self) -> None:
        """Free the slot (the worker stops)."""
        if not self._open:
            return
        self._open = False
        self.counts[self.slot] = FREE
        self.counts.release()
        self._map.close()
        os.close(self._fd)  # releases the slot's lock


CURRENT: Balance | None = None  # this worker's, set by the app's start-up when the service has workers
