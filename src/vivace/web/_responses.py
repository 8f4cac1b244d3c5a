"""Responses: every one is an ASGI app that sends itself.

``Response`` renders its body once, at construction, and builds the raw ASGI header list
then too; ``__call__`` only sends two messages. The ``content-type`` header value of each
media type is encoded once and cached, so a response costs a list, a ``content-length``
value and two dicts.

Headers given by the caller are validated (``MutableHeaders``): CR, LF and NUL never
reach the wire. ``StreamingResponse`` watches for the client going away while it streams
and then stops the body iterator (its ``finally`` blocks run); see ``stream_until_done``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import orjson

from vivace.http import URL, MutableHeaders, format_set_cookie
from vivace.types import Message, Receive, Scope, Send, WholeResponseSender
from vivace.web._background import BackgroundTask
from vivace.web._concurrency import iterate_in_threadpool

__all__ = [
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "send_response",
    "whole_responder",
]

_CONTENT_TYPES: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def content_type_header(media_type: str, charset: str) -> tuple[bytes, bytes]:
    """The ``(b"content-type", value)`` pair for a media type, cached."""
    key = (media_type, charset)
    pair = _CONTENT_TYPES.get(key)
    if pair is None:
        value = media_type
        if media_type.startswith("text/") and "charset=" not in media_type.lower():
            value += f"; charset={charset}"
        pair = (b"content-type", MutableHeaders({"content-type": value}).raw[0][1])
        if len(_CONTENT_TYPES) < 512:  # bounded: media types may come from user data
            _CONTENT_TYPES[key] = pair
    return pair


#: ``(b"content-length", b"<n>")`` pairs for the sizes this process answers with: one dict
#: lookup instead of formatting the number and building the pair (~50 ns a response).
_LENGTHS: dict[int, tuple[bytes, bytes]] = {}


def length_header(size: int) -> tuple[bytes, bytes]:
    """The ``content-length`` pair for a body of ``size`` bytes (remembered, up to 4096
    sizes)."""
    pair = _LENGTHS.get(size)
    if pair is None:
        pair = (b"content-length", b"%d" % size)
        if len(_LENGTHS) < 4096:
            _LENGTHS[size] = pair
    return pair


def whole_responder(send: Send) -> Callable[[int, Any, bytes], Awaitable[None]] | None:
    """The server's one-call capability (``vivace.types.WholeResponseSender``), if ``send``
    offers it: a bound method of an object with ``send_whole_response``.

    vivace.server's ``send`` is a bound method of the request's cycle (or HTTP/2 stream),
    which has it. A ``send`` wrapped by a middleware is another callable with no such
    method, so whatever intercepts the messages still sees them. (An attribute lookup, not
    ``isinstance`` against the runtime-checkable protocol, which costs a microsecond per
    request.)
    """
    owner: WholeResponseSender | None = getattr(send, "__self__", None)
    return getattr(owner, "send_whole_response", None)


def send_response(
    response: Response, scope: Scope, receive: Receive, send: Send
) -> Awaitable[None]:
    """What sends ``response``: for a plain complete response with no background task, one
    awaitable from the server (see ``whole_responder``) or the two messages (checked once,
    here); else the response's own call."""
    if type(response).__call__ is _RESPONSE_CALL and response.background is None:
        respond = whole_responder(send)
        body = b"" if scope.get("method") == "HEAD" else response.body
        if respond is not None:
            return respond(response.status_code, response.raw_headers, body)
        return _send_messages(send, response.status_code, response.raw_headers, body)
    return response(scope, receive, send)


async def _send_messages(send: Send, status: int, headers: Any, body: bytes) -> None:
    """A complete response as its two ASGI messages."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _no_body_status(status_code: int) -> bool:
    # RFC 9110 sections 8.6, 15.3.5 and 15.4.5: no content in 1xx, 204 and 304.
    return status_code < 200 or status_code in (204, 304)


class Response:
    """A response with a complete body.

    >>> response = Response(b"hello", media_type="text/plain", headers={"x-a": "1"})
    >>> response.status_code, response.body
    (200, b'hello')
    >>> sorted(response.headers.items())
    [('content-length', '5'), ('content-type', 'text/plain; charset=utf-8'), ('x-a', '1')]
    """

    __slots__ = ("background", "body", "raw_headers", "status_code")

    media_type: ClassVar[str | None] = None
    charset: ClassVar[str] = "utf-8"
    _content_type: ClassVar[tuple[bytes, bytes] | None] = None
    #: True while ``render`` is Response's own: ``__init__`` then does its work for bytes
    #: and str content without the call.
    _own_render: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._own_render = cls.render is Response.render
        media_type = cls.__dict__.get("media_type", cls.media_type)
        cls._content_type = (
            content_type_header(media_type, cls.charset) if media_type is not None else None
        )

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        self.background = background
        if not self._own_render:
            body = self.render(content)
        elif type(content) is bytes:
            body = content
        elif type(content) is str:
            body = content.encode(self.charset)
        else:
            body = self.render(content)
        self.body = body
        if status_code == 200 and headers is None and media_type is None:
            # The common case: the class's content type, nothing to validate or merge.
            content_type = self._content_type
            length = _LENGTHS.get(len(body)) or length_header(len(body))
            self.raw_headers = [content_type, length] if content_type is not None else [length]
            return
        if media_type is None:
            media_type = self.media_type
        if headers is None:
            raw: list[tuple[bytes, bytes]] = []
            if media_type is not None:
                raw.append(content_type_header(media_type, self.charset))
            if not _no_body_status(status_code):
                raw.append(length_header(len(body)))
            self.raw_headers = raw
        else:
            self.raw_headers = self._merge_headers(headers, media_type, body)

    def _merge_headers(
        self, headers: Mapping[str, str], media_type: str | None, body: bytes
    ) -> list[tuple[bytes, bytes]]:
        given = MutableHeaders(headers)
        raw = given.raw
        names = {name for name, _ in raw}
        if media_type is not None and b"content-type" not in names:
            raw.append(content_type_header(media_type, self.charset))
        if b"content-length" not in names and not _no_body_status(self.status_code):
            raw.append(length_header(len(body)))
        return raw

    def render(self, content: Any) -> bytes:
        """Turn ``content`` into the body bytes (subclasses encode their own type)."""
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode(self.charset)
        if isinstance(content, bytearray | memoryview):
            return bytes(content)
        raise TypeError(
            f"{type(self).__name__} content must be bytes or str, not {type(content).__name__}"
        )

    @property
    def headers(self) -> MutableHeaders:
        """The response headers, editable (values are validated)."""
        return MutableHeaders(raw=self.raw_headers)

    @property
    def media_type_header(self) -> str | None:
        """The ``content-type`` the response carries, if any."""
        return self.headers.get("content-type")

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | int | str | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header (RFC 6265); the name and attributes are validated.

        >>> r = Response()
        >>> r.set_cookie("theme", "dark", max_age=60, httponly=True)
        >>> r.headers["set-cookie"]
        'theme=dark; HttpOnly; Max-Age=60; Path=/; SameSite=lax'
        """
        cookie = format_set_cookie(
            key,
            value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )
        self.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
    ) -> None:
        """Tell the client to drop cookie ``key`` (same path and domain as when set)."""
        self.set_cookie(
            key,
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b"" if scope.get("method") == "HEAD" else self.body
        respond = whole_responder(send)
        if respond is not None:
            await respond(self.status_code, self.raw_headers, body)
        else:
            await _send_messages(send, self.status_code, self.raw_headers, body)
        if self.background is not None:
            await self.background()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code})"


_RESPONSE_CALL = Response.__call__


class PlainTextResponse(Response):
    """A ``text/plain; charset=utf-8`` response."""

    __slots__ = ()
    media_type = "text/plain"


class HTMLResponse(Response):
    """A ``text/html; charset=utf-8`` response."""

    __slots__ = ()
    media_type = "text/html"


class JSONResponse(Response):
    """A JSON response, encoded with orjson (dataclasses, datetimes, UUIDs included).

    >>> JSONResponse({"id": 1, "tags": ["a"]}).body
    b'{"id":1,"tags":["a"]}'

    ``default`` is called for objects orjson cannot encode, as in ``json.dumps``.
    """

    __slots__ = ()
    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        default: Callable[[Any], Any] | None = None,
    ) -> None:
        if (
            status_code == 200
            and headers is None
            and media_type is None
            and default is None
            and type(self) is JSONResponse
        ):
            # The common case, without the generic path: a subclass may override render().
            self.status_code = 200
            self.background = background
            body = self.body = orjson.dumps(content)
            size = len(body)
            self.raw_headers = [_JSON_CONTENT_TYPE, _LENGTHS.get(size) or length_header(size)]
            return
        if default is not None:
            content = _Encoded(orjson.dumps(content, default=default))
        super().__init__(content, status_code, headers, media_type, background)

    def render(self, content: Any) -> bytes:
        if type(content) is _Encoded:
            return content.data
        return orjson.dumps(content)


_JSON_CONTENT_TYPE = content_type_header("application/json", "utf-8")


class _Encoded:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


# Characters kept as they are when quoting a Location URL: the URL syntax characters
# (RFC 3986 section 2.2) and "%" so an already-encoded URL is not encoded twice.
_LOCATION_SAFE = ":/%#?=@[]!$&'()*+,;~"


class RedirectResponse(Response):
    """A redirect (``307 Temporary Redirect`` by default: the method and body are kept).

    >>> RedirectResponse("/new place?q=1").headers["location"]
    '/new%20place?q=1'
    """

    __slots__ = ()

    def __init__(
        self,
        url: str | URL,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(b"", status_code, headers, None, background)
        location = quote(str(url), safe=_LOCATION_SAFE)
        self.headers["location"] = location


ContentStream = AsyncIterable[str | bytes] | Iterable[str | bytes]


async def stream_until_done(
    body: Callable[[], Coroutine[Any, Any, None]], receive: Receive
) -> bool:
    """Run ``body()`` until it finishes or the client disconnects; True if it finished.

    The body runs in its own task while this coroutine listens on ``receive`` for
    ``http.disconnect``; on disconnect the body task is cancelled, which stops whatever
    it awaits (a queue, a database cursor) and runs its ``finally`` blocks. Servers that
    raise ``OSError`` from ``send`` on a closed connection (ASGI spec 2.4) are handled by
    the body itself.
    """
    loop = asyncio.get_running_loop()
    task = loop.create_task(body())
    disconnected = False

    async def watch() -> None:
        nonlocal disconnected
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
                task.cancel()
                return

    watcher = loop.create_task(watch())
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if disconnected and task.cancelled() and (current is None or not current.cancelling()):
            return False
        raise
    finally:
        watcher.cancel()
    return True


class StreamingResponse(Response):
    """A response whose body comes from an (async or sync) iterator of bytes or str.

    Sync iterators are advanced in the handler thread pool. When the client disconnects,
    the iterator is stopped: an async generator gets ``CancelledError`` where it waits and
    is closed, so its ``finally`` blocks run.
    """

    __slots__ = ("body_iterator",)

    body_iterator: AsyncIterable[str | bytes]

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        self.background = background
        self.body = b""
        if isinstance(content, AsyncIterable):
            self.body_iterator = content
        else:
            self.body_iterator = iterate_in_threadpool(content)
        if media_type is None:
            media_type = self.media_type
        raw = MutableHeaders(headers).raw if headers is not None else []
        if media_type is not None and not any(n == b"content-type" for n, _ in raw):
            raw.append(content_type_header(media_type, self.charset))
        self.raw_headers = raw

    async def _send_body(self, send: Send) -> None:
        iterator = self.body_iterator
        charset = self.charset
        try:
            async for chunk in iterator:
                data = chunk.encode(charset) if isinstance(chunk, str) else chunk
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            return  # the client is gone (ASGI 2.4: send raises OSError)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.raw_headers,
        }
        try:
            await send(start)
            if scope.get("method") == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                aclose = getattr(self.body_iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
            else:
                await stream_until_done(lambda: self._send_body(send), receive)
        except asyncio.CancelledError:
            raise  # the server is stopping this request: no more work
        except BaseException:
            # The body failed: background work (often clean-up) still runs, then the
            # error goes on to the server.
            if self.background is not None:
                await self.background()
            raise
        if self.background is not None:
            await self.background()
