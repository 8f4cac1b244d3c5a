"""WebSocket sessions with an ASGI app in-process (``ASGITransport.connect_websocket``).

Theory of operation. The app runs as a task with a websocket scope. Two one-way channels
join it to the session: messages for the app (``websocket.connect`` first, then what the
client sends, then ``websocket.disconnect``) and messages for the client. The session
moves through::

    HANDSHAKE --websocket.accept--> OPEN --close (either side) / app returns--> CLOSED
        |--websocket.close, websocket.http.response.*, app returns--> REJECTED

A refused handshake is what a server would answer: ``websocket.close`` before accepting
is a 403, a denial response (``websocket.http.response``, offered in the scope's
extensions) is itself, an app that fails before accepting is a 500 (or its exception,
with ``raise_app_exceptions``). An app that returns after accepting closes with 1000 and
one that fails closes with 1011; with ``raise_app_exceptions`` its exception is raised
in the test by the next ``receive`` and by the session's exit, as the test's own error.
Every wait is bounded by the client's read timeout.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from vivace.client._asgi import app_coroutine
from vivace.client._exceptions import ReadTimeout
from vivace.client._models import Response
from vivace.client._streams import ByteStream
from vivace.client._waiters import wait
from vivace.client._websocket import WebSocketOptions, WebSocketRejected, WebSocketSession
from vivace.http import DEFAULT_PORTS, Headers, WebSocketDisconnect
from vivace.types import Message

if TYPE_CHECKING:
    from vivace.client._asgi import ASGITransport
    from vivace.client._models import Request

__all__ = ["ASGIWebSocketSession"]

_HANDSHAKE, _OPEN, _CLOSED, _REJECTED = "handshake", "open", "closed", "rejected"

# Headers a client sends on the handshake; the scope carries them as a server would.
_HANDSHAKE_HEADERS = [
    (b"connection", b"upgrade"),
    (b"upgrade", b"websocket"),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
]


class ASGIWebSocketSession(WebSocketSession):
    """A WebSocket session with an in-process ASGI app (see the module docstring)."""

    def __init__(
        self,
        transport: ASGITransport,
        request: Request,
        options: WebSocketOptions,
        timeout: float | None,
    ) -> None:
        self._transport = transport
        self._request = request
        self._options = options
        self._timeout = timeout
        self.headers = Headers()
        self._state = _HANDSHAKE
        self._to_app: deque[Message] = deque([{"type": "websocket.connect"}])
        self._to_client: deque[str | bytes] = deque()
        self._app_waiter: asyncio.Future[None] | None = None
        self._client_waiter: asyncio.Future[None] | None = None
        self._handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._denial: tuple[int, list[tuple[bytes, bytes]], list[bytes]] | None = None
        self._app_closed = False
        self._accepted = False
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    # -- starting ------------------------------------------------------------------------

    def build_scope(self) -> dict[str, Any]:
        request = self._request
        url = request.url
        transport = self._transport
        raw_path = url.raw_path
        root_path = transport.root_path
        secure = url.scheme in ("https", "wss")
        port = url.port
        headers = [(n, v) for n, v in request.headers.raw if n not in _DROPPED]
        headers.extend(_HANDSHAKE_HEADERS)
        subprotocols = self._options.subprotocols
        if subprotocols:
            headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
        scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.5"},
            "http_version": "1.1",
            "scheme": "wss" if secure else "ws",
            "path": root_path + unquote(raw_path),
            "raw_path": (quote(root_path) + raw_path).encode("ascii", "backslashreplace"),
            "query_string": url.query.encode("ascii", "backslashreplace"),
            "root_path": root_path,
            "headers": headers,
            "client": transport.client,
            "server": (
                url.hostname or "",
                port if port is not None else DEFAULT_PORTS.get("https" if secure else "http"),
            ),
            "subprotocols": list(subprotocols),
            "extensions": {"websocket.http.response": {}},
        }
        if transport.state is not None:
            scope["state"] = transport.state.copy()
        return scope

    async def start(self) -> None:
        """Run the app and wait for its answer to the handshake."""
        scope = self.build_scope()
        app = self._transport.app
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            app_coroutine(app(scope, self._app_receive, self._app_send))
        )
        self._task = task
        task.add_done_callback(self._app_done)
        try:
            await wait(self._handshake, self._timeout, self._timeout_error)
        except BaseException:
            task.cancel()
            raise
        if self._accepted:  # (the app may have closed again already: still a session)
            return
        # Rejected (or the app ended): finish the task, then raise what a client sees.
        await self._finish_task()
        error = self._error
        raise_errors = self._transport.raise_app_exceptions
        if error is not None and raise_errors:
            raise error
        if self._denial is not None:
            status, headers, body = self._denial
        elif error is not None:
            status, headers, body = 500, [(b"content-type", b"text/plain")], [b"Internal Error"]
        elif self._app_closed:
            status, headers, body = 403, [(b"content-length", b"0")], []
        else:
            if raise_errors:
                raise RuntimeError("the ASGI app returned without accepting the WebSocket")
            status, headers, body = 500, [(b"content-length", b"0")], []
        response = Response._from_transport(
            status, headers, ByteStream(b"".join(body)), self._request
        )
        await response.aread()
        raise WebSocketRejected(
            f"the WebSocket handshake was refused with {status}",
            request=self._request,
            response=response,
        )

    def _timeout_error(self) -> ReadTimeout:
        return ReadTimeout(
            f"the ASGI app did not answer within {self._timeout} s", request=self._request
        )

    def _app_done(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None and not (self._state == _CLOSED and isinstance(error, _DISCONNECTS)):
            # (An app that fails because the client left is what a server would log.)
            self._error = error
        if self._state == _HANDSHAKE:
            self._state = _REJECTED
        elif self._state == _OPEN:
            # ASGI: an app that returns closes the connection (1000); one that fails, 1011.
            self._close_from_app(1011 if self._error is not None else 1000, "")
        if not self._handshake.done():
            self._handshake.set_result(None)
        self._wake_client()

    # -- the app's side ----------------------------------------------------------------

    async def _app_receive(self) -> Message:
        while not self._to_app:
            if self._state in (_CLOSED, _REJECTED):
                return {
                    "type": "websocket.disconnect",
                    "code": self.close_code or 1000,
                    "reason": self.close_reason,
                }
            waiter = self._app_waiter = asyncio.get_running_loop().create_future()
            await waiter
        return self._to_app.popleft()

    async def _app_send(self, message: Message) -> None:
        kind = message["type"]
        state = self._state
        if state == _HANDSHAKE:
            if kind == "websocket.accept":
                subprotocol = message.get("subprotocol")
                if subprotocol is not None and subprotocol not in self._options.subprotocols:
                    raise RuntimeError(
                        f"the app accepted subprotocol {subprotocol!r}, which was not offered"
                    )
                self.subprotocol = subprotocol
                raw = [(bytes(n), bytes(v)) for n, v in message.get("headers", ())]
                self.headers = Headers(raw)
                self._state = _OPEN
                self._accepted = True
                self._handshake.set_result(None)
            elif kind == "websocket.close":
                self._app_closed = True
                self._state = _REJECTED
                self._handshake.set_result(None)
            elif kind == "websocket.http.response.start":
                headers = [(bytes(n).lower(), bytes(v)) for n, v in message.get("headers", ())]
                self._denial = (int(message["status"]), headers, [])
                self._state = "responding"
            else:
                raise RuntimeError(f"unexpected ASGI message {kind!r} before the handshake")
            return
        if state == "responding":
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"unexpected ASGI message {kind!r} in a denial response")
            assert self._denial is not None
            self._denial[2].append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self._state = _REJECTED
                self._handshake.set_result(None)
            return
        if state == _OPEN:
            if kind == "websocket.send":
                text, data = message.get("text"), message.get("bytes")
                if (text is None) == (data is None):
                    raise RuntimeError("a websocket.send message needs one of 'text' or 'bytes'")
                self._to_client.append(text if text is not None else bytes(data or b""))
                self._wake_client()
                return
            if kind == "websocket.close":
                self._close_from_app(int(message.get("code") or 1000), message.get("reason") or "")
                return
            raise RuntimeError(f"unexpected ASGI message {kind!r} on an open WebSocket")
        if self._app_closed:
            raise RuntimeError(f"the app sent {kind!r} after closing the WebSocket")
        from vivace.client._asgi import ClientDisconnected

        raise ClientDisconnected("the client closed the WebSocket")

    def _close_from_app(self, code: int, reason: str) -> None:
        self._state = _CLOSED
        self._app_closed = True
        self.close_code = code
        self.close_reason = reason
        self._wake_client()
        self._wake_app()

    def _wake_app(self) -> None:
        waiter = self._app_waiter
        if waiter is not None:
            self._app_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _wake_client(self) -> None:
        waiter = self._client_waiter
        if waiter is not None:
            self._client_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- the client's side -------------------------------------------------------------

    async def send(self, data: str | bytes) -> None:
        if self._state != _OPEN:
            self._raise_app_error()
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        if isinstance(data, str):
            self._to_app.append({"type": "websocket.receive", "text": data})
        else:
            self._to_app.append({"type": "websocket.receive", "bytes": bytes(data)})
        self._wake_app()

    async def receive(self, timeout: float | None = None) -> str | bytes:
        while not self._to_client:
            if self._state != _OPEN:
                self._raise_app_error()
                raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
            waiter = self._client_waiter = asyncio.get_running_loop().create_future()
            limit = self._timeout if timeout is None else timeout
            await wait(waiter, limit, functools.partial(self._receive_timeout, limit))
        return self._to_client.popleft()

    def _receive_timeout(self, limit: float | None) -> ReadTimeout:
        return ReadTimeout(f"no WebSocket message within {limit} s", request=self._request)

    def _raise_app_error(self) -> None:
        error = self._error
        if error is not None and self._transport.raise_app_exceptions:
            self._error = None
            raise error

    async def ping(self, data: bytes = b"") -> float:
        if self._state != _OPEN:
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        return 0.0  # in-process: no wire, the "pong" is immediate

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._state == _OPEN:
            self._state = _CLOSED
            self.close_code = code
            self.close_reason = reason
            self._to_app.append({"type": "websocket.disconnect", "code": code, "reason": reason})
            self._wake_app()
        await self._finish_task()
        self._raise_app_error()

    async def _finish_task(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=self._options.close_timeout)
        if not done:
            # An app that ignores the disconnect: it must not outlive the session.
            task.cancel()
            await asyncio.wait({task})


def _disconnect_errors() -> tuple[type[BaseException], ...]:
    from vivace.client._asgi import ClientDisconnected

    return (ClientDisconnected, WebSocketDisconnect)


_DISCONNECTS = _disconnect_errors()
_DROPPED = frozenset((b"accept-encoding", b"content-length", b"content-type"))
