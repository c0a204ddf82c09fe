"""`ecscreen serve`'s CPU per one-shipment request through its whole ASGI app, in-process (no sockets, no uvicorn).

Loads the service as ``ecscreen serve`` does (embedded lists, records in a fresh SQLite store), starts the app's
lifespan, and sends it bench_serve's POST /v1/screen bodies (real SEC company names, two parties) straight
through the ASGI interface, ``--group`` requests at a time (sent together, so they are screened as one group on
the event loop, as under load), with the responses read whole. Prints the process CPU per request for
requests whose names are first seen (party matching included) and for the same requests again (their names'
hits cached: what is left is mostly the service's own cost outside party matching: parsing, the rules, the
record, the report's JSON, the response). ``--profile`` prints a cProfile of the second pass (the functions
with the most own time and cumulative time), ``--out FILE`` writes every response body (record ids masked) to
compare versions.

    python benchmarks/bench_serve_asgi.py [--requests 1000] [--group 2] [--profile] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import bench_serve  # noqa: E402

from ecscreen.service import app as service  # noqa: E402
from ecscreen.service.config import ServiceConfig  # noqa: E402
from ecscreen.service.state import StateHolder  # noqa: E402

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


async def call(app: Any, body: bytes, port: int, query: bytes = b"") -> Answer:
    """POST /v1/screen ``body`` to ``app``: (status, headers, body)."""
    out: list[Any] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(msg: dict[str, Any]) -> None:
        out.append(msg)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/screen", "raw_path": b"/v1/screen", "query_string": query,
             "root_path": "", "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                                          (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", port), "server": ("127.0.0.1", 8000), "state": {}}
    await app(scope, receive, send)
    start = next(m for m in out if m["type"] == "http.response.start")
    return start["status"], list(start["headers"]), b"".join(m.get("body", b"") for m in out
                                                             if m["type"] == "http.response.body")


async def drive(app: Any, bodies: list[bytes], group: int, answers: list[Answer] | None = None) -> float:
    """Send ``bodies`` ``group`` at a time (each from its own client port); the process CPU seconds."""
    t0 = time.process_time()
    for i in range(0, len(bodies), group):
        got = await asyncio.gather(*(call(app, b, 40000 + k) for k, b in enumerate(bodies[i:i + group])))
        if answers is not None:
            answers += got
    return time.process_time() - t0


def masked(answer: Answer) -> str:
    """A response as text, with what differs between runs (record ids) masked."""
    status, headers, body = answer
    text = re.sub(rb'"record_ids":\[[0-9,]*\]', b'"record_ids":[N]', body).decode()
    hdrs = sorted((k.decode(), re.sub(r"\d+", "N", v.decode()) if k == b"x-ecscreen-record-ids" else v.decode())
                  for k, v in headers)
    return json.dumps([status, hdrs, text], ensure_ascii=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--group", type=int, default=2, help="requests sent together (screened as one group)")
    ap.add_argument("--profile", action="store_true", help="cProfile the second pass (names seen before)")
    ap.add_argument("--out", help="write every response (record ids masked), one JSON line each")
    a = ap.parse_args()
    home = tempfile.mkdtemp(prefix="bench-asgi-")  # a fresh record store, removed at the end
    cfg = ServiceConfig(home=home, record=True, reload_interval=0)
    holder = StateHolder.load(cfg)
    app = service.create_app(cfg, holder)
    bodies = bench_serve.bodies(a.requests)

    async def go() -> None:
        async with app.router.lifespan_context(app):
            await drive(app, bench_serve.bodies(300, offset=3000), a.group)  # warm-up, other names
            answers: list[Answer] = []
            first = await drive(app, bodies, a.group, answers)
            prof = cProfile.Profile() if a.profile else None
            if prof is not None:
                prof.enable()
            again = await drive(app, bodies, a.group)
            if prof is not None:
                prof.disable()
            print(f"serve in-process (ASGI, no sockets): {a.requests} one-shipment requests with two parties, "
                  f"{a.group} per group, recorded in SQLite")
            print(f"  names first seen:  {first / a.requests * 1000:.3f} ms CPU per request")
            print(f"  names seen before: {again / a.requests * 1000:.3f} ms CPU per request"
                  + (" (under cProfile)" if prof is not None else ""))
            if a.out:
                Path(a.out).write_text("".join(masked(x) + "\n" for x in answers), encoding="utf-8")
            if prof is not None:
                for key in ("tottime", "cumulative"):
                    s = io.StringIO()
                    pstats.Stats(prof, stream=s).sort_stats(key).print_stats(45)
                    print(s.getvalue())

    try:
        asyncio.run(go())
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
