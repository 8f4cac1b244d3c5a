"""vivace.client WebSockets over real sockets: against uvicorn serving a vivace.web app,
and against raw servers that misbehave on purpose (handshake and framing)."""

from __future__ import annotations

import asyncio
import os
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from vivace.client import (
    Client,
    ConnectError,
    ReadTimeout,
    RemoteProtocolError,
    UnsupportedProtocol,
    WebSocketDisconnect,
    WebSocketRejected,
)
from vivace.client._websocket_network import NetworkWebSocketSession
from vivace.http import accept_key
from vivace.web import (
    App,
    JSONResponse,
    WebSocket,
    WebSocketRoute,
)

from ..waiting import until
from .servers import raw_server, read_head, websocket_server

closed_codes: list[int] = []


async def echo(websocket: WebSocket) -> None:
    offered = websocket.subprotocols
    await websocket.accept(subprotocol=offered[0] if offered else None)
    try:
        async for message in websocket:
            if message == "close":
                await websocket.close(4000, "asked")
                return
            if message == "big":
                await websocket.send_text("x" * 2_000_000)
                continue
            if message == "headers":
                await websocket.send_json(
                    {
                        "ua": websocket.headers.get("user-agent"),
                        "x": websocket.headers.get("x-token"),
                        "cookie": websocket.cookies.get("c"),
                        "auth": websocket.headers.get("authorization"),
                        "q": websocket.query_params.get("q"),
                    }
                )
                continue
            await websocket.send(
                {"type": "websocket.send", "text": message}
                if isinstance(message, str)
                else {"type": "websocket.send", "bytes": message}
            )
    finally:
        closed_codes.append(websocket.scope.get("vivace.test.code", 0))


async def record(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        await websocket.receive_text()
    except WebSocketDisconnect as exc:
        closed_codes.append(exc.code)


async def refuse(websocket: WebSocket) -> None:
    await websocket.close()


async def deny(websocket: WebSocket) -> None:
    await websocket.send_denial_response(JSONResponse({"detail": "nope"}, 401))


APP = App(
    routes=[
        WebSocketRoute("/ws", echo),
        WebSocketRoute("/record", record),
        WebSocketRoute("/refuse", refuse),
        WebSocketRoute("/deny", deny),
    ]
)


SERVERS = ["vivace", "uvicorn"]


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


@pytest.mark.parametrize("server", SERVERS)
async def test_echo_against_servers(server: str) -> None:
    async with (
        websocket_server(server, APP) as base,
        Client(headers={"x-token": "t"}, cookies={"c": "v"}) as client,
        client.websocket_connect(
            ws_url(base, "/ws"), subprotocols=["chat"], params={"q": "1"}
        ) as ws,
    ):
        assert ws.subprotocol == "chat"
        assert "permessage-deflate" in ws.headers["sec-websocket-extensions"]
        await ws.send_text("hello")
        assert await ws.receive_text() == "hello"
        await ws.send_bytes(b"\x00\x01")
        assert await ws.receive_bytes() == b"\x00\x01"
        text = "caf\u00e9 " * 50_000  # 300 KB: fragmented and compressed on the wire
        await ws.send_text(text)
        assert await ws.receive_text() == text
        await ws.send_text("headers")
        seen = await ws.receive_json()
        assert seen["x"] == "t" and seen["cookie"] == "v" and seen["q"] == "1"
        assert seen["ua"].startswith("vivace/")
        assert await ws.ping() >= 0
        await ws.send_text("close")
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.receive()
        assert (info.value.code, info.value.reason) == (4000, "asked")
        with pytest.raises(WebSocketDisconnect):
            await ws.send_text("after close")
        with pytest.raises(WebSocketDisconnect):
            await ws.ping()


@pytest.mark.parametrize("server", SERVERS)
async def test_http_urls_basic_auth_and_no_compression(server: str) -> None:
    async with (
        websocket_server(server, APP) as base,
        Client(base_url=base) as client,
    ):
        url = base.replace("http://", "http://user:pw@") + "/ws"
        async with client.websocket_connect(url, compression=False) as ws:
            assert "sec-websocket-extensions" not in ws.headers
            await ws.send_text("headers")
            assert (await ws.receive_json())["auth"] == "Basic dXNlcjpwdw=="
        async with client.websocket_connect("/ws", auth=("a", "b")) as ws:
            await ws.send_text("headers")
            assert (await ws.receive_json())["auth"] == "Basic YTpi"


@pytest.mark.parametrize("server", SERVERS)
async def test_client_close_reaches_the_app(server: str) -> None:
    closed_codes.clear()
    async with websocket_server(server, APP) as base, Client() as client:
        async with client.websocket_connect(ws_url(base, "/record")) as ws:
            await ws.close(4321, "bye")
            assert ws.close_code == 4321
        await until(lambda: closed_codes, what="the close at the server")
    assert closed_codes == [4321]


@pytest.mark.parametrize("server", SERVERS)
async def test_refused_and_denied_handshakes(server: str) -> None:
    async with websocket_server(server, APP) as base, Client() as client:
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket_connect(ws_url(base, "/refuse")):
                pass
        assert info.value.response.status_code == 403
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket_connect(ws_url(base, "/deny")):
                pass
        assert info.value.response.status_code == 401
        assert info.value.response.json() == {"detail": "nope"}
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket_connect(ws_url(base, "/missing")):
                pass
        assert info.value.response.status_code == 404


@pytest.mark.parametrize("server", SERVERS)
async def test_oversized_message_from_server_is_1009(server: str) -> None:
    async with (
        websocket_server(server, APP) as base,
        Client() as client,
        client.websocket_connect(ws_url(base, "/ws"), max_message_size=1000) as ws,
    ):
        await ws.send_text("big")
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.receive()
        assert info.value.code == 1009


async def test_connect_errors_and_unsupported_transport() -> None:
    async with Client() as client:
        with pytest.raises(ConnectError):
            async with client.websocket_connect("ws://127.0.0.1:1/"):
                pass
    from vivace.client import MockTransport, Response

    async with Client(transport=MockTransport(lambda r: Response(200))) as client:
        with pytest.raises(UnsupportedProtocol):
            async with client.websocket_connect("ws://example.test/"):
                pass


# -- raw servers: a hand-written WebSocket server that can misbehave ----------------------


def server_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = False
) -> bytes:
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if size < 126:
        head = bytes([first, (0x80 if mask else 0) | size])
    else:
        head = bytes([first, (0x80 if mask else 0) | 126]) + struct.pack("!H", size)
    if mask:
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One masked client frame: (opcode, unmasked payload)."""
    head = await asyncio.wait_for(reader.readexactly(2), 10)
    size = head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", await reader.readexactly(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", await reader.readexactly(8))[0]
    key = await reader.readexactly(4)
    data = await reader.readexactly(size)
    return head[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


def handshake_response(head: bytes, *, accept: str | None = None, extra: bytes = b"") -> bytes:
    key = ""
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip().decode()
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + (accept or accept_key(key)).encode() + b"\r\n" + extra + b"\r\n"
    )


Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]


def raw_websocket_server(behaviour: Behaviour, ssl_context: ssl.SSLContext | None = None) -> Any:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        await behaviour(reader, writer, head)

    return raw_server(handler, ssl_context)


async def expect_handshake_error(behaviour: Behaviour, match: str, **options: Any) -> None:
    async with raw_websocket_server(behaviour) as base, Client() as client:
        with pytest.raises(RemoteProtocolError, match=match):
            async with client.websocket_connect(ws_url(base, "/"), **options):
                pass


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (b"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", "Upgrade: websocket"),
        (b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r\n", "Connection: upgrade"),
        (b"garbage\r\n\r\n", "malformed handshake"),
    ],
)
async def test_bad_handshake_responses(response: bytes, match: str) -> None:
    async def behaviour(reader: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(response)
        await writer.drain()
        await reader.read()

    await expect_handshake_error(behaviour, match)


@pytest.mark.parametrize(
    "head",
    [
        b"X-Long: " + b"a" * 100_000,  # one endless line: llhttp never reports the header
        b"".join(b"X-%d: value\r\n" % i for i in range(8000)),  # many short headers
    ],
)
async def test_handshake_response_head_is_bounded(head: bytes) -> None:
    async def behaviour(reader: Any, writer: asyncio.StreamWriter, _: bytes) -> None:
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\n" + head)
        await writer.drain()
        await reader.read()

    await expect_handshake_error(behaviour, "handshake response head is too large")


async def test_wrong_accept_key_subprotocol_and_extensions() -> None:
    async def wrong_key(reader: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(handshake_response(head, accept="AAAA"))
        await reader.read()

    await expect_handshake_error(wrong_key, "Sec-WebSocket-Accept")

    def answering(extra: bytes) -> Behaviour:
        async def behaviour(reader: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
            writer.write(handshake_response(head, extra=extra))
            await reader.read()

        return behaviour

    await expect_handshake_error(answering(b"Sec-WebSocket-Protocol: other\r\n"), "subprotocol")
    await expect_handshake_error(
        answering(b"Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        "not offered",
        compression=False,
    )
    await expect_handshake_error(
        answering(b"Sec-WebSocket-Extensions: x-unknown\r\n"), "unknown extension"
    )
    await expect_handshake_error(
        answering(b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99\r\n"),
        "Sec-WebSocket-Extensions",
    )


async def test_server_closes_during_handshake_and_eof_delimited_refusal() -> None:
    async def close_early(reader: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.close()

    await expect_handshake_error(close_early, "during the handshake")

    async def refuse(reader: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(b"HTTP/1.1 503 Busy\r\nConnection: close\r\n\r\ntry later")
        await writer.drain()
        writer.close()

    async with raw_websocket_server(refuse) as base, Client() as client:
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket_connect(ws_url(base, "/")):
                pass
    assert info.value.response.status_code == 503
    assert info.value.response.text == "try later"


async def test_handshake_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: Any, head: bytes) -> None:
        await reader.read()

    async with raw_websocket_server(silent) as base, Client(timeout=0.2) as client:
        with pytest.raises(ReadTimeout):
            async with client.websocket_connect(ws_url(base, "/")):
                pass


async def accept_then(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, data: bytes
) -> None:
    writer.write(handshake_response(head) + data)
    await writer.drain()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (server_frame(1, b"masked", mask=True), 1002),  # RFC 6455 5.1: servers never mask
        (server_frame(1, b"\xff\xfe"), 1007),
        (server_frame(3), 1002),
    ],
)
async def test_bad_frames_from_the_server(data: bytes, code: int) -> None:
    sent: list[tuple[int, bytes]] = []

    async def behaviour(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        await accept_then(reader, writer, head, data)
        sent.append(await read_frame(reader))  # our close frame
        writer.close()

    async with (
        raw_websocket_server(behaviour) as base,
        Client() as client,
        client.websocket_connect(ws_url(base, "/")) as ws,
    ):
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.receive()
        assert info.value.code == code
    assert sent[0][0] == 8 and struct.unpack("!H", sent[0][1][:2])[0] == code


async def test_frames_arriving_with_the_handshake_and_unsolicited_pongs() -> None:
    async def behaviour(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        await accept_then(
            reader, writer, head, server_frame(10, b"unasked") + server_frame(1, b"early")
        )
        _opcode, payload = await read_frame(reader)
        writer.write(server_frame(8, payload))  # echo the close
        await writer.drain()
        writer.close()

    async with (
        raw_websocket_server(behaviour) as base,
        Client() as client,
        client.websocket_connect(ws_url(base, "/")) as ws,
    ):
        assert await ws.receive_text() == "early"
        with pytest.raises(ReadTimeout):
            await ws.receive(timeout=0.05)


async def test_keepalive_pings_and_timeout() -> None:
    pings: list[bytes] = []

    async def no_pong(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        await accept_then(reader, writer, head, b"")
        while True:
            opcode, payload = await read_frame(reader)
            if opcode == 9:
                pings.append(payload)
                if len(pings) == 1:
                    writer.write(server_frame(10, payload))  # answer the first only
            elif opcode == 8:
                return

    async with (
        raw_websocket_server(no_pong) as base,
        Client() as client,
        client.websocket_connect(ws_url(base, "/"), ping_interval=0.05, ping_timeout=0.3) as ws,
    ):
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.receive(timeout=5)
        assert (info.value.code, info.value.reason) == (1011, "keepalive ping timeout")
    assert len(pings) == 2


async def test_close_timeout_when_the_server_never_answers() -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes) -> None:
        await accept_then(reader, writer, head, b"")
        await reader.read()

    async with raw_websocket_server(deaf) as base, Client() as client:
        started = asyncio.get_running_loop().time()
        async with client.websocket_connect(ws_url(base, "/"), close_timeout=0.2) as ws:
            pass
        assert asyncio.get_running_loop().time() - started < 3
        assert ws.close_code == 1000


async def test_server_drops_the_connection() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes) -> None:
        await accept_then(reader, writer, head, server_frame(1, b"last words"))
        writer.transport.abort()

    async with (
        raw_websocket_server(drop) as base,
        Client() as client,
        client.websocket_connect(ws_url(base, "/")) as ws,
    ):
        assert await ws.receive_text() == "last words"
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.receive()
        assert info.value.code == 1006


async def test_backpressure_pauses_reading() -> None:
    count = 2000

    async def flood(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        await accept_then(
            reader, writer, head, b"".join(server_frame(1, b"%d" % i) for i in range(count))
        )
        _opcode, payload = await read_frame(reader)
        writer.write(server_frame(8, payload))
        await writer.drain()
        writer.close()

    async with (
        raw_websocket_server(flood) as base,
        Client() as client,
        client.websocket_connect(ws_url(base, "/")) as ws,
    ):
        assert isinstance(ws, NetworkWebSocketSession)
        # Over the high-water mark, the socket stops reading.
        await until(lambda: ws._paused_reading, what="reading paused")
        received = [await ws.receive_text() for _ in range(count)]
        assert received == [str(i) for i in range(count)]
        assert not ws._paused_reading


async def test_wss(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def echo_once(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        await accept_then(reader, writer, head, b"")
        opcode, payload = await read_frame(reader)
        writer.write(server_frame(opcode, payload))
        opcode, payload = await read_frame(reader)
        writer.write(server_frame(8, payload))
        await writer.drain()
        writer.close()

    async with (
        raw_websocket_server(echo_once, context) as base,
        Client(verify=str(ca_file)) as client,
    ):
        url = base.replace("https://", "wss://") + "/"
        async with client.websocket_connect(url) as ws:
            await ws.send_text("secure")
            assert await ws.receive_text() == "secure"
