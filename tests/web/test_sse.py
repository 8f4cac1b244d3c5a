"""Server-sent events: encoding, pings, disconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from vivace.testing import AsyncTestClient, TestClient
from vivace.types import Message
from vivace.web import App, EventSourceResponse, Request, Route, ServerSentEvent


def test_event_encoding() -> None:
    assert ServerSentEvent("a\r\nb\rc").encode() == b"data: a\ndata: b\ndata: c\n\n"
    assert ServerSentEvent(b"bytes", id=3).encode() == b"data: bytes\nid: 3\n\n"
    assert ServerSentEvent([1, "x"]).encode() == b'data: [1,"x"]\n\n'
    assert ServerSentEvent("", event="e").encode() == b"event: e\ndata: \n\n"
    assert ServerSentEvent(comment="a\nb").encode() == b": a\n: b\n\n"
    assert ServerSentEvent(retry=0).encode() == b"retry: 0\n\n"
    assert "ServerSentEvent(data='x'" in repr(ServerSentEvent("x"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "a\nb"},
        {"event": "a\rb"},
        {"id": "1\n2"},
        {"id": "1\x002"},
        {"retry": -1},
        {"retry": "10"},
    ],
)
def test_event_fields_refuse_injection(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"may not contain|retry must be"):
        ServerSentEvent("x", **kwargs)


def test_stream_of_events() -> None:
    async def events() -> AsyncIterator[Any]:
        yield ServerSentEvent("one", id=1, event="tick")
        yield {"data": {"n": 2}, "id": 2}
        yield "three"

    async def handler(request: Request) -> EventSourceResponse:
        return EventSourceResponse(events(), headers={"X-Extra": "1"})

    c = TestClient(App(routes=[Route("/events", handler)]))
    with c.stream("GET", "/events") as r:
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"
        assert r.headers["x-extra"] == "1"
        lines = list(r.iter_lines())
    assert lines == [
        "event: tick",
        "data: one",
        "id: 1",
        "",
        'data: {"n":2}',
        "id: 2",
        "",
        "data: three",
        "",
    ]


def test_sync_iterator_of_events() -> None:
    def events() -> Iterator[str]:
        yield "a"
        yield "b"

    async def handler(request: Request) -> EventSourceResponse:
        return EventSourceResponse(events(), ping_interval=None)

    r = TestClient(App(routes=[Route("/", handler)])).get("/")
    assert r.text == "data: a\n\ndata: b\n\n"


async def test_pings_while_quiet_and_stop_on_disconnect() -> None:
    stopped = asyncio.Event()
    release = asyncio.Event()

    async def quiet() -> AsyncIterator[str]:
        try:
            yield "hello"
            await release.wait()  # never set: only pings go out
            yield "never"
        finally:
            stopped.set()

    async def handler(request: Request) -> EventSourceResponse:
        return EventSourceResponse(quiet(), ping_interval=0.02)

    app = App(routes=[Route("/", handler)])
    async with AsyncTestClient(app) as client:
        async with client.stream("GET", "/") as r:
            seen: list[str] = []
            async for line in r.aiter_lines():
                seen.append(line)
                if seen.count(": ping") >= 2:
                    break
        assert seen[:2] == ["data: hello", ""]
        await asyncio.wait_for(stopped.wait(), 5)


async def test_send_failure_stops_stream_and_pinger() -> None:
    stopped = asyncio.Event()

    async def events() -> AsyncIterator[str]:
        try:
            while True:
                yield "x"
                await asyncio.sleep(0)
        finally:
            stopped.set()

    calls = 0

    async def send(message: Message) -> None:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise ConnectionResetError

    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError

    response = EventSourceResponse(events(), ping_interval=0.001)
    await asyncio.wait_for(response({"type": "http", "method": "GET"}, receive, send), 5)
    assert stopped.is_set()


async def test_pinger_stops_on_send_failure() -> None:
    async def slow() -> AsyncIterator[str]:
        await asyncio.sleep(0.05)
        yield "late"

    failures = 0

    async def send(message: Message) -> None:
        nonlocal failures
        if message.get("body") == b": ping\n\n":
            failures += 1
            raise ConnectionResetError

    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError

    response = EventSourceResponse(slow(), ping_interval=0.001)
    await asyncio.wait_for(response({"type": "http", "method": "GET"}, receive, send), 5)
    assert failures == 1


async def test_failed_ping_stops_a_waiting_iterator() -> None:
    """A server that never reports the disconnect: the failed ping stops the stream."""
    stopped = asyncio.Event()

    async def waiting() -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.Event().wait()  # no event will ever come
            yield "never"
        finally:
            stopped.set()

    sent: list[bytes] = []

    async def send(message: Message) -> None:
        if message.get("body") == b": ping\n\n":
            raise ConnectionResetError
        sent.append(message.get("body", b""))

    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError

    response = EventSourceResponse(waiting(), ping_interval=0.001)
    await asyncio.wait_for(response({"type": "http", "method": "GET"}, receive, send), 5)
    assert stopped.is_set()
    assert b"data: first\n\n" in sent and b"" not in sent[1:]  # not completed: cut


async def test_failed_ping_does_not_swallow_an_outer_cancellation() -> None:
    stopped = asyncio.Event()

    async def waiting() -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.Event().wait()
        finally:
            stopped.set()

    outer: list[asyncio.Task[Any]] = []

    async def send(message: Message) -> None:
        if message.get("body") == b": ping\n\n":
            outer[0].cancel()  # the server cancels the app as the ping fails
            raise ConnectionResetError

    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError

    response = EventSourceResponse(waiting(), ping_interval=0.001)
    task = asyncio.get_running_loop().create_task(
        response({"type": "http", "method": "GET"}, receive, send)
    )
    outer.append(task)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert stopped.is_set()
