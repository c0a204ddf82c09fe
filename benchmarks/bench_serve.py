"""Benchmark `ecscreen serve`: one-shipment screens with two parties, N concurrent clients, on loopback.

Starts `ecscreen serve --port 0 --no-access-log --workers W` as a subprocess (the real embedded lists),
waits until every worker has loaded (a keep-alive connection stays with the worker that accepted it),
warms it up, then C clients (one keep-alive connection each, at most one request outstanding) send POST
/v1/screen for REQUESTS shipments. The clients send real HTTP/1.1 requests over loopback sockets (one send
each) and read every response whole (Content-Length); latency is measured in the client, from the send (or
the request's due time, ``--rate``) to the response's last byte. The clients share the cores with the server,
so they are kept light: one thread drives all C connections with ``epoll`` (measured under load, the /healthz
probe included: 0.09 ms CPU per request without parties, 0.20-0.22 ms with; one thread per client on raw
sockets, ``--threaded-client``: 0.09-0.12 and 0.22-0.24 ms; ``http.client`` threads, ``--stdlib-client``:
~0.4 ms). The connections open one at a time, each answered once before the next opens (a client pool
growing); a response with ``connection: close`` (the server's workers evening out their connections) makes
the client open a new connection, as HTTP clients do; the number reopened is printed. Each shipment has a consignee and an end user whose names are real company names from
../shared/data/sec-company-names-2025-08/ (taken in file order, every name used once before any repeats:
no help from caches of earlier requests), a destination from a fixed rotation and one item.

Prints p50, p90, p99 and max latency (ms), requests/s, the status counts, and the CPU time per request
of the server (all its processes: the figure to compare between versions when other work shares the
machine) and of this client (it shares the machine's cores).
Targets (issue 15): p50 <= 10 ms, p99 <= 50 ms at 8 concurrent clients, >= 300 requests/s on 2 cores.

Two ways to load the server:
- closed loop (default): each client sends its next request as soon as the last one is answered. This
  measures the most requests/s; the latency is then mostly queueing, by Little's law mean latency =
  clients / throughput (8 clients at 300 requests/s: ~27 ms whatever the server does), so the latency
  targets cannot be read off this mode.
- ``--rate R`` (open loop): requests are due at a fixed rate of R per second in total, spread over the
  clients; latency counts from the time a request was due (a request sent late because every client was
  busy counts its wait). ``--rate 300`` measures the latency targets at the throughput target.

    python benchmarks/bench_serve.py [--workers 2] [--clients 8] [--requests 2000] [--rate 300]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_REL = Path("shared") / "data" / "sec-company-names-2025-08" / "sec_company_names.csv"
# ../shared next to the repository (a worktree deeper down finds it further up)
NAMES = next((p / _REL for p in ROOT.parents if (p / _REL).exists()), ROOT.parent / _REL)
DESTS = ["DE", "FR", "JP", "GB", "CA", "NL", "KR", "AU", "CN", "IN"]
ITEMS = [{"description": "Laptop computer", "eccn": "5A992.c"}, {"description": "Office chair", "eccn": "EAR99"},
         {"description": "Oscilloscope", "eccn": "3A992.a"}]


def names() -> list[str]:
    with NAMES.open(encoding="utf-8", newline="") as fh:
        return [row["name"] for row in csv.DictReader(fh) if row.get("name")]


PARTIES = True  # --no-parties: shipments without parties


def bodies(n: int, offset: int = 0) -> list[bytes]:
    pool = names()
    out = []
    for i in range(n):
        a, b = pool[(2 * (i + offset)) % len(pool)], pool[(2 * (i + offset) + 1) % len(pool)]
        dest = DESTS[i % len(DESTS)]
        out.append(json.dumps({
            "id": f"SO-{i}", "destination": dest, "items": [ITEMS[i % len(ITEMS)]],
            "parties": [{"role": "consignee", "name": a, "country": dest},
                        {"role": "end_user", "name": b, "country": dest}] if PARTIES else []}).encode())
    return out


SERVER_ARGS: list[str] = []  # --group-wait-ms: passed on to `ecscreen serve`


def start(workers: int, record: bool, home: str, lists: bool = True) -> tuple[subprocess.Popen[bytes], int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), ECSCREEN_HOME=home)
    env.pop("ECSCREEN_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "ecscreen.cli.main", "serve", "--port", "0", "--no-access-log",
           "--workers", str(workers), *([] if record else ["--no-record"]), *([] if lists else ["--no-lists"]),
           *SERVER_ARGS]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    assert proc.stderr is not None
    port = None
    t0 = time.time()
    while port is None:
        line = proc.stderr.readline().decode()
        if not line:
            raise SystemExit(f"server exited: {proc.wait()}")
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
    ready = threading.Semaphore(0)

    def drain() -> None:  # the server's log: count the workers that finished loading
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            if b"Application startup complete" in raw:
                ready.release()
            elif b"on the event loop in" in raw:  # a worker's grouping figures, logged when it stops
                GROUPED.append(raw.decode(errors="replace").strip().split(": ", 2)[-1])

    threading.Thread(target=drain, daemon=True).start()
    # every worker loaded before the clients connect: a keep-alive connection stays with the worker that
    # accepted it, so connections made while one worker still loads all land on the other
    for _ in range(workers):
        if not ready.acquire(timeout=max(1.0, 300 - (time.time() - t0))):
            proc.terminate()
            raise SystemExit("the server's workers did not start in 300 s")
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.2)
        if time.time() - t0 > 300:
            proc.terminate()
            raise SystemExit("server did not start in 300 s")
    return proc, port


_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)
RECONNECTS = [0]  # connections the server ended with "connection: close" (its workers' balance), reopened


class RawConnection:
    """A keep-alive HTTP/1.1 connection that sends prepared requests in one ``sendall`` and reads each whole
    response (status line, headers, ``Content-Length`` bytes of body): what ``http.client`` does, at a
    fraction of its CPU (the client shares the machine's cores with the server it measures)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = f"127.0.0.1:{port}".encode()
        self.buf = b""
        self.ended = False  # the last response said "connection: close"

    def reopen(self) -> None:
        """A new connection in place of one the server ended (as an HTTP client's pool does)."""
        blocking = self.sock.getblocking()
        self.sock.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(blocking)
        self.buf = b""
        self.ended = False
        RECONNECTS[0] += 1

    def request(self, path: str, body: bytes) -> bytes:
        return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + self.host + b"\r\nAccept-Encoding: identity\r\n"
                b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request``; (status, body) of the response, read whole."""
        self.sock.sendall(request)
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += self._recv()
        head = buf[:end]
        m = _LENGTH.search(head)
        if m is None:
            raise ConnectionError(f"response without Content-Length: {head[:200]!r}")
        need = end + 4 + int(m.group(1))
        while len(buf) < need:
            buf += self._recv()
        self.buf = buf[need:]
        if _CLOSE.search(head):
            self.reopen()
        return int(head[9:12]), buf[end + 4:need]

    def send(self, request: bytes) -> None:
        """Send ``request`` (non-blocking socket: a request of a few hundred bytes fits the send buffer)."""
        view = memoryview(request)
        while view:
            try:
                view = view[self.sock.send(view):]
            except BlockingIOError:
                select.select([], [self.sock], [])

    def poll(self) -> int | None:
        """Read what has arrived (non-blocking socket): the status once a whole response is in, else None."""
        try:
            chunk = self.sock.recv(262144)
        except BlockingIOError:
            return None
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf = self.buf + chunk
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self.buf = buf
            return None
        head = buf[:end]
        m = _LENGTH.search(head)
        if m is None:
            raise ConnectionError(f"response without Content-Length: {head[:200]!r}")
        need = end + 4 + int(m.group(1))
        if len(buf) < need:
            self.buf = buf
            return None
        self.buf = buf[need:]
        self.ended = _CLOSE.search(head) is not None
        return int(head[9:12])

    def _recv(self) -> bytes:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


STDLIB_CLIENT = False  # --stdlib-client: http.client in threads, as before
THREADED_CLIENT = False  # --threaded-client: the raw sockets, one thread per client


def run(port: int, payloads: list[bytes], clients: int, rate: float = 0.0
        ) -> tuple[list[float], dict[int, int], float]:
    """Send ``payloads`` over ``clients`` keep-alive connections: closed loop, or due at ``rate`` per second."""
    stop = threading.Event()
    prober = threading.Thread(target=_probe, args=(port, stop))
    t0 = time.perf_counter()
    prober.start()
    try:
        if STDLIB_CLIENT or THREADED_CLIENT:
            lat, status = _run_threads(port, payloads, clients, rate)
        else:
            lat, status = _run_loop(port, payloads, clients, rate)
    finally:
        stop.set()
        prober.join()
    return lat, status, time.perf_counter() - t0


def _run_loop(port: int, payloads: list[bytes], clients: int, rate: float) -> tuple[list[float], dict[int, int]]:
    """The clients as one thread: ``clients`` keep-alive connections, each with at most one request
    outstanding (a closed loop per connection), driven by one ``epoll``/``select`` loop. A client is the
    connection, not a thread: each request is sent as soon as its connection is free (and, with ``rate``,
    the request due), its latency measured from then (or from its due time) to the last byte of its
    response. One thread spends less CPU than eight (no GIL hand-overs, one wake-up for every response ready
    at once), and the clients share the machine's cores with the server they measure."""
    import selectors

    conns = []
    for _ in range(min(clients, len(payloads))):
        # one at a time, each answered once before the next opens (as a client's connection pool grows): the
        # server's workers share one listening socket, and a worker drains every connection waiting when
        # it wakes, so eight connections opened at once can all land on one worker
        conns.append(RawConnection(port))
        conns[-1].exchange(b"GET /healthz HTTP/1.1\r\nHost: " + conns[-1].host + b"\r\n\r\n")
    requests = [conns[0].request("/v1/screen", p) for p in payloads]  # built before the clock starts
    sel = selectors.DefaultSelector()
    lat: list[float] = []
    status: dict[int, int] = {}
    sent_at: dict[int, float] = {}
    idle = list(range(len(conns)))
    nxt = 0
    start_at = time.perf_counter() + 0.05
    for k, c in enumerate(conns):
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, k)
    pending = 0
    while nxt < len(requests) or pending:
        now = time.perf_counter()
        while idle and nxt < len(requests):  # send what is due on the free connections
            if rate > 0:
                due = start_at + nxt / rate
                if due > now:
                    break
            else:
                due = time.perf_counter()
            k = idle.pop()
            conns[k].send(requests[nxt])
            sent_at[k] = due
            nxt += 1
            pending += 1
        timeout = None
        if idle and nxt < len(requests) and rate > 0:  # open loop: wake when the next request falls due
            timeout = max(0.0, start_at + nxt / rate - time.perf_counter())
        for key, _ in sel.select(timeout):
            k = key.data
            code = conns[k].poll()
            if code is None:
                continue
            lat.append(time.perf_counter() - sent_at[k])
            status[code] = status.get(code, 0) + 1
            if conns[k].ended:  # the server ended the connection after this response: open another
                sel.unregister(conns[k].sock)
                conns[k].reopen()
                sel.register(conns[k].sock, selectors.EVENT_READ, k)
            idle.append(k)
            pending -= 1
    sel.close()
    for c in conns:
        c.close()
    return lat, status


def _run_threads(port: int, payloads: list[bytes], clients: int, rate: float) -> tuple[list[float], dict[int, int]]:
    """One thread per client (``--threaded-client``: raw sockets; ``--stdlib-client``: ``http.client``)."""
    lat: list[float] = []
    status: dict[int, int] = {}
    lock = threading.Lock()
    nxt = iter(range(len(payloads)))
    start_at = time.perf_counter() + 0.05

    def raw_transport() -> tuple[Callable[[int], Callable[[], int]], Callable[[], None]]:
        conn = RawConnection(port)

        def prepare(i: int) -> Callable[[], int]:
            req = conn.request("/v1/screen", payloads[i])  # built before the clock starts
            return lambda: conn.exchange(req)[0]

        return prepare, conn.close

    def stdlib_transport() -> tuple[Callable[[int], Callable[[], int]], Callable[[], None]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        # http.client sends headers and body in two writes: without TCP_NODELAY, Nagle's algorithm and the
        # peer's delayed ACK add ~40 ms to every request (a client artefact, not the server's time)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def prepare(i: int) -> Callable[[], int]:
            def send() -> int:
                conn.request("POST", "/v1/screen", body=payloads[i], headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                return r.status
            return send

        return prepare, conn.close

    def client() -> None:
        prepare, close = stdlib_transport() if STDLIB_CLIENT else raw_transport()
        mine: list[float] = []
        codes: dict[int, int] = {}
        while True:
            with lock:
                i = next(nxt, None)
            if i is None:
                break
            send = prepare(i)
            t = time.perf_counter()
            if rate > 0:
                due = start_at + i / rate
                if due > t:
                    time.sleep(due - t)
                t = due
            code = send()
            mine.append(time.perf_counter() - t)
            codes[code] = codes.get(code, 0) + 1
        close()
        with lock:
            lat.extend(mine)
            for k, v in codes.items():
                status[k] = status.get(k, 0) + v

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, status


def _probe(port: int, stop: threading.Event) -> None:
    """Is the event loop free while screenings run? /healthz every 50 ms (its own connection and thread)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    mine = conn.sock.getsockname()[1]
    if not stop.wait(0.5):
        SPLIT[:] = connections_by_process(port, mine)
    last = time.perf_counter()
    while not stop.wait(0.05):
        if time.perf_counter() - last > 2:  # the split as it settles (the workers' balance moves connections)
            SPLIT[:] = connections_by_process(port, mine) or SPLIT
            last = time.perf_counter()
        t = time.perf_counter()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        HEALTH.append(time.perf_counter() - t)
    conn.close()


HEALTH: list[float] = []
GROUPED: list[str] = []  # per worker: requests screened together on its event loop (warm-up runs included)
SPLIT: list[int] = []  # the clients' connections per server process (not the probe's), sampled in the measured run


def connections_by_process(port: int, probe: int = 0) -> list[int]:
    """Established connections the server's processes hold on ``port`` (Linux ``ss``; [] elsewhere): with
    several workers, the kernel hands each new connection to whichever worker accepts first, and a
    keep-alive client stays with it. ``probe``: the /healthz probe's local port, whose connection is counted
    apart (``PROBE_AT``: the index, in the returned order, of the process holding it)."""
    try:
        out = subprocess.run(["ss", "-Htnp", "state", "established", f"( sport = :{port} )"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    per: dict[str, int] = {}
    probe_pid = None
    for line in out.splitlines():
        m = re.search(r"pid=(\d+)", line)
        if not m:
            continue
        if probe and re.search(rf":{probe}\s", line):
            probe_pid = m.group(1)
            per.setdefault(m.group(1), 0)
            continue
        per[m.group(1)] = per.get(m.group(1), 0) + 1
    order = sorted(per, key=lambda p: per[p], reverse=True)
    PROBE_AT[:] = [order.index(probe_pid)] if probe_pid in order else []
    return [per[p] for p in order]


PROBE_AT: list[int] = []


def _tree(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for k in kids:
            out += _tree(int(k))
    return out


def cpu_by_process(pid: int, system: bool = True) -> dict[int, float]:
    """User + system CPU seconds of the server and each of its processes (Linux /proc; {} elsewhere);
    ``system=False``: the system (kernel) part only."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[p] = ((int(fields[11]) if system else 0) + int(fields[12])) / tick
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server and its worker processes (Linux /proc; 0 elsewhere)."""
    return sum(cpu_by_process(pid).values())


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--rate", type=float, default=0.0, help="open loop: requests due per second in total "
                    "(default 0: closed loop, each client sends as soon as answered)")
    ap.add_argument("--no-record", action="store_true", help="serve with --no-record (default: every "
                    "screening recorded in a fresh SQLite store, as the service does by default)")
    ap.add_argument("--stdlib-client", action="store_true", help="clients use http.client, one thread each "
                    "(default: one thread driving every client's raw socket, sending the same HTTP/1.1 requests at "
                    "less CPU; all read whole responses)")
    ap.add_argument("--threaded-client", action="store_true", help="one thread per client on raw sockets (the "
                    "default before: more client CPU than one thread for all)")
    ap.add_argument("--no-lists", action="store_true", help="serve with --no-lists: no party screening, so the "
                    "figures are mostly the service's own cost per request (HTTP, parsing, recording)")
    ap.add_argument("--no-parties", action="store_true", help="shipments without parties: no name matching at all "
                    "(neither the lists nor the packs' names lists), so the figures are the service's own cost per "
                    "request (HTTP, parsing, the rules, recording, the report)")
    ap.add_argument("--group-wait-ms", type=float, default=None, help="the server's --group-wait-ms (default: "
                    "its default, 0.6): how long a group of requests may wait for connections expected back at once")
    a = ap.parse_args()
    if a.group_wait_ms is not None:
        SERVER_ARGS[:] = ["--group-wait-ms", str(a.group_wait_ms)]
    global STDLIB_CLIENT, THREADED_CLIENT, PARTIES
    STDLIB_CLIENT = a.stdlib_client
    THREADED_CLIENT = a.threaded_client
    PARTIES = not a.no_parties
    if not NAMES.exists():
        raise SystemExit(f"missing {NAMES}")
    import shutil
    import tempfile

    home = tempfile.mkdtemp(prefix="bench-serve-")  # a fresh list store and record store
    proc, port = start(a.workers, not a.no_record, home, lists=not a.no_lists)
    try:
        run(port, bodies(a.warmup, offset=3000), a.clients)  # other names than the measured ones
        payloads = bodies(a.requests)
        HEALTH.clear()
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        per0 = cpu_by_process(proc.pid)
        sys0 = sum(cpu_by_process(proc.pid, system=False).values())
        own0 = time.process_time()
        RECONNECTS[0] = 0
        lat, status, secs = run(port, payloads, a.clients, a.rate)
        reconnects = RECONNECTS[0]
        own = time.process_time() - own0
        per_proc = {p: c - per0.get(p, 0.0) for p, c in cpu_by_process(proc.pid).items()}
        cpu = sum(per_proc.values())
        kernel = sum(cpu_by_process(proc.pid, system=False).values()) - sys0
        health = list(HEALTH)
        split = list(SPLIT)
        probe_at = list(PROBE_AT)
        one, _, _ = run(port, bodies(200, offset=a.requests), 1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        time.sleep(0.2)  # the log's last lines
        shutil.rmtree(home, ignore_errors=True)
    print(f"serve benchmark: {a.requests} requests (one shipment, two parties, real SEC company names), "
          f"{a.clients} concurrent clients, {a.workers} worker process(es), "
          f"{'not recorded' if a.no_record else 'every screening recorded (SQLite)'}, "
          f"{'no party screening (--no-lists), ' if a.no_lists else ''}"
          f"{'shipments without parties (--no-parties), ' if a.no_parties else ''}"
          f"{os.cpu_count()} cores, " + (f"server {' '.join(SERVER_ARGS)}, " if SERVER_ARGS else "") + (f"open loop at {a.rate:g} requests/s due" if a.rate > 0 else
                                         "closed loop (each client sends when answered)"))
    print(f"  status: {dict(sorted(status.items()))}")
    print(f"  latency ms: p50 {pct(lat, 50):.1f}  p90 {pct(lat, 90):.1f}  p99 {pct(lat, 99):.1f}  "
          f"max {max(lat) * 1000:.1f}")
    print(f"  throughput: {len(lat) / secs:.0f} requests/s ({secs:.1f} s)"
          + ("" if a.rate > 0 else f"; Little's law: {a.clients} clients / {len(lat) / secs:.0f} requests/s = "
             f"{a.clients / (len(lat) / secs) * 1000:.1f} ms mean latency (mean measured "
             f"{sum(lat) / len(lat) * 1000:.1f} ms)"))
    if health:
        print(f"  /healthz during the load ({len(health)} probes): p50 {pct(health, 50):.1f} ms  "
              f"p99 {pct(health, 99):.1f} ms (the event loop is not blocked by screenings)")
    cores = os.cpu_count() or 1
    if cpu > 0:
        per = cpu / len(lat) * 1000
        print(f"  server CPU: {per:.2f} ms per request (all its processes; {kernel / len(lat) * 1000:.2f} ms of it "
              f"in the kernel) -> at most {cores * 1000 / per:.0f} requests/s on {cores} dedicated cores")
        busy = sorted((c for c in per_proc.values() if c > 0.05 * cpu), reverse=True)
        print("  server CPU by process (s, busiest first): " + ", ".join(f"{c:.1f}" for c in busy)
              + (f"; the clients' connections per process (last sampled): {split}"
                 + (f", the /healthz probe's on process {probe_at[0] + 1}" if probe_at else "") if split else "")
              + f"; connections ended by the server (balance) and reopened by the clients: {reconnects}")
    kind = (f"{a.clients} threads, http.client" if a.stdlib_client else f"{a.clients} threads, raw sockets"
            if a.threaded_client else f"one thread, {a.clients} raw sockets")
    print(f"  client CPU (this process: {kind}; and the /healthz probe): {own / len(lat) * 1000:.2f} ms per request")
    print(f"  machine load average (1 min) when the run started: {load:.1f} (other processes share the cores)")
    for line in GROUPED:
        # warm-up, measured run and the one-client run together (the last: 200 groups of one in one worker)
        print(f"  server worker (all its runs): {line}")
    print(f"  one client at a time (200 requests): p50 {pct(one, 50):.1f} ms  p99 {pct(one, 99):.1f} ms")
    print("  targets: p50 <= 10 ms, p99 <= 50 ms, >= 300 requests/s")


if __name__ == "__main__":
    main()
