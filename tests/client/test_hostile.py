"""Malformed and hostile servers, from a raw socket: truncated bodies, bad chunk sizes,
oversized headers, a close mid-response, a server that never answers, one that never
reads, one that talks out of turn. Every case ends in a typed error, never a hang."""

from __future__ import annotations

import asyncio

import pytest

from vivace.client import (
    Client,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Timeout,
    WriteTimeout,
)

from .servers import raw_server, read_head, read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def replying(*responses: bytes, close: bool = True) -> object:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for response in responses:
            await read_request(reader)
            writer.write(response)
            await writer.drain()
        if close:
            writer.close()
        else:
            await reader.read()

    return handler


@pytest.mark.parametrize(
    ("response", "error", "match"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly fifty",
            RemoteProtocolError,
            "mid-body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            RemoteProtocolError,
            "mid-body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
            RemoteProtocolError,
            "malformed",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-", RemoteProtocolError, "before the response head"),
        (b"", RemoteProtocolError, "before the response head"),
        (b"garbage\r\n\r\n", RemoteProtocolError, "malformed"),
    ],
)
async def test_broken_responses(response: bytes, error: type[Exception], match: str) -> None:
    async with raw_server(replying(response)) as url, Client() as client:  # type: ignore[arg-type]
        with pytest.raises(error, match=match) as info:
            await client.get(url + "/x")
        assert info.value.request.url.path == "/x"  # type: ignore[attr-defined]
        assert client.transport.pool.connection_count == 0  # type: ignore[attr-defined]


async def test_oversized_headers() -> None:
    huge = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 100) for i in range(800))
    async with raw_server(replying(huge + b"\r\n")) as url, Client() as client:  # type: ignore[arg-type]
        with pytest.raises(RemoteProtocolError, match="larger than 65536"):
            await client.get(url)
    endless = b"HTTP/1.1 200 OK\r\nX-Endless: " + b"a" * 200_000
    async with raw_server(replying(endless, close=False)) as url, Client() as client:  # type: ignore[arg-type]
        with pytest.raises(RemoteProtocolError, match="larger than 65536"):
            await client.get(url)
    small = Client(max_header_size=100)
    async with raw_server(replying(b"HTTP/1.1 200 OK\r\nX: " + b"v" * 200 + b"\r\n\r\n")) as url:  # type: ignore[arg-type]
        with pytest.raises(RemoteProtocolError, match="larger than 100"):
            await small.get(url)
    await small.aclose()


async def test_close_mid_streamed_response() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"a" * 1000)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()

    async with raw_server(handler) as url, Client() as client:
        async with client.stream("GET", url) as r:
            with pytest.raises(RemoteProtocolError, match="mid-body") as info:
                async for _ in r.aiter_bytes():
                    pass
        assert info.value.request.url == r.request.url


async def test_server_that_never_answers() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(30)

    async with raw_server(handler) as url, Client(timeout=Timeout(5.0, read=0.2)) as client:
        with pytest.raises(ReadTimeout, match=r"0\.2"):
            await client.get(url)
        with pytest.raises(TimeoutError):  # the timeouts are builtin TimeoutErrors too
            await client.get(url, timeout=0.1)


async def test_server_that_never_reads_gives_write_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async def body() -> object:
        for _ in range(2000):
            yield b"x" * 65536

    async with raw_server(handler) as url, Client(timeout=Timeout(5.0, write=0.2)) as client:
        with pytest.raises(WriteTimeout):
            await client.post(url, content=body())  # type: ignore[arg-type]


async def test_unsolicited_bytes_close_the_idle_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK + b"HTTP/1.1 200 OK\r\n\r\nextra")
        await writer.drain()
        await reader.read()

    async with raw_server(handler) as url, Client() as client:
        r = await client.get(url)
        assert r.text == "ok"
        for _ in range(100):
            if client.transport.pool.connection_count == 0:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.01)
        assert client.transport.pool.connection_count == 0  # type: ignore[attr-defined]


async def test_stale_keepalive_connection_is_retried_once() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        # Read the next request, then close without answering: a server that timed the
        # idle connection out just as the client reused it.
        await read_head(reader)
        writer.transport.abort()

    async with raw_server(handler) as url, Client() as client:
        assert (await client.get(url)).text == "ok"
        assert (await client.get(url)).text == "ok"  # retried on a new connection
        assert connections == 2

    async def streaming() -> object:
        yield b"not replayable"

    async with raw_server(handler) as url, Client() as client:
        assert (await client.get(url)).text == "ok"
        with pytest.raises(ReadError, match="kept-alive"):
            await client.put(url, content=streaming())  # type: ignore[arg-type]
    async with raw_server(handler) as url, Client() as client:
        assert (await client.get(url)).text == "ok"
        with pytest.raises(ReadError, match="kept-alive"):
            await client.post(url, content=b"never sent twice")


async def test_connect_errors() -> None:
    async with raw_server(replying(OK)) as url:  # type: ignore[arg-type]
        pass  # the port is closed now
    async with Client() as client:
        with pytest.raises(ConnectError, match="could not connect") as info:
            await client.get(url + "/gone")
        assert info.value.request.url.path == "/gone"
        with pytest.raises(ConnectTimeout):
            await client.get(url, timeout=Timeout(5.0, connect=0.0))
        with pytest.raises(ConnectError):
            await client.get("http://name.invalid/")


@pytest.mark.parametrize(
    "response",
    [
        # Both framings at once: the classic request/response smuggling shape.
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Bare: a\rb\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    ],
)
async def test_ambiguous_or_dirty_heads_are_refused(response: bytes) -> None:
    async with raw_server(replying(response)) as url, Client() as client:  # type: ignore[arg-type]
        with pytest.raises(RemoteProtocolError):
            await client.get(url)


async def test_slow_drip_within_the_read_timeout_succeeds() -> None:
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        for i in range(0, len(response), 8):
            writer.write(response[i : i + 8])
            await writer.drain()
            await asyncio.sleep(0.03)
        await reader.read()

    # The read timeout bounds each gap, not the whole response (about 0.2 s here).
    async with raw_server(drip) as url, Client(timeout=Timeout(5.0, read=0.15)) as client:
        assert (await client.get(url)).text == "0123456789"


async def test_interim_100_continue_then_final() -> None:
    response = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"
    async with raw_server(replying(response, close=False)) as url, Client() as client:  # type: ignore[arg-type]
        r = await client.post(url, content=b"payload")
        assert r.status_code == 201 and r.text == "done"


async def test_shorter_timeout_on_a_connection_with_a_later_timer() -> None:
    async def first_then_stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await read_request(reader)
        await asyncio.sleep(30)

    async with raw_server(first_then_stall) as url, Client(timeout=30.0) as client:
        assert (await client.get(url)).text == "ok"  # arms the connection's timer at +30 s
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ReadTimeout):
            await client.get(url, timeout=Timeout(30.0, read=0.1))
        assert loop.time() - started < 5
