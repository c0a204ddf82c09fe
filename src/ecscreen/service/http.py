"""uvicorn's httptools protocol, with each response's head and body written to the socket together.

uvicorn writes the status line and headers (``http.response.start``) to the transport at once, then the
body (``http.response.body``) in a second write. The listening socket sets ``TCP_NODELAY`` (see
``ecscreen.cli.serve``), so each write is a send(2) of its own and a TCP segment of its own: twice the
kernel work per response on both ends (the client wakes for the head, then again for the body). Here the
transport a connection writes to holds a response head back until the next write (the body, a moment
later in the same task step: it is then sent with it in one send(2)) or, when no body follows (HEAD, 204,
304, ``100 Continue``), until the end of the event loop's current iteration. Nothing else changes: the
bytes on the wire are the same, in the same order.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ecscreen.service import balance

_HEAD_START = b"HTTP/1.1 "
_HEAD_END = b"\r\n\r\n"


class OneWriteTransport:
    """A transport that sends a response head (``HTTP/1.1 ...\\r\\n\\r\\n``) with the next write; every
    other attribute is the wrapped transport's."""

    __slots__ = ("_flush_soon", "_held", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._flush_soon = loop.call_soon

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + bytes(data))
            return
        if isinstance(data, bytes) and data.startswith(_HEAD_START) and data.endswith(_HEAD_END):
            self._held = data
            self._flush_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        """Send a held head now (the end of the loop iteration in which it was written, or a close)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


UNCOUNTED_PATHS = frozenset({"/healthz", "/readyz"})  # a connection asking only these is not load to balance


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through :class:`OneWriteTransport` (``uvicorn.Config(http=...)``),
    counting its worker's connections and ending one when the workers' connections are uneven
    (:mod:`ecscreen.service.balance`, with ``--workers N``).

    A connection counts from its first request other than a health check (``UNCOUNTED_PATHS``): a load
    balancer's or monitor's probe connection is no load, and counting it evened out the wrong thing (the
    serve benchmark's eight clients and its /healthz probe settled as 5 + 3 and the probe: "5 against 4")."""

    _balance: balance.Balance | None = None
    _counted = False  # the connection counts in its worker's balance slot

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWriteTransport(transport, self.loop))  # type: ignore[arg-type]
        self._balance = balance.CURRENT

    def connection_lost(self, exc: Exception | None) -> None:
        b = self._balance
        if b is not None:
            self._balance = None
            if self._counted:
                self._counted = False
                b.lost()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        b = self._balance
        if b is None:
            return
        if not self._counted:
            if self.scope.get("path") in UNCOUNTED_PATHS:
                return
            self._counted = True
            b.opened()
        cycle = self.cycle
        # not a request queued behind another (pipelined): its predecessor's response said keep-alive
        if cycle is not None and cycle.keep_alive and not self.pipeline and b.should_close():
            cycle.keep_alive = False  # uvicorn answers with "connection: close" and closes after the response


PROTOCOL = f"{__name__}:Protocol"  # for uvicorn.Config(http=...)
