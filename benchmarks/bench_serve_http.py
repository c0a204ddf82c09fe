"""The HTTP layer of `ecscreen serve` alone: server CPU per request of uvicorn with the service's settings
(``ecscreen.cli.serve.uvicorn_options``: the httptools protocol of ``ecscreen.service.http``, no access log, the
listening socket of ``ecscreen serve``) answering POST /v1/screen-sized requests from a trivial ASGI app.

The app reads the body and answers a fixed body of the size of a one-shipment report (~10 kB) with the
service's headers, so what the server's process spends is HTTP parsing, the ASGI hand-over, the response's
writing and the kernel's socket work: the part of bench_serve's "server CPU per request" that is neither the
screening nor the service's own code (compare ``bench_serve_asgi.py``, the service's ASGI app in-process).
The clients are bench_serve's (one thread, raw sockets, keep-alive), with bench_serve's bodies.

    python benchmarks/bench_serve_http.py [--clients 8] [--requests 1200] [--runs 3] [--rate 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_serve  # noqa: E402

BODY = b'{"decision":"clear","results":[' + b'"' + b"x" * 10400 + b'"]}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the body, answer BODY with the headers /v1/screen sends."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"x-ecscreen-decision", b"clear"), (b"x-ecscreen-exit-code", b"0"), (b"x-ecscreen-record-ids", b"12345"),
        (b"content-length", str(len(BODY)).encode()), (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


SERVER = """
import sys
sys.path.insert(0, {bench!r})
import uvicorn
from ecscreen.cli.serve import _bind, uvicorn_options
sock = _bind("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config("bench_serve_http:app", **uvicorn_options(False))).run(sockets=[sock])
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=1200, help="per run (at --rate 300: 4 s, within uvicorn's 5 s keep-alive timeout for the connections the clients leave idle)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rate", type=float, default=300.0, help="requests due per second in total (bench_serve's open "
                    "loop; the issue's throughput target by default: each request then wakes the server on its own, "
                    "as in bench_serve, where the screening takes the time); 0: closed loop (requests come in "
                    "bursts, the server handles several per wake-up: less CPU per request)")
    a = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"uvicorn with the service's settings, a trivial ASGI app ({len(BODY)}-byte responses), "
          f"{a.clients} clients, {a.requests} requests per run, "
          + (f"{a.rate:g} requests/s due" if a.rate > 0 else "closed loop") + f"; load average {load:.1f} at the start")
    for _ in range(a.runs):  # a server per run (at a low rate, connections left idle reach uvicorn's keep-alive timeout)
        per, rate = _run(a)
        print(f"  server CPU {per:.3f} ms per request (user + system), {rate:.0f} requests/s")


def _run(a: argparse.Namespace) -> tuple[float, float]:
    """One run on a new server: (its CPU ms per request, requests/s)."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(bench=str(Path(__file__).resolve().parent))],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    try:
        port = int(proc.stdout.readline())
        time.sleep(1.0)
        bench_serve.run(port, bench_serve.bodies(300, offset=3000), a.clients)  # warm-up
        c0 = bench_serve.cpu_seconds(proc.pid)
        lat, _, secs = bench_serve.run(port, bench_serve.bodies(a.requests), a.clients, a.rate)
        return (bench_serve.cpu_seconds(proc.pid) - c0) / len(lat) * 1000, len(lat) / secs
    finally:
        proc.terminate()
        proc.wait(timeout=30)

if __name__ == "__main__":
    main()
