"""The FastAPI app: routes, authentication, body limits, timeouts and error responses.

Every response body is JSON written by this module; an unexpected exception is answered with a one-line
500 (its type, never a traceback: the traceback goes to the server log). Screening runs in a worker
thread so the event loop keeps accepting, answering health checks and timing out requests while a
screening runs; a request that waits longer than ``timeout`` seconds for its turn is answered 503, one whose screening runs longer 504 (its result is discarded). A process screens one request
at a time (the core's working state is per process, see ``SCREEN_LOCK``); ``--workers N`` runs N processes.

The one-shipment request an ERP sends per order (a body of at most ``INLINE_BODY`` bytes) is screened and
recorded (SQLite) on the event loop itself when the process is idle: a screening of a few milliseconds
then costs no hand-over to a thread and back, and no wait for the GIL (a thread that wants it waits up
to the 5 ms switch interval while another runs Python). Anything larger, or arriving while a screening
runs in the thread, queues for the thread as above (so the timeouts apply to it). The requests whose turn
comes in the same pass of the loop are screened as a group (``_LoopGroup``): their party names are matched
together first (``service.prefetch``: ~0.3 ms less CPU per request in twos, ~0.6 ms in fours, with
first-seen names), then each is screened as it would be alone. A group may wait a moment (``--group-wait-ms``,
at most 0.6 ms) for keep-alive connections that usually send their next request right after their answer
(a client's pool under load), so that it is bigger. Their records are appended together, in one SQLite
transaction, before any of them is answered (``recording.LoopBatch``: group commit without a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import hmac
import itertools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ecscreen import __version__
from ecscreen.errors import EcscreenError, InputFileError
from ecscreen.records.recorder import result_record, run_manifest
from ecscreen.service import balance
from ecscreen.service.config import DEFAULT_GROUP_WAIT, ServiceConfig
from ecscreen.service.inputs import REQUEST_FILE, error_doc, parse_body, pointer, shipment_docs
from ecscreen.service.recording import GroupRecorder, LoopBatch
from ecscreen.service.state import SCREEN_LOCK, ScreeningState, StateHolder
from ecscreen.settings import Settings

log = logging.getLogger("ecscreen.service")

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
T = TypeVar("T")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _json(status: int, doc: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


FastScreen = Callable[[Scope, bytes], Awaitable[Response | None]]


class _Guard:
    """Pure ASGI middleware (no per-request task overhead): bearer token and request body size.

    The token is compared with :func:`hmac.compare_digest` (constant time). Bodies are read here, counted
    and refused with 413 as soon as they pass ``max_body`` (whatever Content-Length claims), then handed
    on to the app. ``POST /v1/screen`` with no query or a plain ``as_of`` date is answered here by
    ``fast_screen`` (the route's own code, without FastAPI's routing, dependency and exception layers:
    ~10 % of the server's CPU per one-shipment request); anything else goes through FastAPI."""

    def __init__(self, app: ASGIApp, *, token: str | None, max_body: int, fast_screen: FastScreen | None = None
                 ) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.max_body = max_body
        self.fast_screen = fast_screen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        why = self._unauthorized(scope)
        if why is not None:
            await _json(401, {"error": f"unauthorized: {why} (send 'Authorization: Bearer <token>')"},
                        {"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            if scope["path"] == "/healthz" and scope["method"] == "GET":
                # the route's answer without FastAPI's layers (~0.3 ms): load balancers and monitors poll it
                await _healthz()(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        declared = self._declared_length(scope)
        if declared == "invalid":
            await _json(400, {"error": "invalid Content-Length"})(scope, receive, send)
            return
        if declared == "too large":
            await self._too_large(scope, receive, send)
            return
        body = await self._read_body(receive)
        if body is None:  # the client went away
            return
        if body is False:
            await self._too_large(scope, receive, send)
            return
        if self.fast_screen is not None and scope["path"] == "/v1/screen" and scope["method"] == "POST":
            try:
                resp = await self.fast_screen(scope, body)
            except Exception as exc:  # what FastAPI's error handler answers on the route: no traceback
                log.exception("internal error on POST /v1/screen")
                resp = _internal_error(exc)
            if resp is not None:
                await resp(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _unauthorized(self, scope: Scope) -> str | None:
        """Why the request may not pass (None: it may): every route but health needs the bearer token."""
        if self.expected is None or scope["path"] in PUBLIC_PATHS:
            return None
        given = b""
        for k, v in scope["headers"]:
            if k == b"authorization":
                given = v
                break
        if hmac.compare_digest(given, self.expected):
            return None
        return "missing bearer token" if not given else "invalid bearer token"

    def _declared_length(self, scope: Scope) -> str | None:
        """'invalid' or 'too large' when the Content-Length header says so before the body is read."""
        for k, v in scope["headers"]:
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    return "invalid"
                if declared > self.max_body:
                    return "too large"
        return None

    async def _read_body(self, receive: Receive) -> bytes | None | Literal[False]:
        """The whole body, counted as it arrives: None when the client disconnected, False past the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return None
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return False
            chunks.append(chunk)
            if not msg.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _json(413, {"error": f"request body larger than {self.max_body} bytes (--max-body): "
                                   "split the shipments over several requests"},
                    {"Connection": "close"})(scope, receive, send)


class _Service(FastAPI):
    """FastAPI with ``front`` (the :class:`_Guard`) in front of everything it serves."""

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
        else:
            await self.front(scope, receive, send)


class _Timeout(Exception):
    def __init__(self, started: bool) -> None:
        super().__init__("timeout")
        self.started = started


# ------------------------------------------------------------------------------------------ request models


class PartyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Party name as it appears on the order")
    country: str | None = Field(default=None, description="ISO code or English name")
    address: str | None = None
    role: str = Field(default="other", description="consignee, end_user, intermediate_consignee, purchaser, other")


class PartySearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parties: list[PartyQuery] = Field(min_length=1, max_length=1000)
    as_of: dt.date | None = Field(default=None, description="Date for clearances and list age (default today)")
    limit: int = Field(default=5, ge=1, le=50, description="Most hits per party")


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    finding: str = Field(min_length=1, description="Rule id of the finding (e.g. PARTY-EL)")
    decision: str = Field(pattern="^(cleared|confirmed|escalated)$",
                          description="cleared (a cleared party hit becomes a clearance for later screenings), "
                                      "confirmed (a true match; withdraws a clearance) or escalated (stays open)")
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: dt.date | None = Field(default=None, description="A clearance stops covering the hit after this date")
    party: str | None = Field(default=None, description="The party (name or index) when the record has the "
                                                        "finding for several parties")
    entry: str | None = Field(default=None, description="A list entry id, when several findings share the rule id")


def _shipment_body_schema() -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "description": "One shipment, a list of shipments, or {\"shipments\": [...]} (the `ecscreen check` "
                       "file format; JSON Schema: `ecscreen schema shipment`)",
        "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}}}}}


# ------------------------------------------------------------------------------------------ the app


def create_app(cfg: ServiceConfig, holder: StateHolder | None = None) -> FastAPI:
    """The service for ``cfg``. ``holder`` is the loaded screener (``StateHolder.load(cfg)``); given
    explicitly so that the caller decides when packs and lists load (once, before the first request)."""
    holder = holder if holder is not None else StateHolder.load(cfg)
    limiter_box: dict[str, anyio.CapacityLimiter] = {}
    recorder_box: dict[str, GroupRecorder] = {}
    batch_box: dict[str, LoopBatch] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter_box["l"] = anyio.CapacityLimiter(1)  # one screening at a time per process (SCREEN_LOCK)
        if holder.store is not None:
            recorder_box["r"] = GroupRecorder(holder.store)
            if holder.store.dialect == "sqlite":
                batch_box["b"] = LoopBatch(holder.store, lambda: recorder_box.get("r"))
        holder.on_swap = lambda: HEAP.settle(reload=True)
        HEAP.settle()  # packs, lists and index are loaded: out of the cyclic GC's way
        holder.start()
        if cfg.balance_file:  # a worker of several: its connection count, shared with the others
            try:
                balance.CURRENT = balance.Balance(cfg.balance_file)
            except (OSError, RuntimeError, ValueError) as exc:  # serve on, without the balance
                log.warning("connection balance between workers off: %s", exc)
        try:
            yield
        finally:
            g = app.state.loop_group
            if g.requests:  # how many requests were screened together on the event loop (bench_serve reads it)
                # uvicorn's logger: the one a worker process has a handler for (bench_serve reads the line)
                logging.getLogger("uvicorn.error").info(
                    "screened %d requests on the event loop in %d groups (%.2f per group; %d names matched ahead "
                    "together; %d groups held back for connections expected, %d requests joined them)",
                    g.requests, g.runs, g.requests / g.runs, g.warmed, g.holds, g.held_requests)
            if balance.CURRENT is not None:
                balance.CURRENT.close()
                balance.CURRENT = None
            if "b" in batch_box:
                batch_box.pop("b").flush(final=True)
            if "r" in recorder_box:
                recorder_box.pop("r").stop()
            holder.stop()

    app = _Service(title="ecscreen", version=__version__, lifespan=lifespan, debug=False, docs_url=None,
                  redoc_url=None, description="Export-control screening with explained findings (the `ecscreen check` core over "
                              "HTTP). Every route except /healthz and /readyz needs `Authorization: Bearer "
                              "<ECSCREEN_API_TOKEN>` when the service has a token.")
    app.state.holder = holder
    app.state.cfg = cfg
    run = _Runner(cfg, limiter_box)
    record = _recorder_call(recorder_box)
    group = app.state.loop_group = _LoopGroup(holder, run, cfg.group_wait)
    screen = _screen_call(holder, run, record, batch_box, group)

    async def fast_screen(scope: Scope, raw: bytes) -> Response | None:
        as_of = _plain_as_of(scope.get("query_string", b""))
        if as_of is False:
            return None  # another query: FastAPI validates it
        try:
            return await screen(raw, as_of, _client_of(scope), scope.get("client"))
        except _Timeout as exc:
            return _timeout_response(cfg, exc)

    async def fastapi(scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(app, scope, receive, send)

    # the guard is the outermost layer, in front of Starlette's middleware stack (error, telemetry and
    # body-limit middlewares cost ~0.1 ms per request on the fast path); it answers unexpected errors itself
    app.front = _Guard(fastapi, token=cfg.token, max_body=cfg.max_body, fast_screen=fast_screen)
    _add_error_handlers(app, cfg)
    _add_health_routes(app, holder)
    _add_v1_routes(app, holder, run, screen)
    _add_docs_routes(app)
    return app


# Swagger UI from the swagger-ui-bundle-v2 package (its files, served here): /docs loads nothing from
# another host, so it works on machines without internet access and leaks no visit to a CDN
DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
               "favicon-32x32.png": "image/png"}


def _add_docs_routes(app: FastAPI) -> None:
    from fastapi.openapi.docs import get_swagger_ui_html

    assets: dict[str, bytes] = {}

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - API",
                                   swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
                                   swagger_favicon_url=f"{root}/docs/assets/favicon-32x32.png",
                                   # Swagger UI's default sends the spec to validator.swagger.io
                                   swagger_ui_parameters={"validatorUrl": None})

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        media = DOCS_ASSETS.get(name)
        if media is None:
            return _json(404, {"error": f"no such file: {name}"})
        if name not in assets:
            from swagger_ui_bundle import swagger_ui_path

            assets[name] = (swagger_ui_path / name).read_bytes()
        return Response(content=assets[name], media_type=media, headers={"Cache-Control": "public, max-age=86400"})


Run = Callable[[Callable[[], Any]], Awaitable[Any]]
Record = Callable[[list[Any]], Awaitable[list[int]]]
Screen = Callable[..., Awaitable[Response]]


def _plain_as_of(query: bytes) -> dt.date | None | Literal[False]:
    """The ``as_of`` of a ``/v1/screen`` query string: None without a query, the date for exactly
    ``as_of=YYYY-MM-DD``, False for anything else (FastAPI's validation then answers it)."""
    if not query:
        return None
    if not query.startswith(b"as_of=") or len(query) != 16:
        return False
    try:
        return dt.date.fromisoformat(query[6:].decode("ascii"))
    except ValueError:
        return False


MANIFESTS_KEPT = 64  # run manifests memoised per loaded state (one per as_of date requested)
INLINE_BODY = 4096  # bytes: a body this small (one shipment, a few parties) screens in milliseconds


class _Heap:
    """Cyclic GC for a long-running worker. The loaded packs, lists and index, and the matcher's caches
    that fill as requests come (~160 tracked objects survive a first-seen request, up to its cache bounds),
    live as long as the process; a full (generation 2) pass scans all of them, and it fell due every ~300
    requests: 0.2-0.5 s pauses, most of the p99. After loading (``settle``) and then between requests the
    survivors are moved out of the collector's generations (``gc.freeze``): a full pass then scans only what
    came since. Every ``young`` requests (``tick``) the youngest generation is collected and what survives
    frozen, so a survivor is scanned once (by a generation-0 pass), not again by a generation-1 pass (every
    ten generation-0 passes, ~45 requests): the collector's time per request with two parties halves (0.11 ->
    0.06 ms, bench_serve_split). Every ``every`` requests generations 0 and 1 are collected before the
    freeze, so cyclic garbage that reached generation 1 is freed too. Requests leave almost no cyclic garbage
    (0 unreachable objects found in 2,000 screened requests after the first thousand), which is all a frozen
    object could keep alive; reference counting still frees everything else. A reload
    (``settle(reload=True)``) first collects the lot, so the replaced state's cycles are freed.

    Between the ticks the collector's own generation-0 passes (every 700 allocations less deallocations by
    default: ~250 per 1,000 first-seen requests) scanned the same young objects the tick then scans again;
    ``settle`` raises that threshold to ``YOUNG_THRESHOLD`` (~35 passes per 1,000 requests, nearly all the
    ticks'): 0.062 -> 0.042 ms of collector time per request (under load, gc.callbacks in the worker)."""

    YOUNG_THRESHOLD = 20_000  # allocations between two generation-0 passes in a worker that has settled

    def __init__(self, every: int = 200, young: int = 25) -> None:
        self.every = every
        self.young = young
        self.count = 0
        self.enabled = False

    def settle(self, *, reload: bool = False) -> None:
        if reload:
            gc.unfreeze()
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(self.YOUNG_THRESHOLD, older, oldest)
        self.count = 0
        self.enabled = True

    def tick(self) -> None:
        if not self.enabled:
            return
        self.count += 1
        if self.count >= self.every:
            self.count = 0
            gc.collect(1)  # the young garbage first: what is left is reachable
            gc.freeze()
        elif self.young and self.count % self.young == 0:
            gc.collect(0)
            gc.freeze()


HEAP = _Heap()


class _Arrivals:
    """When the keep-alive connections of this worker are expected to send their next one-shipment request
    (``_LoopGroup``'s hold). Per connection (the ASGI ``client`` address): when its last request was answered,
    and how soon after an answer it sent the next one (the mean of the last few gaps). A connection is expected
    while it has not sent since its answer, if it usually sends within ``hold`` of an answer: by twice its usual
    gap after the answer (at least ``MIN_WAIT``)."""

    KEPT = 512  # idle connections remembered; past it, the half answered longest ago is forgotten
    MIN_WAIT = 0.0003  # seconds after an answer a quick connection is waited for, at least

    def __init__(self) -> None:
        self._answered: dict[Any, float] = {}  # connection -> when its last request was answered (still idle)
        self._gap: dict[Any, float] = {}  # connection -> smoothed seconds from an answer to its next request

    def arrived(self, conn: Any) -> None:
        if conn is None:
            return
        at = self._answered.pop(conn, None)
        if at is not None:
            gap = time.monotonic() - at
            prev = self._gap.get(conn)
            self._gap[conn] = gap if prev is None else (prev + gap) / 2

    def answered(self, conn: Any) -> None:
        if conn is None:
            return
        now = time.monotonic()
        if len(self._answered) >= self.KEPT:  # the half answered longest ago (oldest first) is forgotten
            for k in list(itertools.islice(self._answered, self.KEPT // 2)):
                del self._answered[k]
        if len(self._gap) >= 4 * self.KEPT:
            self._gap.clear()
        self._answered.pop(conn, None)  # (answered again without a screening in between) newest last
        self._answered[conn] = now

    def expected(self, now: float, hold: float) -> float | None:
        """The latest time by which a connection is expected to send (None: none is expected after ``now``)."""
        due = None
        gaps = self._gap
        least = self.MIN_WAIT
        horizon = now - max(2 * hold, least)  # answered before it: no longer expected, whatever its gap
        for conn, at in reversed(self._answered.items()):  # newest first (many idle connections: a few looked at)
            if at <= horizon:
                break
            gap = gaps.get(conn)
            if gap is not None and gap <= hold:
                t = at + max(2 * gap, least)
                if t > now and (due is None or t > due):
                    due = t
        return due


class _LoopGroup:
    """The one-shipment requests screened on the event loop, a group at a time.

    A request joins the group (:meth:`add`); the first one schedules :meth:`_start` with ``call_soon``, so the
    requests whose data arrived in the same pass of the loop (under load: usually several, one per busy
    connection) join it before it runs. :meth:`run` parses their bodies, matches all their party names in one
    call (``service.prefetch``: much less CPU per name than two names at a time) and then screens them one
    after another, exactly as each would be screened alone, and hands each its :class:`_Screened` (None: it
    must take the screening thread, which is busy or has requests waiting). At most ``MAX`` requests per run
    (the rest run in the next pass), so a burst does not hold the loop for long (/healthz answers between runs).

    Holding a group back (:class:`_Arrivals`): a client that sends its next request as soon as it is answered
    (an ERP's connection pool under load, bench_serve's closed loop) sends it a fraction of a millisecond after
    the answer, often just after the group started, so groups stayed small (1.5-2.7 requests). When a
    connection answered a moment ago has come back that quickly before, the group waits for it (until twice its
    usual gap after its answer, at most ``hold`` seconds: ``--group-wait-ms``, 0.6 ms) and runs as soon as every connection it waits for has
    sent. A connection that does not come back that quickly (requests at a steady rate, a client that thinks
    between requests) is not waited for, nor is the one the request came on (one client at a time never
    waits): only requests sent in bursts pay the wait, and they gain bigger groups."""

    MAX = 8  # requests per run: the gain of matching names together levels off by four to eight

    def __init__(self, holder: StateHolder, run: _Runner, hold: float = DEFAULT_GROUP_WAIT) -> None:
        self.holder = holder
        self.runner = run
        self.hold = hold  # seconds a group waits for expected connections, at most (0: never)
        self._pending: list[tuple[ScreeningState, bytes, dt.date | None, str, asyncio.Future[_Screened | None]]] = []
        self.arrivals = _Arrivals()
        self._held: asyncio.TimerHandle | None = None  # the group's deadline while it waits (see self.hold)
        self._scheduled = False  # _start or run is scheduled
        self.runs = 0
        self.requests = 0
        self.warmed = 0  # distinct names matched ahead together
        self.holds = 0  # groups that waited for an expected request
        self.held_requests = 0  # requests that joined a group while it waited

    def add(self, st: ScreeningState, raw: bytes, as_of: dt.date | None, client: str, conn: Any = None
            ) -> asyncio.Future[_Screened | None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[_Screened | None] = loop.create_future()
        self._pending.append((st, raw, as_of, client, fut))
        self.arrivals.arrived(conn)
        if self._held is not None:  # a group waiting: run it now when it waits for no one else
            self.held_requests += 1
            if len(self._pending) >= self.MAX or self.arrivals.expected(time.monotonic(), self.hold) is None:
                self._held.cancel()
                self._held = None
                loop.call_soon(self.run)
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._start)
        return fut

    def answered(self, conn: Any) -> None:
        """The request of connection ``conn`` was answered (its client may send the next one soon)."""
        self.arrivals.answered(conn)

    def _start(self) -> None:
        """Run the group now, or hold it back while connections expected within ``self.hold`` have not sent."""
        if not self._pending:
            self._scheduled = False
            return
        now = time.monotonic()
        due = self.arrivals.expected(now, self.hold) if self.hold > 0 and len(self._pending) < self.MAX else None
        if due is not None:
            self.holds += 1
            self._held = asyncio.get_running_loop().call_later(min(self.hold, due - now), self.run)
            return
        self.run()

    def run(self) -> None:
        self._held = None
        self._scheduled = False
        batch, self._pending = self._pending[: self.MAX], self._pending[self.MAX:]
        if not batch:
            return
        if self._pending:
            self._scheduled = True
            batch[0][4].get_loop().call_soon(self.run)
        if self.runner.busy or not SCREEN_LOCK.acquire(blocking=False):
            for *_, fut in batch:
                if not fut.done():
                    fut.set_result(None)
            return
        try:
            self.runs += 1
            self.requests += len(batch)
            pres = [self._parse(raw) for _, raw, _, _, _ in batch]
            if len(batch) > 1:
                self._warm(batch[0][0], [pre for (st, *_), pre in zip(batch, pres, strict=True)
                                         if pre is not None and st is batch[0][0]])
            for (st, raw, as_of, client, fut), pre in zip(batch, pres, strict=True):
                if fut.done():  # the request went away (its task was cancelled)
                    continue
                try:
                    fut.set_result(_screen(st, self.holder, raw, as_of, client, pre))
                except Exception as exc:  # answered 500 by the request itself (fast_screen)
                    fut.set_exception(exc)
        finally:
            SCREEN_LOCK.release()

    @staticmethod
    def _parse(raw: bytes) -> tuple[list[tuple[str, Any]], Any] | None:
        """``parse_body(raw)``, or None when it fails (``_screen`` parses it again and answers the error)."""
        try:
            return parse_body(raw)
        except Exception:
            return None

    def _warm(self, st: ScreeningState, pres: list[tuple[list[tuple[str, Any]], Any]]) -> None:
        from ecscreen.service import prefetch

        names = [nc for parsed, _ in pres for nc in prefetch.names_of(parsed)]
        try:
            self.warmed += prefetch.warm(st.engine, names)
        except Exception as exc:  # only speed depends on it: each screening matches its own names again
            log.warning("matching the names of %d requests together failed (%s: %s); screening them one by one",
                        len(pres), type(exc).__name__, exc)


def _screen_call(holder: StateHolder, run: _Runner, record: Record, batch_box: dict[str, LoopBatch],
                 group: _LoopGroup) -> Screen:

    async def screen(raw: bytes, as_of: dt.date | None, client: str, conn: Any = None) -> Response:
        """POST /v1/screen: screen ``raw`` (inline or in the screening thread), record it, answer (see the route).
        ``conn``: the connection (its peer address), for the group's hold (``_LoopGroup``)."""
        resp = await _screen_and_record(raw, as_of, client, conn)
        group.answered(conn)
        return resp

    async def _screen_and_record(raw: bytes, as_of: dt.date | None, client: str, conn: Any) -> Response:
        st = holder.current()
        done = None
        if len(raw) <= INLINE_BODY and not run.busy:  # on the event loop, with the others of this pass
            done = await group.add(st, raw, as_of, client, conn)
        direct = done is not None
        if done is None:
            done = await run(lambda: _screen(st, holder, raw, as_of, client))
        HEAP.tick()
        if not done.records:
            return done.finish([])
        batch = batch_box.get("b")
        try:
            if direct and batch is not None:
                # a local SQLite file: appended on the event loop together with the other requests screened
                # in this pass of the loop (group commit, see LoopBatch), cheaper than handing each to the
                # recorder thread; never waits on the loop: another writer holding the store -> the thread
                ids = await batch.add(done.records)
            else:
                ids = await record(done.records)  # group commit in the recorder thread
        except Exception as exc:  # fail closed: a screening that could not be recorded is not handed out
            if direct:
                log.error("recording failed: %s: %s", type(exc).__name__, exc)
            return _not_recorded(exc)
        return done.finish(ids)
    return screen


def _not_recorded(exc: BaseException) -> Response:
    return _json(503, {"error": f"could not record the screening ({type(exc).__name__}): nothing was "
                                "returned; retry, or run the service with --no-record"}, {"Retry-After": "1"})


class _Runner:
    """Runs work in the screening thread, one at a time per process; ``busy`` counts the requests that
    wait for or hold the thread (while any does, small requests queue behind them instead of going inline)."""

    def __init__(self, cfg: ServiceConfig, limiter_box: dict[str, anyio.CapacityLimiter]) -> None:
        self.cfg = cfg
        self.limiter_box = limiter_box
        self.busy = 0

    async def __call__(self, fn: Callable[[], T]) -> T:
        self.busy += 1
        try:
            return await self._run(fn)
        finally:
            self.busy -= 1

    async def _run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a screening thread, within ``cfg.timeout``. A slot is held until the thread really
        ends, also when the request timed out and its result is discarded (the CPU is still busy): new
        requests then wait, and are answered 503 when no slot frees in time."""
        cfg = self.cfg
        limiter = self.limiter_box["l"]
        loop = asyncio.get_running_loop()
        token = object()
        lock = threading.Lock()
        flags = {"started": False, "dropped": False}

        def release() -> None:
            with contextlib.suppress(RuntimeError):  # RuntimeError: the loop is closed, the server is gone
                loop.call_soon_threadsafe(limiter.release_on_behalf_of, token)

        def job() -> T | None:
            with lock:
                if flags["dropped"]:  # timed out before it started: nothing to do
                    return None
                flags["started"] = True
            try:
                with SCREEN_LOCK:
                    return fn()
            finally:
                release()

        acquired = False
        with anyio.move_on_after(cfg.timeout):
            await limiter.acquire_on_behalf_of(token)
            acquired = True
            out = await anyio.to_thread.run_sync(job, abandon_on_cancel=True)
            return out  # type: ignore[return-value]
        with lock:
            started = flags["started"]
            flags["dropped"] = not started
        if acquired and not started:
            limiter.release_on_behalf_of(token)
        raise _Timeout(started)


def _recorder_call(recorder_box: dict[str, GroupRecorder]) -> Record:
    async def record(records: list[Any]) -> list[int]:
        """The ids of ``records`` once the recorder has written them (group commit, see .recording)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[int]] = loop.create_future()

        def settle(value: list[int] | BaseException) -> None:
            if fut.done():
                return
            if isinstance(value, BaseException):
                fut.set_exception(value)
            else:
                fut.set_result(value)

        recorder = recorder_box["r"]

        def done(value: list[int] | BaseException) -> None:
            loop.call_soon_threadsafe(settle, value)

        recorder.submit(records, done)
        return await fut
    return record


def _add_error_handlers(app: FastAPI, cfg: ServiceConfig) -> None:
    # ---------------------------------------------------------------- errors
    @app.exception_handler(_Timeout)
    async def _timeout(request: Request, exc: _Timeout) -> Response:
        return _timeout_response(cfg, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for e in exc.errors():
            loc = [p for p in e.get("loc", ()) if p != "body"]
            where = loc[0] if e.get("loc", ("",))[0] in ("query", "path") else None
            field = "".join(f"[{p}]" if isinstance(p, int) else (("." if i else "") + str(p))
                            for i, p in enumerate(loc if where is None else loc[1:])) or None
            if where is not None:
                field = str(loc[1]) if len(loc) > 1 else None
            msg = "unknown key" if e.get("type") == "extra_forbidden" else str(e.get("msg", "invalid"))
            errors.append({"field": field, "pointer": None if where else pointer(field, index=None, in_list=False,
                                                                                  wrapped=False),
                           "in": where or "body", "message": msg,
                           "text": f"{REQUEST_FILE}: {field + ': ' if field else ''}{msg}"})
        return _json(422, {"error": "invalid input", "errors": errors})

    @app.exception_handler(EcscreenError)
    async def _ecs(request: Request, exc: EcscreenError) -> Response:
        return _json(422, {"error": "invalid input", "errors": [{
            "file": exc.file, "line": exc.line, "field": exc.field, "message": exc.message,
            "pointer": pointer(exc.field, index=None, in_list=False, wrapped=False) if exc.file == REQUEST_FILE
            else None, "text": exc.render()}]})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> Response:
    return _json(500, {"error": f"internal error ({type(exc).__name__}): nothing was decided"})


def _timeout_response(cfg: ServiceConfig, exc: _Timeout) -> Response:
    if exc.started:
        return _json(504, {"error": f"screening took longer than {cfg.timeout:g} s (--timeout) and was "
                                    "abandoned: nothing was decided; send fewer shipments per request"})
    return _json(503, {"error": f"busy: not screened within {cfg.timeout:g} s (--timeout); "
                                "nothing was decided, retry later"}, {"Retry-After": "1"})


def _healthz() -> Response:
    return _json(200, {"status": "ok", "version": __version__})


def _add_health_routes(app: FastAPI, holder: StateHolder) -> None:
    # ---------------------------------------------------------------- health
    @app.get("/healthz", tags=["health"], summary="The process is up")
    async def healthz() -> Response:
        return _healthz()  # GET is answered by _Guard with the same response; HEAD and the docs come here

    @app.get("/readyz", tags=["health"], summary="Lists loaded and fresh (503 with the reasons otherwise)")
    async def readyz() -> Response:
        st = holder.current()
        reasons = []
        lists: list[dict[str, Any]] = []
        if st.engine.use_lists:
            from ecscreen.parties.screening import list_status

            infos, warns = list_status(list(st.lists), dt.date.today(), Settings.from_env().max_age_days)
            lists = [{"name": i.name, "date": i.date, "age_days": i.age_days, "sha256": i.sha256} for i in infos]
            reasons += warns
            if not st.lists:
                reasons.append("no restricted-party lists loaded")
        if holder.reload_error:
            reasons.append(f"the list store changed but could not be loaded ({holder.reload_error}); screening "
                           f"still uses the lists loaded at {st.loaded_at.isoformat()}")
        doc = {"status": "not ready" if reasons else "ready", "reasons": reasons, "lists": lists,
               "lists_hash": st.lists_hash, "loaded_at": st.loaded_at.isoformat(), "use_lists": st.engine.use_lists}
        return _json(503 if reasons else 200, doc)


def _add_v1_routes(app: FastAPI, holder: StateHolder, run: Run, screen_call: Screen) -> None:
    # ---------------------------------------------------------------- screening
    @app.post("/v1/screen", tags=["screening"], openapi_extra=_shipment_body_schema(),
              summary="Screen one shipment or a list: the report envelope `ecscreen check --format json` prints",
              responses={200: {"description": "Screened (the decision is in the body; X-Ecscreen-Decision)"},
                         422: {"description": "Input that cannot be screened: errors with file, line, field and "
                                              "JSON pointer, and the report of the rest"}})
    async def screen(request: Request, as_of: dt.date | None = None) -> Response:
        # most requests are answered by _Guard's fast path with the same screen_call; this route documents
        # the API and answers requests with other query strings
        return await screen_call(await request.body(), as_of, _client_of(request.scope), request.scope.get("client"))

    @app.post("/v1/parties/search", tags=["screening"],
              summary="Screen party names against the loaded restricted-party lists (hits and findings)")
    async def parties_search(body: PartySearch) -> Response:
        st = holder.current()
        return await run(lambda: _search(st, body))

    @app.get("/v1/explain/{eccn}/{destination}", tags=["screening"],
             summary="The Commerce Country Chart determination for an ECCN and a destination "
                     "(`ecscreen explain --format json`)")
    async def explain(eccn: str, destination: str, date: dt.date | None = None) -> Response:
        st = holder.current()
        return await run(lambda: _explain(st, eccn, destination, date))

    @app.get("/v1/lists", tags=["lists"], summary="The restricted-party lists this service screens against")
    async def lists() -> Response:
        st = holder.current()
        from ecscreen.parties.screening import list_status

        infos, warns = list_status(list(st.lists), dt.date.today(), Settings.from_env().max_age_days)
        rows = [json.loads(i.model_dump_json()) | {"format": sl.format} for i, sl in zip(infos, st.lists,
                                                                                          strict=True)]
        return _json(200, {"use_lists": st.engine.use_lists, "lists": rows, "warnings": warns,
                           "lists_hash": st.lists_hash, "loaded_at": st.loaded_at.isoformat(),
                           "generation": st.generation, "reloads": holder.reloads,
                           "reload_error": holder.reload_error})

    @app.get("/v1/records/{record_id}", tags=["records"],
             summary="A recorded screening or decision (`ecscreen show ID`), with the decisions taken on it")
    async def get_record(record_id: int) -> Response:
        store = holder.store
        if store is None:
            return _json(404, {"error": "this service keeps no records (started with --no-record)"})
        rec, decisions = await run(lambda: (store.get(record_id), store.decisions(record_id)))
        if rec is None:
            return _json(404, {"error": f"record {record_id} not found"})
        return _json(200, {"record": json.loads(rec.model_dump_json()),
                           "decisions": [json.loads(d.model_dump_json()) for d in decisions]})

    @app.post("/v1/reviews/{record_id}/decisions", tags=["records"], status_code=201,
              summary="Record a person's decision on a finding of a recorded screening (`ecscreen review decide`)")
    async def decide(record_id: int, body: DecisionBody) -> Response:
        if holder.store is None:
            return _json(404, {"error": "this service keeps no records (started with --no-record)"})
        out = await run(lambda: _decide(holder, record_id, body))
        if out.status_code == 201:
            await anyio.to_thread.run_sync(holder.check_now)  # the clearance applies to the next request
        return out


# ------------------------------------------------------------------------------------------ the work


def _client_of(scope: Scope) -> str:
    """Who is screening, for the record's source (``api:NAME``): the ``X-Ecscreen-Client`` header, else the
    peer address."""
    for k, v in scope["headers"]:
        if k == b"x-ecscreen-client":
            name = v.decode("latin-1").strip()
            if name:
                return "".join(ch for ch in name if ch.isprintable())[:80] or "client"
            break
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


@dataclass
class _Screened:
    """A screening done, waiting for its record ids: ``finish(ids)`` builds the response."""

    records: list[Any]
    finish: Callable[[list[int]], Response]


def _records(st: ScreeningState, holder: StateHolder, report: Any, parsed: list[tuple[str, Any]], doc: Any,
             client: str) -> list[Any]:
    """One NewRecord per result (the recorder writes them); [] without a store."""
    store = holder.store
    if store is None:
        return []
    # one run manifest per loaded state and as_of (the only option a request sets: replay screens with the
    # manifest's); a bounded memo, as clients choose the dates
    manifests: dict[Any, str] = st.memo.setdefault("manifests", {})
    key = report.options.get("as_of")
    manifest = manifests.get(key)
    if manifest is None:
        files = [("clearances", holder.cfg.clearances)] if holder.cfg.clearances else []
        manifest = run_manifest(store, st.engine, command="serve", options=report.options,
                                at=dt.datetime.now(dt.UTC), files=files)
        if len(manifests) >= MANIFESTS_KEPT:
            manifests.clear()
        manifests[key] = manifest
    raws = shipment_docs(doc, len(parsed))
    raws += [None] * (len(parsed) - len(raws))
    return [result_record(res, sh, command="serve", source=f"api:{client}", manifest=manifest, raw=raw)
            for res, (_, sh), raw in zip(report.results, parsed, raws, strict=True)]


_PARTS_KEY = "report_parts"  # ScreeningState.memo key: the packs' and lists' JSON, encoded once
_STATE_FIELDS = frozenset({"packs", "lists"})
_REPORT_FIELDS = ("tool", "tool_version", "decision", "generated_for", "results", "packs", "lists", "warnings",
                  "command", "options", "counts")  # Report's fields in order (the splice relies on it)
_WARNINGS_KEY = b',"warnings":['


def report_json(st: ScreeningState, report: Any) -> bytes:
    """``report.model_dump_json()`` as UTF-8 bytes (the response body: no str to decode and encode again,
    ~15 us for a 10 kB one-shipment report that has non-ASCII text), with its ``packs`` and ``lists`` (most of
    the report's bytes, the same for every request of a loaded state on a given day: ~35 us of the ~50 us
    encoding) encoded once and kept in the state's memo; the rest is encoded per request and the two fragments
    put in their place, in the model's field order (results, packs, lists, warnings). A fragment is reused
    only for the very same pack objects (:func:`_same_objects`: the registry's) and for list infos of equal
    values (:func:`_same_values`: the engine copies them per report, with the list's age on the screening
    date)."""
    serializer = type(report).__pydantic_serializer__
    if "warnings" in report.options or tuple(type(report).model_fields) != _REPORT_FIELDS:
        return bytes(serializer.to_json(report))  # a layout the splice below could mistake (never, as built today)
    packs, lists = report.packs, report.lists
    memo: dict[str, Any] = st.memo.setdefault(_PARTS_KEY, {})
    cached = memo.get("packs")
    if cached is None or not _same_objects(cached[0], packs):
        cached = memo["packs"] = (list(packs), _fragment("packs", packs))
    packs_json = cached[1]
    cached = memo.get("lists")
    if cached is None or not _same_values(cached[0], lists):
        cached = memo["lists"] = ([x.model_copy(deep=True) for x in lists], _fragment("lists", lists))
    lists_json = cached[1]
    body = bytes(serializer.to_json(report, exclude=_STATE_FIELDS))
    cut = body.rfind(_WARNINGS_KEY)  # the report's own warnings: the last key so named (the options have none)
    return b"".join((body[:cut], b',"packs":', packs_json, b',"lists":', lists_json, body[cut:]))


def _fragment(name: str, values: list[Any]) -> bytes:
    """The JSON of the report field ``name`` holding ``values``, as ``Report.model_dump_json`` writes it."""
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        from pydantic import TypeAdapter

        from ecscreen.model import Report

        annotation = Report.model_fields[name].annotation
        assert annotation is not None  # list[PackInfo], list[ListInfo]
        adapter = _ADAPTERS[name] = TypeAdapter(annotation)
    return bytes(adapter.dump_json(values))


_ADAPTERS: dict[str, Any] = {}


def _same_objects(old: list[Any], new: list[Any]) -> bool:
    """The same objects in the same order (a registry's pack infos are built once and not changed)."""
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))


def _same_values(old: list[Any], new: list[Any]) -> bool:
    """Models of the same types with equal field values of the same types, so that they encode alike (a
    datetime also with the same UTC offset: equal instants in two zones are written differently)."""
    if len(old) != len(new):
        return False
    for a, b in zip(old, new, strict=True):
        x, y = a.__dict__, b.__dict__
        if type(a) is not type(b) or x != y or list(map(type, x.values())) != list(map(type, y.values())):
            return False
        if [v.utcoffset() for v in x.values() if isinstance(v, dt.datetime)] != \
                [v.utcoffset() for v in y.values() if isinstance(v, dt.datetime)]:
            return False
    return True


def _screen(st: ScreeningState, holder: StateHolder, raw: bytes, as_of: dt.date | None, client: str = "api",
            pre: tuple[list[tuple[str, Any]], Any] | None = None) -> _Screened:
    """Screen the body ``raw`` (``pre``: ``parse_body(raw)`` already done) into a response waiting for record ids."""
    try:
        parsed, doc = pre if pre is not None else parse_body(raw)
    except InputFileError as exc:
        resp = _json(422, {"error": "invalid input", "errors": [{
            "shipment": None, "index": None, "file": exc.file or REQUEST_FILE, "line": exc.line,
            "field": exc.field, "pointer": "" if exc.field is None else pointer(exc.field, index=None, in_list=False,
                                                                               wrapped=False),
            "message": exc.message, "text": exc.render()}]})
        return _Screened([], lambda ids: resp)
    screener = st.screener
    on = as_of or screener.as_of
    report = st.engine.screen(parsed, as_of=on, today=dt.date.today())
    report.command = "serve"
    report.options = dict(screener._options) | {"as_of": on.isoformat() if on else None}
    if holder.reload_error:
        report.warnings.append(f"the list store changed but could not be loaded ({holder.reload_error}): screened "
                               f"with the lists loaded at {st.loaded_at.isoformat()}")
    bad = [n for n, r in enumerate(report.results) if r.decision == "error"]
    if bad and not hasattr(doc, "line"):
        from ecscreen.service.inputs import load_document

        doc = load_document(raw, lines=True)
    headers = {"X-Ecscreen-Decision": str(getattr(report.decision, "value", report.decision)),
               "X-Ecscreen-Exit-Code": str(report.exit_code)}
    if bad:
        # locate the errors exactly as `check` does (file, line from the document) and add JSON pointers
        from ecscreen.inputs.files import locate

        in_list = isinstance(doc, list) or (isinstance(doc, dict) and isinstance(doc.get("shipments"), list))
        wrapped = isinstance(doc, dict) and isinstance(doc.get("shipments"), list)
        docs = shipment_docs(doc, len(report.results))
        errors = []
        for n in bad:
            r = report.results[n]
            if n < len(docs):
                r.errors = [locate(e, REQUEST_FILE, docs[n]) for e in r.errors]
            line = getattr(docs[n], "line", None) if n < len(docs) else None
            r.source = f"{REQUEST_FILE}:{line or 1}"
            errors += [error_doc(e, shipment=r.id, index=n if in_list else None, in_list=in_list, wrapped=wrapped)
                       for e in r.errors]
    records = _records(st, holder, report, parsed, doc, client)
    body = report_json(st, report)

    def finish(ids: list[int]) -> Response:
        hdrs = dict(headers)
        text = body
        if ids:
            hdrs["X-Ecscreen-Record-Ids"] = ",".join(map(str, ids))
            text = b"".join((body[:-1], b',"record_ids":', json.dumps(ids).encode(), b"}"))
        if not bad:
            return Response(content=text, media_type="application/json", headers=hdrs)
        return _json(422, {"error": "invalid input", "errors": errors, "report": json.loads(text)}, hdrs)

    return _Screened(records, finish)


def _decide(holder: StateHolder, record_id: int, body: DecisionBody) -> Response:
    from ecscreen.records import Decision, PartyRef
    from ecscreen.runners.review import decision_fields

    store = holder.store
    at = dt.datetime.now(dt.UTC)
    if body.expires is not None and body.expires < at.date():
        return _json(422, {"error": "invalid input", "errors": [{"field": "expires", "pointer": "/expires",
                                                                 "message": f"{body.expires} is in the past"}]})
    rec = store.get(record_id)
    if rec is None:
        return _json(404, {"error": f"record {record_id} not found"})
    if rec.kind != "screening":
        return _json(422, {"error": "invalid input", "errors": [{"field": None, "pointer": None, "message":
                                                                 f"record {record_id} is a {rec.kind} record, "
                                                                 "not a screening"}]})
    fields = decision_fields(rec, body.finding, body.decision, party=body.party, entry=body.entry)
    d = Decision(record_id=record_id, rule_id=fields["rule_id"], decision=body.decision,  # type: ignore[arg-type]
                 reason=body.reason.strip(), approver=body.approver.strip(), expires=body.expires,
                 party=PartyRef(**fields["party"]) if fields["party"] else None, entry=fields["entry"],
                 extra=fields["extra"])
    did = store.append_decision(d, at=at)
    return _json(201, {"decision_record": did, "record": record_id, "rule_id": fields["rule_id"],
                       "decision": body.decision, "party": fields["party"],
                       "entries": fields["extra"].get("entries") or [],
                       "expires": body.expires.isoformat() if body.expires else None})


def _search(st: ScreeningState, body: PartySearch) -> Response:
    from ecscreen.model import Party

    eng = st.engine
    if not eng.use_lists:
        return _json(409, {"error": "this service screens without restricted-party lists (--no-lists)"})
    from ecscreen.parties.screening import screen_parties

    try:
        parties = [Party.model_validate(p.model_dump(exclude_none=True)) for p in body.parties]
    except Exception as exc:  # a role the shipment format does not know
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        e = exc.errors()[0]
        return _json(422, {"error": "invalid input", "errors": [{"field": ".".join(map(str, e["loc"])),
                                                                 "message": e["msg"]}]})
    on = body.as_of or dt.date.today()
    kw: dict[str, Any] = {"allowlist": eng.allowlist} if eng.allowlist is not None else {}
    ps = screen_parties(parties, as_of=on, lists=list(st.lists), limit=body.limit, **kw)
    results = []
    for idx, party in enumerate(parties):
        summary = ps.summaries[idx] if idx < len(ps.summaries) else None
        prefix = f"parties[{idx}]"
        results.append({
            "party": party.model_dump(mode="json"),
            "summary": summary.model_dump(mode="json") if summary else None,
            "hits": [h.model_dump(mode="json") for h in ps.hits[idx]],
            "findings": [f.model_dump(mode="json") for f in ps.findings
                         if any(ev.field == prefix or ev.field.startswith(prefix + ".") for ev in f.evidence)],
        })
    decision = max((f.outcome for f in ps.findings), key=lambda o: o.rank, default=None)
    return _json(200, {"as_of": on.isoformat(), "decision": decision.value if decision else "clear",
                       "results": results, "warnings": list(ps.warnings) + list(ps.list_warnings),
                       "lists": [i.model_dump(mode="json") for i in ps.lists]})


def _explain(st: ScreeningState, eccn: str, destination: str, date: dt.date | None) -> Response:
    from ecscreen.engine.explain import explain_document

    doc = explain_document(st.screener.registry, eccn, destination, date or dt.date.today())
    return _json(200, doc)


def app_from_env() -> FastAPI:
    """The app of a worker process started by ``ecscreen serve --workers N`` (config from its parent)."""
    return create_app(ServiceConfig.from_env())
