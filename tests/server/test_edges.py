"""Less travelled paths of the protocol and the server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import DEADLINE, Harness, parse_statuses, raw_request, serve, text_app
from vivace.server import ClientDisconnected, run
from vivace.types import Receive, Scope, Send

Make = Callable[..., Harness]
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def test_bad_absolute_form_target_400(make: Make) -> None:
    h = make()
    await h.send(b"GET http://host:port/ HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [400]


async def test_unregistered_method_and_unknown_sockname(make: Make) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await text_app(scope, receive, send)

    h = make(app)
    h.transport.extra["sockname"] = None
    h.proto.connection_made(h.transport)
    await h.send(b"PROPFIND /dav HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.response()
    assert seen[0]["method"] == "PROPFIND"
    assert seen[0]["server"] is None


async def test_callback_bug_is_not_swallowed(make: Make) -> None:
    h = make()
    h.state.max_body_size = "not a number"  # type: ignore[assignment]
    with pytest.raises(TypeError):
        h.proto.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")


async def test_data_after_failure_is_ignored(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET + b"BROKEN\r\n\r\n")
    await h.send(GET)  # ignored: the connection already failed
    release.set()
    await h.closed()
    assert parse_statuses(h.transport.data) == [200, 400]


async def test_disconnect_with_queued_pipeline(make: Make) -> None:
    release = asyncio.Event()
    disconnects: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        message = await receive()
        disconnects.append(message["type"])

    h = make(app)
    await h.send(GET * 3 + b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
    assert len(h.proto.pipeline) == 3 and h.proto.reader.building is not None
    h.transport.close()
    await h.wait_for(lambda: h.proto.closed)
    release.set()
    await h.wait_for(lambda: disconnects == ["http.disconnect"])


async def test_deep_pipeline_pauses_reading(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET * 20)
    assert not h.transport.reading
    release.set()
    await h.responses(20)
    assert h.transport.reading


async def test_drain_and_sendfile_after_close(make: Make, tmp_path: Path) -> None:
    h = make()
    await h.close()
    with pytest.raises(ClientDisconnected):
        await h.proto.drain()
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    with path.open("rb") as file, pytest.raises(ClientDisconnected):
        await h.proto.sendfile(file, 3)


async def test_pathsend_under_write_pressure(make: Make, tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"q" * 600_000)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.pathsend", "path": str(path)})

    h = make(app)
    h.proto.pause_writing()
    await h.send(GET)
    await h.wait_for(lambda: bool(h.proto.drain_waiters))
    h.proto.resume_writing()
    response = await h.response()
    assert len(response.body) == 600_000


async def test_file_shrinking_while_sent_aborts(make: Make, tmp_path: Path) -> None:
    path = tmp_path / "shrinks"
    path.write_bytes(b"s" * 100)
    h = make()
    with path.open("rb") as file, pytest.raises(ClientDisconnected, match="shrank"):
        await h.proto.sendfile(file, 200)
    assert h.transport.aborted


async def test_tasks_when_host_busy_raise_and_pipeline(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/boom":
            raise RuntimeError("boom")
        await text_app(scope, receive, send)
        if scope["path"] == "/bg":
            await release.wait()

    h = make(app)
    await h.send(b"GET /bg HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.response()
    await h.send(GET + GET)  # both run in Tasks of their own, in order
    await h.responses(3)
    await h.send(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [200, 200, 200, 500]
    release.set()


async def test_app_letting_disconnect_propagate_logs_quietly(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started.set()
        assert (await receive())["type"] == "http.request"
        assert (await receive())["type"] == "http.disconnect"
        await send({"type": "http.response.start", "status": 200})

    h = make(app)
    await h.send(GET)
    await asyncio.wait_for(started.wait(), DEADLINE)
    h.transport.close()
    await h.wait_for(lambda: not h.proto.host_busy)
    assert "Exception in ASGI application" not in caplog.text


async def test_upgrade_pipelined_behind_request_refused(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await text_app(scope, receive, send)

    def handler(transport: Any, scope: Scope, data: bytes) -> asyncio.Protocol:
        raise AssertionError("must not be called")

    h = make(app)
    h.state.upgrade_handlers[b"websocket"] = handler
    await h.send(
        GET + b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    )
    release.set()
    await h.closed()
    assert parse_statuses(h.transport.data) == [200, 400]


async def test_error_after_close_writes_nothing(make: Make) -> None:
    h = make()
    await h.close()
    h.proto._write_error(400, "late")
    assert h.transport.data == b""


def test_ipv6_server() -> None:
    with serve(text_app, host="::1") as server:
        assert server.server.addresses[0].startswith("http://[::1]:")
        import socket

        with socket.create_connection(("::1", server.port), timeout=DEADLINE) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        assert data.endswith(b"hello")


def test_run_function() -> None:
    import logging

    vivace_logger = logging.getLogger("vivace")
    saved = (vivace_logger.handlers[:], vivace_logger.level, vivace_logger.propagate)
    try:
        _run_once()
    finally:  # run() configured logging for a real process; undo it for the other tests
        vivace_logger.handlers[:] = saved[0]
        vivace_logger.setLevel(saved[1])
        vivace_logger.propagate = saved[2]
        logging.getLogger("vivace.access").setLevel(logging.NOTSET)


def _run_once() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    thread = threading.Thread(
        target=run,
        args=(text_app,),
        kwargs={"port": port, "limit_max_requests": 1, "log_level": "warning", "loop": "asyncio"},
    )
    thread.start()
    for _ in range(200):
        try:
            data = raw_request(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        except OSError:
            threading.Event().wait(0.05)
            continue
        assert data.endswith(b"hello")
        break
    thread.join(DEADLINE)
    assert not thread.is_alive()
