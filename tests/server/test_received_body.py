"""``received_body()`` (``vivace.types.WholeBodyReceiver``): a body that has all arrived,
taken in one call as ``receive()`` would take it, or None where ``receive()`` must be used."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.server.conftest import Harness
from vivace.server._cycle import READ_HIGH_WATER
from vivace.types import Message, Receive, Scope, Send, WholeBodyReceiver

Make = Callable[..., Harness]


def recording(steps: Callable[[Any, Receive], Any]) -> tuple[Any, list[Any]]:
    """An app that records what ``steps(owner, receive)`` returns and answers 200."""
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        owner = receive.__self__  # type: ignore[attr-defined]
        seen.append(await steps(owner, receive))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app, seen


async def test_a_body_that_came_with_its_head(make: Make) -> None:
    async def steps(owner: Any, receive: Receive) -> Any:
        assert isinstance(owner, WholeBodyReceiver)
        return owner.received_body(), owner.received_body()

    app, seen = recording(steps)
    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd")
    assert (await h.response()).status == 200
    # Taken once: the second call finds nothing to take, as receive() would then wait.
    assert seen == [(b"abcd", None)]


async def test_no_body_is_an_empty_body(make: Make) -> None:
    async def steps(owner: Any, receive: Receive) -> Any:
        return owner.received_body()

    app, seen = recording(steps)
    h = make(app)
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.response()
    assert seen == [b""]


async def test_a_body_still_arriving_is_left_to_receive(make: Make) -> None:
    async def steps(owner: Any, receive: Receive) -> Any:
        first = owner.received_body()
        messages: list[Message] = []
        while not messages or messages[-1].get("more_body"):
            messages.append(await receive())
        return first, b"".join(m["body"] for m in messages), owner.received_body()

    app, seen = recording(steps)
    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
    await h.wait_for(lambda: h.proto.cycle is not None)
    await asyncio.sleep(0)
    await h.send(b"def")
    assert (await h.response()).status == 200
    assert seen == [(None, b"abcdef", None)]


async def test_after_receive_took_the_body(make: Make) -> None:
    async def steps(owner: Any, receive: Receive) -> Any:
        message = await receive()
        return message["body"], owner.received_body()

    app, seen = recording(steps)
    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    await h.response()
    assert seen == [(b"hi", None)]


async def test_a_large_body_resumes_reading(make: Make) -> None:
    # The app starts on the head; the rest of the body arrives while it does not read,
    # beyond the high-water mark: reading pauses until the body is taken.
    size = READ_HIGH_WATER + 10
    arrived = asyncio.Event()
    state: dict[str, Any] = {}

    async def steps(owner: Any, receive: Receive) -> Any:
        await arrived.wait()
        state["paused"] = not h.transport.reading
        body = owner.received_body()
        state["reading"] = h.transport.reading
        return len(body)

    app, seen = recording(steps)
    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nx" % size)
    await h.wait_for(lambda: h.proto.cycle is not None)
    await h.send(b"x" * (size - 1))
    arrived.set()
    await h.response()
    assert seen == [size]
    assert state == {"paused": True, "reading": True}


async def test_nothing_after_a_disconnect(make: Make) -> None:
    taken: list[Any] = []
    gone = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await gone.wait()
        taken.append(receive.__self__.received_body())  # type: ignore[attr-defined]

    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    await h.wait_for(lambda: h.proto.cycle is not None)
    h.proto.connection_lost(None)
    gone.set()
    await h.wait_for(lambda: bool(taken))
    assert taken == [None]


async def test_nothing_once_the_response_is_done(make: Make) -> None:
    taken: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        taken.append(receive.__self__.received_body())  # type: ignore[attr-defined]

    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    assert (await h.response()).status == 204
    await h.wait_for(lambda: bool(taken))
    assert taken == [None]
