"""``ASGITransport``: send requests to an ASGI app in-process, with no sockets.

Theory of operation. Each request runs the app as its own task with a fresh scope, a
``receive`` that hands over the request body and a ``send`` that feeds a small channel the
response stream reads from::

    client                          channel                          app task
    handle_async_request ──start──▶ wait for http.response.start ◀── send(start)
    response.stream      ◀─chunks── buffered body (bounded)       ◀── send(body, more_body)
    stream.aclose()      ──────────▶ disconnected: receive() gives http.disconnect,
                                     send() raises ClientDisconnected

The exchange states are: WAITING (no response head yet) → STREAMING (head received, body
flowing) → COMPLETE (last body or trailers message) ; any state → DISCONNECTED when the
client closes the response early. A response is only finished when the app task has
returned too, so what the app does after its last body message (background tasks) is done
when ``client.get()`` returns, and an exception raised there reaches the caller.

``receive()`` returns the request body in ``http.request`` messages, then blocks until the
response is complete or the client disconnected and returns ``http.disconnect``, which is
what servers do and what Starlette's disconnect listeners expect.

With ``raise_app_exceptions=True`` (the default) an exception in the app is re-raised to
the caller: from ``handle_async_request`` if it came before the response head, otherwise
when the body is read or closed. With ``False`` an app that fails before its head gives a
``500`` and one that fails mid-body gives a truncated body, as a real server would.
Every wait uses the request's read timeout.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Coroutine, Iterator
from types import CoroutineType
from typing import Any
from urllib.parse import quote, unquote

from vivace.client._config import DEFAULT_TIMEOUT, Timeout
from vivace.client._exceptions import ReadTimeout
from vivace.client._models import Request, Response
from vivace.client._streams import AsyncByteStream
from vivace.client._transport import AsyncBaseTransport
from vivace.client._waiters import wait
from vivace.client._websocket import WebSocketOptions, WebSocketSession
from vivace.http import DEFAULT_PORTS
from vivace.http._errors import ClientDisconnected
from vivace.types import ASGIApp, Message

__all__ = ["ASGITransport", "ClientDisconnected", "app_coroutine"]


def app_coroutine(awaitable: Awaitable[None]) -> Coroutine[Any, Any, None]:
    """What an ASGI app returned, as a coroutine a task can run. ASGI asks for an
    awaitable: most apps return a coroutine, a class such as an ``HTTPEndpoint`` returns
    an instance with ``__await__``."""
    if type(awaitable) is CoroutineType:
        return awaitable
    return _await(awaitable)


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable


# The body an app may buffer ahead of a slow reader before its send() waits.
_HIGH_WATER = 256 * 1024
_PATHSEND_CHUNK = 64 * 1024
_WAITING, _STREAMING, _COMPLETE, _DISCONNECTED = "waiting", "streaming", "complete", "disconnected"


class _Exchange:
    """One request's channel between the app task and the response stream."""

    __slots__ = (
        "body_iter",
        "buffered",
        "chunks",
        "disconnect_waiters",
        "early_hints",
        "error",
        "expect_trailers",
        "headers",
        "read_timeout",
        "reader",
        "request",
        "request_done",
        "start",
        "state",
        "status",
        "task",
        "trailers",
        "transport",
        "writer",
    )

    def __init__(self, transport: ASGITransport, request: Request, read_timeout: float | None):
        loop = asyncio.get_running_loop()
        self.transport = transport
        self.request = request
        self.read_timeout = read_timeout
        self.state = _WAITING
        self.start: asyncio.Future[None] = loop.create_future()
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.expect_trailers = False
        self.trailers: list[tuple[bytes, bytes]] = []
        self.early_hints: list[list[bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.reader: asyncio.Future[None] | None = None
        self.writer: asyncio.Future[None] | None = None
        self.disconnect_waiters: list[asyncio.Future[None]] = []
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None
        self.request_done = False
        stream = request.stream
        self.body_iter: AsyncIterator[bytes] | None = None
        if isinstance(stream, AsyncByteStream):
            self.body_iter = stream.__aiter__()
        elif stream is not None:
            self.body_iter = _sync_to_async(iter(stream))

    # -- waking the other side ----------------------------------------------------------

    def _wake(self, name: str) -> None:
        waiter: asyncio.Future[None] | None = getattr(self, name)
        if waiter is not None:
            setattr(self, name, None)
            if not waiter.done():
                waiter.set_result(None)

    def _end(self, state: str) -> None:
        self.state = state
        for waiter in self.disconnect_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.disconnect_waiters.clear()
        self._wake("reader")
        self._wake("writer")

    def app_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            self.error = task.exception()
        if not self.start.done():
            self.start.set_result(None)
        self._wake("reader")
        self._wake("writer")

    # -- the app's side -----------------------------------------------------------------

    async def receive(self) -> Message:
        if not self.request_done and self.body_iter is not None:
            try:
                chunk = await self.body_iter.__anext__()
            except StopAsyncIteration:
                self.request_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}
        if not self.request_done:
            self.request_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if self.state not in (_COMPLETE, _DISCONNECTED):
            waiter = asyncio.get_running_loop().create_future()
            self.disconnect_waiters.append(waiter)
            await waiter
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self.state == _DISCONNECTED:
            raise ClientDisconnected("the client closed the response")
        if kind == "http.response.start":
            if self.state != _WAITING:
                raise RuntimeError("the ASGI app sent 'http.response.start' twice")
            self.status = int(message["status"])
            self.headers = [(bytes(n).lower(), bytes(v)) for n, v in message.get("headers", ())]
            self.expect_trailers = bool(message.get("trailers", False))
            self.state = _STREAMING
            self.start.set_result(None)
        elif kind == "http.response.body":
            self._check_streaming(kind)
            await self._push(bytes(message.get("body", b"")))
            if not message.get("more_body", False) and not self.expect_trailers:
                self._end(_COMPLETE)
        elif kind == "http.response.pathsend":
            self._check_streaming(kind)
            with open(message["path"], "rb") as file:
                while chunk := file.read(_PATHSEND_CHUNK):
                    await self._push(chunk)
            self._end(_COMPLETE)
        elif kind == "http.response.trailers":
            self._check_streaming(kind)
            self.trailers.extend((bytes(n).lower(), bytes(v)) for n, v in message["headers"])
            if not message.get("more_trailers", False):
                self._end(_COMPLETE)
        elif kind == "http.response.early_hint":
            self.early_hints.append(list(message["links"]))
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} in an HTTP exchange")

    def _check_streaming(self, kind: str) -> None:
        if self.state == _WAITING:
            raise RuntimeError(f"the ASGI app sent {kind!r} before 'http.response.start'")
        if self.state == _COMPLETE:
            raise RuntimeError(f"the ASGI app sent {kind!r} after the response was complete")

    async def _push(self, chunk: bytes) -> None:
        if chunk:
            self.chunks.append(chunk)
            self.buffered += len(chunk)
            self._wake("reader")
        while self.buffered > _HIGH_WATER and self.state == _STREAMING:
            self.writer = asyncio.get_running_loop().create_future()
            await self.writer
        if self.state == _DISCONNECTED:
            raise ClientDisconnected("the client closed the response")

    # -- the client's side --------------------------------------------------------------

    def timeout_error(self) -> ReadTimeout:
        return ReadTimeout(
            f"the ASGI app did not respond within {self.read_timeout} s", request=self.request
        )

    async def next_chunk(self) -> bytes | None:
        while True:
            if self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self.buffered <= _HIGH_WATER:
                    self._wake("writer")
                return chunk
            if self.state in (_COMPLETE, _DISCONNECTED) or self.task is None or self.task.done():
                return None
            self.reader = asyncio.get_running_loop().create_future()
            await wait(self.reader, self.read_timeout, self.timeout_error)

    async def finish(self, disconnect: bool) -> None:
        """Wait for the app task to end; re-raise its error if the transport should."""
        if disconnect and self.state != _COMPLETE:
            self._end(_DISCONNECTED)
        task = self.task
        assert task is not None, "finish() runs once, after the app task started"
        if not task.done():
            done, _ = await asyncio.wait({task}, timeout=self.read_timeout)
            if not done:
                task.cancel()
                await asyncio.wait({task})
                raise self.timeout_error()
        self.task = None
        # Read the task, not self.error: its done-callback may not have run yet.
        error = None if task.cancelled() else task.exception()
        if error is None and self.state == _STREAMING:
            # The app returned mid-body (no final more_body=False): a server would close
            # the connection on a truncated response; in a test it is a bug to report.
            error = RuntimeError("the ASGI app returned without completing the response body")
        if error is None or not self.transport.raise_app_exceptions:
            return
        if self.state == _DISCONNECTED and _caused_by_disconnect(error):
            # The app failed because the client went away (Starlette turns our OSError
            # into its ClientDisconnect): what a server would log, not a test failure.
            return
        raise error


def _caused_by_disconnect(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 16:
        if isinstance(error, ClientDisconnected):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


async def _sync_to_async(it: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in it:
        yield chunk


class _ASGIResponseStream(AsyncByteStream):
    __slots__ = ("_exchange", "_finished")

    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange
        self._finished = False

    async def __aiter__(self) -> Any:
        exchange = self._exchange
        while (chunk := await exchange.next_chunk()) is not None:
            yield chunk
        await self._finish(disconnect=False)

    async def aread(self) -> bytes:
        exchange = self._exchange
        parts = []
        while (chunk := await exchange.next_chunk()) is not None:
            parts.append(chunk)
        await self._finish(disconnect=False)
        return b"".join(parts)

    async def _finish(self, disconnect: bool) -> None:
        if not self._finished:
            self._finished = True
            await self._exchange.finish(disconnect)

    async def aclose(self) -> None:
        await self._finish(disconnect=True)


class ASGITransport(AsyncBaseTransport):
    """Call an ASGI 3 app in-process.

    ``root_path`` is where the app is mounted: the scope's ``path`` includes it (ASGI
    spec 2.4), as behind a proxy that strips the prefix. ``client`` is the scope's client
    address. ``state`` is the lifespan state, copied into every request scope.

    >>> import asyncio
    >>> from vivace.client import Client
    >>> async def app(scope, receive, send):
    ...     await send({"type": "http.response.start", "status": 200, "headers": []})
    ...     await send({"type": "http.response.body", "body": scope["path"].encode()})
    >>> async def main():
    ...     async with Client(transport=ASGITransport(app), base_url="http://app") as client:
    ...         return (await client.get("/hello")).text
    >>> asyncio.run(main())
    '/hello'
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] | None = ("127.0.0.1", 123),
        state: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.root_path = root_path
        self.client = client
        self.state = state
        self._extensions: dict[str, dict[object, object]] = {
            "http.response.trailers": {},
            "http.response.pathsend": {},
            "http.response.early_hint": {},
        }

    def build_scope(self, request: Request) -> dict[str, Any]:
        """The ASGI HTTP scope for ``request``."""
        url = request.url
        raw_path = url.raw_path
        root_path = self.root_path
        port = url.port
        scheme = url.scheme or "http"
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.5"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": scheme,
            "path": root_path + unquote(raw_path),
            "raw_path": (quote(root_path) + raw_path).encode("ascii", "backslashreplace"),
            "query_string": url.query.encode("ascii", "backslashreplace"),
            "root_path": root_path,
            "headers": [(n, v) for n, v in request.headers.raw],
            "client": self.client,
            "server": (url.hostname or "", port if port is not None else DEFAULT_PORTS.get(scheme)),
            "extensions": {k: dict(v) for k, v in self._extensions.items()},
        }
        if self.state is not None:
            scope["state"] = self.state.copy()
        return scope

    async def handle_async_request(self, request: Request) -> Response:
        timeout = request.extensions.get("timeout", DEFAULT_TIMEOUT)
        read_timeout = timeout.read if isinstance(timeout, Timeout) else DEFAULT_TIMEOUT.read
        exchange = _Exchange(self, request, read_timeout)
        scope = self.build_scope(request)
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            app_coroutine(self.app(scope, exchange.receive, exchange.send))
        )
        exchange.task = task
        task.add_done_callback(exchange.app_done)
        try:
            await wait(exchange.start, read_timeout, exchange.timeout_error)
        except BaseException:
            # A timeout or a cancelled caller: the app must not outlive the request.
            exchange._end(_DISCONNECTED)
            task.cancel()
            raise
        if exchange.state == _WAITING:
            # The app ended without a response head: re-raise its error, or answer 500.
            await exchange.finish(disconnect=True)
            if self.raise_app_exceptions:
                raise RuntimeError("the ASGI app returned without sending a response")
            return Response._from_transport(
                500,
                [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21")],
                _InternalError(),
                request,
            )
        extensions: dict[str, Any] = {"trailers": exchange.trailers}
        if exchange.early_hints:
            extensions["early_hints"] = exchange.early_hints
        return Response._from_transport(
            exchange.status,
            exchange.headers,
            _ASGIResponseStream(exchange),
            request,
            extensions=extensions,
        )

    async def connect_websocket(
        self, request: Request, options: WebSocketOptions
    ) -> WebSocketSession:
        """Run the app's websocket scope in-process (see ``_websocket_asgi``)."""
        from vivace.client._websocket_asgi import ASGIWebSocketSession

        timeout = request.extensions.get("timeout", DEFAULT_TIMEOUT)
        read_timeout = timeout.read if isinstance(timeout, Timeout) else DEFAULT_TIMEOUT.read
        session = ASGIWebSocketSession(self, request, options, read_timeout)
        await session.start()
        return session


class _InternalError(AsyncByteStream):
    __slots__ = ()

    async def __aiter__(self) -> Any:
        yield b"Internal Server Error"

    async def aread(self) -> bytes:
        return b"Internal Server Error"
