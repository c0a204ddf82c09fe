"""`ecscreen serve --workers N` spreads keep-alive connections over its workers (ecscreen.service.balance).

Regression: the workers share one listening socket and a worker that wakes accepts every connection
waiting, so eight connections opened at once all landed on one worker (8/0, 7/1 measured) and keep-alive
kept them there: one worker screened everything while the other idled. Now a worker holding two or more
connections more than another ends one (``connection: close`` on a response, the response itself unchanged)
and the client's new connection goes to the other worker.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the service needs fastapi and uvicorn")

from ecscreen.service import balance  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LINUX = sys.platform.startswith("linux")


def _holder(path: str) -> subprocess.Popen[str]:
    """Another process holding a slot of ``path`` (slot locks are per process) until its stdin closes."""
    code = ("import sys; from ecscreen.service.balance import Balance; b = Balance(sys.argv[1]); "
            "print(b.slot, flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "0"
    return proc


def test_a_worker_with_two_connections_more_than_another_ends_one(monkeypatch: pytest.MonkeyPatch) -> None:
    path = balance.create_file(2)
    assert path is not None
    other = _holder(path)
    try:
        b = balance.Balance(path)
        assert b.slot == 1 and b.counts[0] == 0 and b.counts[1] == 0  # the other worker holds slot 0
        b.opened()
        assert not b.should_close()  # one connection: never
        b.opened()
        b.counts[0] = 1
        assert not b.should_close()  # 2 against 1: even enough
        b.counts[0] = 0
        assert b.should_close()  # 2 against 0
        assert b.closing == 1 and not b.should_close()  # that one counts as gone until it is
        b.lost()
        assert b.mine == 1 and b.closing == 0 and b.counts[1] == 1  # published
        for _ in range(3):
            b.opened()
        monkeypatch.setattr(balance, "MIN_GAP", 3600.0)
        assert not b.should_close()  # at most one per MIN_GAP
        monkeypatch.setattr(balance, "MIN_GAP", 0.0)
        assert b.should_close() and b._backoff == 2  # the last one came back here (0 elsewhere): wait longer
        b.lost()
        b.opened()
        assert b.should_close() and b._backoff == 4
        b.lost()
        b.opened()
        b.counts[0] = 1  # this time it went to the other worker
        assert b.should_close() and b._backoff == 1
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(timeout=30)
    # the other worker died without freeing its slot (count 0 left behind): not a reason to close
    b.closing = 0
    b.counts[0] = 0
    assert b.mine == 4 and not b.should_close() and b.counts[0] == balance.FREE
    b.close()
    Path(path).unlink()


def test_a_worker_alone_never_closes_and_a_closed_slot_is_left_alone() -> None:
    path = balance.create_file(1)
    assert path is not None
    b = balance.Balance(path)
    for _ in range(5):
        b.opened()
    assert not b.should_close()
    b.close()
    b.lost()  # a connection ending after the worker's shutdown freed its slot
    b.close()
    assert not b.should_close()
    Path(path).unlink()


def _per_worker(server_pid: int, port: int) -> list[int]:
    """Established connections on ``port`` held by each of the server's worker processes (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01":  # local port, ESTABLISHED
                inodes.add(f[9])
    kids = []
    for task in Path(f"/proc/{server_pid}/task").glob("*"):
        kids += [int(k) for k in (task / "children").read_text().split()]
    out = []
    for pid in kids:
        n = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                n += 1
        out.append(n)
    return sorted(out, reverse=True)[:2]  # the two workers (a third child is multiprocessing's resource tracker)


class _Conn:
    """A keep-alive HTTP/1.1 connection that opens a new one when a response says ``connection: close``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reopened = 0
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)

    def get(self, path: str) -> tuple[int, bytes]:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self.sock.recv(65536)
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode().lower().split("\r\n")
        length = next(int(h.split(":", 1)[1]) for h in lines if h.startswith("content-length:"))
        while len(body) < length:
            body += self.sock.recv(65536)
        if "connection: close" in lines:
            self.sock.close()
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self.reopened += 1
        return int(lines[0].split()[1]), body


@pytest.mark.skipif(not LINUX, reason="counts each worker's connections in /proc")
def test_eight_connections_opened_at_once_end_up_spread_over_two_workers(tmp_path: Path) -> None:
    from test_serve import Server  # the service as a subprocess (tests/ is on sys.path under pytest)

    s = Server("--workers", "2", "--no-lists", "--no-record", "--no-access-log",
               env={"ECSCREEN_HOME": str(tmp_path / "home")})
    try:
        port = int(s.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 120
        while sum(1 for line in s.log if "Application startup complete" in line) < 2:  # both workers loaded
            assert time.monotonic() < deadline, "".join(s.log)
            time.sleep(0.2)
        conns = [_Conn(port) for _ in range(8)]  # at once: without the balance all on one worker
        answers = []
        deadline = time.monotonic() + 60
        while True:
            for c in conns:
                answers.append(c.get("/v1/lists"))
            split = _per_worker(s.proc.pid, port)
            if len(split) == 2 and max(split) - min(split) <= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.03)  # a worker ends at most one connection per MIN_GAP
        assert len(split) == 2 and max(split) - min(split) <= 2, split
        assert all(code == 200 for code, _ in answers)
        assert len({body for _, body in answers}) <= 2  # the same answer (one per worker's loaded_at second)
        for c in conns:
            c.sock.close()
    finally:
        s.stop()
