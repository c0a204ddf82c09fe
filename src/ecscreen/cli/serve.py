"""``ecscreen serve``: run the screening service (FastAPI + uvicorn) on HOST:PORT.

This is the layer that reads the environment (``ECSCREEN_API_TOKEN``) and the options; it builds a
:class:`~ecscreen.service.ServiceConfig`, refuses unsafe ones (a non-loopback address without a token),
loads packs and lists once, binds the socket itself and prints one line ``ecscreen serve: listening on
http://HOST:PORT`` on stderr before serving (``--port 0`` picks a free port, named in that line).
With ``--workers N`` each worker process loads its own copy and the kernel spreads connections over them.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ecscreen.cli.options import NoRecordOpt, PolicyOpt, RulesOnlyOpt, RulesOpt, check_policy
from ecscreen.errors import UsageError


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to bind. Anything but loopback needs "
                                      "ECSCREEN_API_TOKEN (the service refuses to start without it).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (0: a free one, printed on start).")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Processes, each screening one request at a time "
                                         "(each loads packs and lists, ~0.5 GB): the number of cores for "
                                         "throughput.")] = 1,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds a request may wait and screen before it "
                                           "is answered 503 (waited) or 504 (screened too long).")] = 30.0,
    max_body: Annotated[int, typer.Option("--max-body", help="Largest request body in bytes (413 above).")
                        ] = 1024 * 1024,
    rules: RulesOpt = None,
    rules_only: RulesOnlyOpt = None,
    no_lists: Annotated[bool, typer.Option("--no-lists", help="Do not screen parties against "
                                           "restricted-party lists.")] = False,
    clearances: Annotated[Path | None, typer.Option("--clearances", help="Allow-list of cleared (party, "
                                                    "list entry) pairs (default: $ECSCREEN_CLEARANCES).")] = None,
    policy: PolicyOpt = "enforced",
    reload_interval: Annotated[float, typer.Option("--reload-interval", help="Seconds between checks of the "
                                                   "list store for updated lists (0: never reload).")] = 2.0,
    no_record: NoRecordOpt = False,
    group_wait_ms: Annotated[float, typer.Option("--group-wait-ms", help="Milliseconds a group of small requests "
                                                 "may wait for keep-alive connections that usually send again at "
                                                 "once (their names are then matched together: less CPU per "
                                                 "request under load); 0: never wait.")] = 0.6,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log every request "
                                             "(method, path, status) on stderr.")] = True,
) -> None:
    """Serve screening over HTTP: POST /v1/screen, /v1/parties/search, /v1/reviews/ID/decisions; GET
    /v1/explain/ECCN/DEST, /v1/lists, /v1/records/ID, /healthz, /readyz; OpenAPI at /docs.

    Every screening is recorded (source api:CLIENT, from the X-Ecscreen-Client header or the peer address)
    unless --no-record; review decisions recorded here or with 'ecscreen review decide' apply to later
    requests.

    Binds 127.0.0.1 by default. Set ECSCREEN_API_TOKEN to require 'Authorization: Bearer TOKEN' on every
    route except /healthz and /readyz (required to bind any other address).

    Example: ECSCREEN_API_TOKEN=$(openssl rand -hex 32) ecscreen serve --host 0.0.0.0 --port 8080 --workers 2
    """
    from ecscreen.cli.options import ecscreen_home
    from ecscreen.service.config import CONFIG_ENV, DATABASE_ENV, TOKEN_ENV, ServiceConfig

    if clearances is not None and not clearances.is_file():
        raise UsageError("clearances file not found", file=str(clearances))
    cfg = ServiceConfig(host=host, port=port, token=os.environ.get(TOKEN_ENV) or None, max_body=max_body,
                        timeout=timeout, rules=[str(p) for p in rules or []],
                        rules_only=[str(p) for p in rules_only or []], no_lists=no_lists,
                        clearances=str(clearances) if clearances else None, policy=check_policy(policy),
                        reload_interval=reload_interval, workers=workers, record=not no_record,
                        database_url=os.environ.get(DATABASE_ENV) or None, home=str(ecscreen_home()),
                        group_wait=group_wait_ms / 1000)
    cfg.check()
    if cfg.record:  # open (and migrate) the record store once here: a bad URL stops before serving
        from ecscreen.records import RecordStore

        try:
            RecordStore.open(url=cfg.database_url, home=cfg.home).close()
        except UsageError as exc:
            exc.message += " (use --no-record to serve without recording)"
            raise
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s", stream=sys.stderr)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    auth = "bearer token required" if cfg.token else "no token: loopback only"
    common = uvicorn_options(access_log)
    if workers == 1:
        from ecscreen.service import create_app
        from ecscreen.service.state import StateHolder

        sys.stderr.write("ecscreen serve: loading packs and lists...\n")
        app = create_app(cfg, StateHolder.load(cfg))
        config = uvicorn.Config(app, **common)  # type: ignore[arg-type]
        sys.stderr.write(f"ecscreen serve: listening on http://{shown}:{bound} ({auth})\n")
        sys.stderr.flush()
        uvicorn.Server(config).run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    from ecscreen.service.balance import create_file

    # the workers' connection counts: a worker holding more keep-alive connections than another ends one
    cfg.balance_file = create_file(workers)
    os.environ[CONFIG_ENV] = cfg.to_env()  # the workers (spawned processes) read it
    config = uvicorn.Config("ecscreen.service.app:app_from_env", factory=True, workers=workers,
                            timeout_worker_healthcheck=60, **common)  # type: ignore[arg-type]
    sys.stderr.write(f"ecscreen serve: listening on http://{shown}:{bound} ({auth}, {workers} workers "
                     "loading packs and lists)\n")
    sys.stderr.flush()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if cfg.balance_file:
            Path(cfg.balance_file).unlink(missing_ok=True)


def uvicorn_options(access_log: bool) -> dict[str, Any]:
    """The uvicorn settings of every worker. ``http``: uvicorn's httptools protocol sending each response's
    head and body in one write (ecscreen.service.http)."""
    from ecscreen.service.http import PROTOCOL

    return {"log_level": "info", "access_log": access_log, "timeout_graceful_shutdown": 10,
            "server_header": False, "proxy_headers": False, "http": PROTOCOL}


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit TCP_NODELAY: without it the response body waits behind its headers for
    # the client's delayed ACK (~40 ms per request on Linux loopback)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot bind {host}:{port}: {exc.strerror or exc}", field="--port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
