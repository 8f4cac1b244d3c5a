"""``received_body()`` over HTTP/2 (``vivace.types.WholeBodyReceiver``): a stream's body
that has all arrived, taken in one call as ``receive()`` would take it, or None where
``receive()`` must be used; the flow-control windows reopen for what is taken."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.server.h2harness import h2_connect
from tests.server.test_received_body import recording
from vivace.types import Message, Receive, Scope, Send, WholeBodyReceiver

Make = Any


async def test_a_stream_that_ended_is_taken_once(make: Make) -> None:
    async def steps(owner: Any, receive: Receive) -> Any:
        assert isinstance(owner, WholeBodyReceiver)
        return owner.received_body(), owner.received_body()

    app, seen = recording(steps)
    _, client = await h2_connect(make, app)
    sid = await client.request("POST", body=b"abcd")
    assert (await client.response(sid)).status == 200
    # Taken once: the second call finds nothing to take, as receive() would then wait.
    assert seen == [(b"abcd", None)]


async def test_no_body_is_an_empty_body(make: Make) -> None:
    async def steps(owner: Any, receive: Receive) -> Any:
        return owner.received_body()

    app, seen = recording(steps)
    _, client = await h2_connect(make, app)
    await client.response(await client.request())
    assert seen == [b""]


async def test_a_body_still_arriving_is_left_to_receive(make: Make) -> None:
    started = asyncio.Event()

    async def steps(owner: Any, receive: Receive) -> Any:
        first = owner.received_body()
        started.set()
        messages: list[Message] = []
        while not messages or messages[-1].get("more_body"):
            messages.append(await receive())
        return first, b"".join(m["body"] for m in messages), owner.received_body()

    app, seen = recording(steps)
    _, client = await h2_connect(make, app)
    sid = await client.request("POST", body=b"abc", end=False)
    await client.wait(started.is_set)
    client.conn.send_data(sid, b"def", end_stream=True)
    await client.flush()
    assert (await client.response(sid)).status == 200
    assert seen == [(None, b"abcdef", None)]


async def test_after_receive_took_the_body(make: Make) -> None:
    async def steps(owner: Any, receive: Receive) -> Any:
        message = await receive()
        return message["body"], owner.received_body()

    app, seen = recording(steps)
    _, client = await h2_connect(make, app)
    await client.response(await client.request("POST", body=b"hi"))
    assert seen == [(b"hi", None)]


async def test_a_taken_body_reopens_the_windows(make: Make) -> None:
    # Bodies that fill most of the connection's window, taken by received_body() alone:
    # unless what it takes is acknowledged, the later streams could not send theirs.
    async def steps(owner: Any, receive: Receive) -> Any:
        body = owner.received_body()
        if body is None:  # the general way, for a body still arriving
            parts: list[bytes] = []
            while True:
                message = await receive()
                parts.append(message["body"])
                if not message.get("more_body"):
                    break
            body = b"".join(parts)
        return len(body)

    app, seen = recording(steps)
    _, client = await h2_connect(make, app, h2_initial_window_size=65535)
    for _ in range(4):
        sid = await client.request("POST", body=b"x" * 50_000)
        assert (await client.response(sid)).status == 200
    assert seen == [50_000] * 4


async def test_nothing_after_a_disconnect_or_the_response(make: Make) -> None:
    taken: list[Any] = []
    gone = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        owner = receive.__self__  # type: ignore[attr-defined]
        if scope["path"] == "/done":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            taken.append(owner.received_body())
            return
        await gone.wait()
        taken.append(owner.received_body())

    h, client = await h2_connect(make, app)
    sid = await client.request("POST", path="/done", body=b"hi")
    assert (await client.response(sid)).status == 204
    await client.wait(lambda: len(taken) == 1)
    await client.request("POST", path="/gone", body=b"hi")
    await client.wait(lambda: bool(h.transport.protocol.exchanges))  # type: ignore[union-attr]
    h.transport.protocol.connection_lost(None)  # type: ignore[union-attr]
    gone.set()
    await client.wait(lambda: len(taken) == 2)
    assert taken == [None, None]
