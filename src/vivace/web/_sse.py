"""Server-sent events (the HTML standard's ``text/event-stream``).

``EventSourceResponse`` streams events from an async (or sync) iterator. Each item may be
a ``ServerSentEvent``, a ``dict`` of its fields, or plain data (``str``; other objects are
JSON-encoded). While the iterator is quiet, a comment line (``: ping``) goes out every
``ping_interval`` seconds so proxies keep the connection open and a vanished client is
noticed. When the client disconnects the iterator is stopped (its ``finally`` runs).

Field values are checked: ``event`` and ``id`` may not hold CR or LF (they would start a
new field), ``id`` may not hold NUL (the standard ignores such ids); multi-line ``data``
is split into several ``data:`` lines, which the client joins back with ``\\n``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any

import orjson

from vivace.types import Send
from vivace.web._background import BackgroundTask
from vivace.web._concurrency import iterate_in_threadpool
from vivace.web._responses import StreamingResponse

__all__ = ["EventSourceResponse", "ServerSentEvent"]

_LINES = re.compile(r"\r\n|\r|\n")


class ServerSentEvent:
    """One event.

    >>> ServerSentEvent("hello\\nworld", event="greeting", id="7").encode()
    b'event: greeting\\ndata: hello\\ndata: world\\nid: 7\\n\\n'
    >>> ServerSentEvent({"n": 1}, retry=3000).encode()
    b'data: {"n":1}\\nretry: 3000\\n\\n'
    >>> ServerSentEvent(comment="keep-alive").encode()
    b': keep-alive\\n\\n'
    """

    __slots__ = ("comment", "data", "event", "id", "retry")

    def __init__(
        self,
        data: Any = None,
        *,
        event: str | None = None,
        id: str | int | None = None,
        retry: int | None = None,
        comment: str | None = None,
    ) -> None:
        if event is not None and _LINES.search(event):
            raise ValueError(f"an event name may not contain CR or LF: {event!r}")
        if id is not None:
            id = str(id)
            if _LINES.search(id) or "\x00" in id:
                raise ValueError(f"an event id may not contain CR, LF or NUL: {id!r}")
        if retry is not None and (not isinstance(retry, int) or retry < 0):
            raise ValueError(f"retry must be a non-negative number of milliseconds: {retry!r}")
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.comment = comment

    def encode(self) -> bytes:
        """The event in the ``text/event-stream`` format, UTF-8."""
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(": " + line for line in _LINES.split(self.comment))
        if self.event is not None:
            lines.append("event: " + self.event)
        data = self.data
        if data is not None:
            if isinstance(data, bytes):
                data = data.decode("utf-8")
            elif not isinstance(data, str):
                data = orjson.dumps(data).decode("utf-8")
            lines.extend("data: " + line for line in _LINES.split(data))
        if self.id is not None:
            lines.append("id: " + self.id)
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        return ("\n".join(lines) + "\n\n").encode("utf-8")

    def __repr__(self) -> str:
        return f"ServerSentEvent(data={self.data!r}, event={self.event!r}, id={self.id!r})"


def _encode(item: Any) -> bytes:
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, Mapping):
        return ServerSentEvent(**item).encode()
    return ServerSentEvent(item).encode()


_PING = b": ping\n\n"


class EventSourceResponse(StreamingResponse):
    """Stream server-sent events; keep-alive comments every ``ping_interval`` seconds.

    >>> async def events():
    ...     yield ServerSentEvent("first", id=1)
    ...     yield {"data": "second", "event": "update"}
    >>> response = EventSourceResponse(events())
    >>> response.headers["content-type"], response.headers["cache-control"]
    ('text/event-stream; charset=utf-8', 'no-cache')

    ``ping_interval=None`` turns the pings off.
    """

    __slots__ = ("ping_interval",)
    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterable[Any] | Iterable[Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        ping_interval: float | None = 15.0,
        background: BackgroundTask | None = None,
    ) -> None:
        source: AsyncIterable[Any] = (
            content if isinstance(content, AsyncIterable) else iterate_in_threadpool(content)
        )
        merged = {
            "cache-control": "no-cache",
            # nginx buffers proxied responses unless told not to; events must not wait.
            "x-accel-buffering": "no",
        }
        if headers is not None:
            merged.update({k.lower(): v for k, v in headers.items()})
        super().__init__(source, status_code, merged, None, background)
        self.ping_interval = ping_interval

    async def _send_body(self, send: Send) -> None:
        iterator = self.body_iterator
        lock = asyncio.Lock()
        pinger: asyncio.Task[None] | None = None
        body = asyncio.current_task()
        assert body is not None  # stream_until_done runs this in a task of its own
        gone: list[bool] = []  # set by a ping that found the client gone
        if self.ping_interval is not None:
            pinger = asyncio.get_running_loop().create_task(self._ping(send, lock, body, gone))
        try:
            async for item in iterator:
                data = _encode(item)
                async with lock:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
            async with lock:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            return  # the client is gone (ASGI 2.4: send raises OSError)
        except asyncio.CancelledError:
            # A failed ping stopped the iterator where it waited (a server that reports
            # the disconnect stops it through stream_until_done first). Only that
            # cancellation ends the stream quietly; any other goes on.
            if not gone or body.cancelling() > 1:
                raise
            body.uncancel()
        finally:
            if pinger is not None:
                pinger.cancel()
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _ping(
        self, send: Send, lock: asyncio.Lock, body: asyncio.Task[Any], gone: list[bool]
    ) -> None:
        assert self.ping_interval is not None
        try:
            while True:
                await asyncio.sleep(self.ping_interval)
                async with lock:
                    await send({"type": "http.response.body", "body": _PING, "more_body": True})
        except OSError:
            # The client is gone, but the iterator may wait for an event for a long time:
            # stop it now, so its finally blocks run and its resources are released.
            gone.append(True)
            body.cancel()
