"""The private parts of asyncio that vivace.server relies on (vivace/server/_compat.py).

Each test names what it checks, so a Python release that changes one fails here, with
the name, rather than somewhere inside the server's tests.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from tests.server.test_integration import make_certificate
from vivace.server import _compat


async def close_at_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()
    writer.close()
    await writer.wait_closed()


async def test_enter_task_makes_current_task_the_host() -> None:
    # asyncio.tasks._enter_task / _leave_task: what current_task() returns while the
    # server steps an app coroutine inside a connection's host Task.
    loop = asyncio.get_running_loop()
    host = loop.create_task(asyncio.sleep(10))
    seen: list[asyncio.Task[object] | None] = []

    def step() -> None:
        _compat.enter_task(loop, host)
        try:
            seen.append(asyncio.current_task())
        finally:
            _compat.leave_task(loop, host)
        seen.append(asyncio.current_task())

    loop.call_soon(step)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert seen == [host, None]
    # Entering a second Task while one is current is refused (the server relies on that
    # to catch a step run at the wrong moment).
    with pytest.raises(RuntimeError):
        _compat.enter_task(loop, host)
    host.cancel()


async def test_native_sendfile_on_a_plain_socket_transport(tmp_path: Path) -> None:
    # transport._sendfile_compatible and asyncio.constants._SendfileMode.TRY_NATIVE.
    assert _compat._TRY_NATIVE is not None, "asyncio.constants._SendfileMode.TRY_NATIVE is gone"
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(close_at_eof, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        transport = writer.transport
        assert hasattr(transport, "_sendfile_compatible"), "transport._sendfile_compatible"
        assert _compat.native_sendfile(transport)
        payload = tmp_path / "f"
        payload.write_bytes(b"x" * 1000)
        with payload.open("rb") as file:
            assert await loop.sendfile(transport, file, 0, 1000, fallback=False) == 1000
    finally:
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()


async def test_no_native_sendfile_over_tls(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=cert)
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context, server_hostname="localhost"
    )
    try:
        assert not _compat.native_sendfile(writer.transport)
    finally:
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
