"""`ecscreen serve`'s HTTP protocol (ecscreen.service.http): a response's head and body reach the socket in one
write, and a head with no body after it (HEAD, 204, 304, 100 Continue) is still sent, in order, at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the service needs fastapi and uvicorn")

from ecscreen.service.http import PROTOCOL, OneWriteTransport, Protocol  # noqa: E402


class _Transport:
    """What uvloop's transport records for these tests: every write (one send(2) each) and the close."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.paused = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.paused = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n"


def test_response_head_and_body_go_out_in_one_write() -> None:
    """Regression: uvicorn wrote the head (status line + headers) and the body in two writes; with
    TCP_NODELAY each was a send(2) and a TCP segment of its own (kernel time ~0.25 -> ~0.15 ms per request)."""

    async def main() -> list[bytes]:
        raw = _Transport()
        t = OneWriteTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(HEAD)
        assert raw.writes == []  # held for the body
        t.write(b"{}")
        await asyncio.sleep(0)  # the held head's flush runs: nothing left to send
        await asyncio.sleep(0)
        return raw.writes

    assert asyncio.run(main()) == [HEAD + b"{}"]


def test_a_head_without_body_is_sent_at_the_end_of_the_loop_iteration_and_before_a_close() -> None:
    async def main() -> tuple[list[bytes], list[bytes], bool]:
        loop = asyncio.get_running_loop()
        raw = _Transport()
        t = OneWriteTransport(raw, loop)  # type: ignore[arg-type]
        head_only = b"HTTP/1.1 304 Not Modified\r\ncontent-length: 0\r\n\r\n"
        t.write(head_only)  # HEAD / 304: uvicorn writes no body
        await asyncio.sleep(0)
        first = list(raw.writes)
        raw2 = _Transport()
        t2 = OneWriteTransport(raw2, loop)  # type: ignore[arg-type]
        t2.write(HEAD)
        t2.close()  # connection: close right after the head
        await asyncio.sleep(0)
        return first, raw2.writes, raw2.closed

    first, second, closed = asyncio.run(main())
    assert first == [b"HTTP/1.1 304 Not Modified\r\ncontent-length: 0\r\n\r\n"]
    assert second == [HEAD] and closed


def test_other_writes_pass_through_in_order_and_attributes_are_the_transports() -> None:
    async def main() -> tuple[list[bytes], bool]:
        raw = _Transport()
        t = OneWriteTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(b"5\r\nhello\r\n")  # a chunk of a chunked body
        t.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad")  # a whole response in one piece
        t.pause_reading()
        return raw.writes, raw.paused

    writes, paused = asyncio.run(main())
    assert writes == [b"5\r\nhello\r\n", b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad"]
    assert paused


def test_uvicorn_with_the_service_protocol_answers_a_request_in_one_write() -> None:
    """The protocol `ecscreen serve` gives uvicorn (cli/serve: ``http=PROTOCOL``) around a real request: a
    Starlette response (head, then body) leaves in one write; HEAD's head-only answer is sent too."""
    import uvicorn
    from starlette.responses import Response
    from uvicorn.importer import import_from_string
    from uvicorn.server import ServerState

    from ecscreen.cli import serve as serve_cli

    assert import_from_string(PROTOCOL) is Protocol
    assert serve_cli.uvicorn_options(False)["http"] == PROTOCOL  # what `ecscreen serve` gives uvicorn

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await Response(b'{"ok":true}', media_type="application/json")(scope, receive, send)

    async def main(method: bytes) -> list[bytes]:
        config = uvicorn.Config(app, http=PROTOCOL, log_level="warning", lifespan="off")
        config.load()
        proto = config.http_protocol_class(config=config, server_state=ServerState(), app_state={},  # type: ignore[call-arg]
                                           _loop=asyncio.get_running_loop())
        raw = _Transport()
        proto.connection_made(raw)  # type: ignore[arg-type]
        proto.data_received(method + b" / HTTP/1.1\r\nhost: x\r\n\r\n")  # type: ignore[attr-defined]
        for _ in range(20):
            await asyncio.sleep(0)
        return raw.writes

    writes = asyncio.run(main(b"GET"))
    assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b'{"ok":true}')
    head = asyncio.run(main(b"HEAD"))
    assert len(head) == 1 and head[0].startswith(b"HTTP/1.1 200 OK\r\n") and head[0].endswith(b"\r\n\r\n")


def test_a_connection_counts_in_the_workers_balance_from_its_first_request_other_than_a_health_check(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: every connection counted, a /healthz probe's too, so eight screening clients and a probe
    settled as 5 + (3 and the probe) over two workers ("5 against 4" looked even): one worker screened for
    five clients, the other for three. Now a connection counts once it asks for something other than
    /healthz or /readyz, and stops counting when it ends."""
    import uvicorn
    from starlette.responses import Response
    from uvicorn.server import ServerState

    from ecscreen.service import balance

    path = balance.create_file(1)
    assert path is not None
    b = balance.Balance(path)
    monkeypatch.setattr(balance, "CURRENT", b)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await Response(b"{}", media_type="application/json")(scope, receive, send)

    async def main() -> list[int]:
        config = uvicorn.Config(app, http=PROTOCOL, log_level="warning", lifespan="off")
        config.load()
        counts = []
        proto = config.http_protocol_class(config=config, server_state=ServerState(), app_state={},  # type: ignore[call-arg]
                                           _loop=asyncio.get_running_loop())
        proto.connection_made(_Transport())  # type: ignore[arg-type]
        for path in (b"/healthz", b"/readyz", b"/healthz", b"/v1/lists", b"/healthz"):
            proto.data_received(b"GET " + path + b" HTTP/1.1\r\nhost: x\r\n\r\n")  # type: ignore[attr-defined]
            for _ in range(20):
                await asyncio.sleep(0)
            counts.append(b.mine)
        proto.connection_lost(None)
        counts.append(b.mine)
        probe = config.http_protocol_class(config=config, server_state=ServerState(), app_state={},  # type: ignore[call-arg]
                                           _loop=asyncio.get_running_loop())
        probe.connection_made(_Transport())  # type: ignore[arg-type]
        probe.data_received(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")  # type: ignore[attr-defined]
        for _ in range(20):
            await asyncio.sleep(0)
        probe.connection_lost(None)
        counts.append(b.mine)
        return counts

    try:
        assert asyncio.run(main()) == [0, 0, 0, 1, 1, 0, 0]
        assert b.counts[b.slot] == 0
    finally:
        b.close()
        import os

        os.unlink(path)
