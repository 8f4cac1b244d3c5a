"""The ASGI vocabulary, named once for the whole stack.

``Scope``, ``Message``, ``Receive``, ``Send`` and ``ASGIApp`` are what every layer passes
around: they are deliberately loose (mutable mappings), because ASGI servers and apps from
other projects fill them in and read them. The ``TypedDict`` classes below describe each
message exactly as the ASGI specification (version 3.0, HTTP spec 2.4) lays it out; use
them where a precise type helps, for example when building a message::

    from vivace.types import HTTPResponseStartEvent

    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain")],
        "trailers": False,
    }
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Literal, NotRequired, Protocol, TypedDict, runtime_checkable

__all__ = [
    "ASGIApp",
    "ASGIVersions",
    "HTTPDisconnectEvent",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseEarlyHintEvent",
    "HTTPResponsePathsendEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPScope",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "Message",
    "RawHeaders",
    "Receive",
    "Scope",
    "Send",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnectEvent",
    "WebSocketReceiveEvent",
    "WebSocketResponseBodyEvent",
    "WebSocketResponseStartEvent",
    "WebSocketScope",
    "WebSocketSendEvent",
    "WholeBodyReceiver",
    "WholeResponseSender",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Header pairs as ASGI carries them: names lower-cased, both sides bytes.
RawHeaders = list[tuple[bytes, bytes]]


class ASGIVersions(TypedDict):
    version: Literal["3.0"]
    spec_version: str


class HTTPScope(TypedDict):
    type: Literal["http"]
    asgi: ASGIVersions
    http_version: str
    method: str
    scheme: str
    path: str
    raw_path: bytes
    query_string: bytes
    root_path: str
    headers: Iterable[tuple[bytes, bytes]]
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]]]


class WebSocketScope(TypedDict):
    type: Literal["websocket"]
    asgi: ASGIVersions
    http_version: str
    scheme: str
    path: str
    raw_path: bytes
    query_string: bytes
    root_path: str
    headers: Iterable[tuple[bytes, bytes]]
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    subprotocols: Iterable[str]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]]]


class LifespanScope(TypedDict):
    type: Literal["lifespan"]
    asgi: ASGIVersions
    state: NotRequired[dict[str, Any]]


# -- http ----------------------------------------------------------------------------------


class HTTPRequestEvent(TypedDict):
    type: Literal["http.request"]
    body: bytes
    more_body: bool


class HTTPResponseStartEvent(TypedDict):
    type: Literal["http.response.start"]
    status: int
    headers: NotRequired[Iterable[tuple[bytes, bytes]]]
    trailers: NotRequired[bool]


class HTTPResponseBodyEvent(TypedDict):
    type: Literal["http.response.body"]
    body: bytes
    more_body: NotRequired[bool]


class HTTPResponseTrailersEvent(TypedDict):
    type: Literal["http.response.trailers"]
    headers: Iterable[tuple[bytes, bytes]]
    more_trailers: NotRequired[bool]


class HTTPResponsePathsendEvent(TypedDict):
    type: Literal["http.response.pathsend"]
    path: str


class HTTPResponseEarlyHintEvent(TypedDict):
    type: Literal["http.response.early_hint"]
    links: list[bytes]


class HTTPDisconnectEvent(TypedDict):
    type: Literal["http.disconnect"]


# -- websocket -----------------------------------------------------------------------------


class WebSocketConnectEvent(TypedDict):
    type: Literal["websocket.connect"]


class WebSocketAcceptEvent(TypedDict):
    type: Literal["websocket.accept"]
    subprotocol: NotRequired[str | None]
    headers: NotRequired[Iterable[tuple[bytes, bytes]]]


class WebSocketReceiveEvent(TypedDict):
    type: Literal["websocket.receive"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketSendEvent(TypedDict):
    type: Literal["websocket.send"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketResponseStartEvent(TypedDict):
    type: Literal["websocket.http.response.start"]
    status: int
    headers: Iterable[tuple[bytes, bytes]]


class WebSocketResponseBodyEvent(TypedDict):
    type: Literal["websocket.http.response.body"]
    body: bytes
    more_body: NotRequired[bool]


class WebSocketDisconnectEvent(TypedDict):
    type: Literal["websocket.disconnect"]
    code: int
    reason: NotRequired[str | None]


class WebSocketCloseEvent(TypedDict):
    type: Literal["websocket.close"]
    code: NotRequired[int]
    reason: NotRequired[str | None]


# -- lifespan ------------------------------------------------------------------------------


class LifespanStartupEvent(TypedDict):
    type: Literal["lifespan.startup"]


class LifespanShutdownEvent(TypedDict):
    type: Literal["lifespan.shutdown"]


class LifespanStartupCompleteEvent(TypedDict):
    type: Literal["lifespan.startup.complete"]


class LifespanStartupFailedEvent(TypedDict):
    type: Literal["lifespan.startup.failed"]
    message: str


class LifespanShutdownCompleteEvent(TypedDict):
    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(TypedDict):
    type: Literal["lifespan.shutdown.failed"]
    message: str


@runtime_checkable
class WholeResponseSender(Protocol):
    """An optional server capability: a complete response in one call.

    A server whose ``send`` is a bound method of an object with this method offers it:
    ``send.__self__.send_whole_response(status, headers, body)`` does exactly what
    ``http.response.start`` with ``status`` and ``headers`` followed by one final
    ``http.response.body`` with ``body`` do (the same checks, the same bytes on the wire),
    without building the two message dicts or making the second call. vivace.server offers
    it on HTTP/1.1 and HTTP/2; vivace.web uses it when it holds the server's own ``send``
    (no middleware wraps it, so nothing that watches messages is bypassed) and falls back
    to the two messages everywhere else. Other servers need not offer it.
    tests/test_seams.py checks vivace.server's implementations against this protocol.
    """

    def send_whole_response(self, status: int, headers: RawHeaders, body: bytes) -> Awaitable[None]:
        """Send the response head and its whole body; raises as ``send`` would."""
        ...


@runtime_checkable
class WholeBodyReceiver(Protocol):
    """An optional server capability: a request body that has all arrived, in one call.

    A server whose ``receive`` is a bound method of an object with this method offers it:
    ``receive.__self__.received_body()`` returns the whole body and counts it as taken,
    exactly as one ``http.request`` message with ``more_body`` false from ``receive()``
    would, when the body has all arrived and none of it was taken; else None, and the app
    goes on with ``receive()``. It is a plain call: no coroutine, no message dict. As for
    ``WholeResponseSender``, only code holding the server's own ``receive`` reaches it (a
    middleware that wraps ``receive`` sees every message). vivace.server offers it on
    HTTP/1.1 and HTTP/2; vivace.web reads a body with it when it can. Other servers need
    not offer it.
    """

    def received_body(self) -> bytes | None:
        """The whole body if it is all here and untaken (then taken), else None."""
        ...
