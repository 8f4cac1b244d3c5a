"""``Request``: a lazy view of one HTTP request's scope and body.

Nothing is parsed until asked for: ``headers``, ``url``, ``query_params`` and ``cookies``
are built on first access and cached on the instance (which has ``__slots__``), so a
handler that reads only ``path_params`` pays for nothing else.

The body is read once. ``body()`` keeps it on the request and in the scope
(``scope["vivace.body"]``), so a middleware that reads the body and the handler that runs
after it both get it; a middleware that passes ``request.receive`` on (instead of the
``receive`` it was given) also lets a plain ASGI app downstream read it again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import suppress
from tempfile import SpooledTemporaryFile
from typing import Any, NoReturn

import orjson

from vivace.http import (
    URL,
    FormLimitExceeded,
    Headers,
    InvalidURL,
    MalformedForm,
    MultipartParser,
    PartData,
    PartStart,
    QueryParams,
    UrlencodedParser,
    boundary_from_content_type,
    parse_cookie_header,
    parse_options_header,
)
from vivace.types import Message, Receive, Scope, Send
from vivace.web._concurrency import io_pool
from vivace.web._config import CONFIG_KEY, DEFAULT_CONFIG, WebConfig
from vivace.web._datastructures import Address, FormData, State, UploadFile, spooled_file
from vivace.web._exceptions import (
    ClientDisconnect,
    ContentTooLarge,
    HTTPException,
    MalformedBody,
    UnsupportedMediaType,
)

__all__ = ["BODY_KEY", "HTTPConnection", "Request"]

BODY_KEY = "vivace.body"


def _too_large(limit: int) -> NoReturn:
    raise ContentTooLarge(
        f"request body larger than {limit} bytes", limit="max_body_size", value=limit
    )


async def _empty_receive() -> Message:
    raise RuntimeError("this request has no receive channel")


async def _empty_send(message: Message) -> None:
    raise RuntimeError("this request has no send channel")


def _route_root(scope: Scope) -> str:
    return str(scope.get("app_root_path", scope.get("root_path", "")))


class HTTPConnection:
    """What HTTP requests and WebSocket connections share: the scope, read lazily."""

    __slots__ = ("_cookies", "_headers", "_query_params", "_scope", "_url")

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._headers: Headers | None = None
        self._url: URL | None = None
        self._query_params: QueryParams | None = None
        self._cookies: dict[str, str] | None = None

    @property
    def scope(self) -> Scope:
        """The ASGI scope."""
        return self._scope

    @property
    def app(self) -> Any:
        """The application serving the request (``scope["app"]``)."""
        return self._scope.get("app")

    @property
    def url(self) -> URL:
        """The full request URL, as the client asked for it (400 if it cannot be parsed)."""
        url = self._url
        if url is None:
            url = URL(scope=self._scope)
            try:
                url.components  # noqa: B018 - parse now: a broken Host is the client's error
            except InvalidURL as exc:
                raise HTTPException(400, "invalid request URL or Host header") from exc
            self._url = url
        return url

    @property
    def base_url(self) -> URL:
        """Scheme, host and the app's root path, with a trailing slash."""
        root = _route_root(self._scope).rstrip("/") + "/"
        return self.url.replace(path=root, query="", fragment="")

    @property
    def headers(self) -> Headers:
        """The request headers (a case-insensitive view, no copy)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(scope=self._scope)
        return headers

    @property
    def query_params(self) -> QueryParams:
        """The parsed query string."""
        params = self._query_params
        if params is None:
            params = self._query_params = QueryParams(self._scope.get("query_string", b""))
        return params

    @property
    def path_params(self) -> dict[str, Any]:
        """The parameters the route matched, converted (``{"id": 7}``)."""
        params: dict[str, Any] = self._scope.get("path_params", {})
        return params

    @property
    def cookies(self) -> dict[str, str]:
        """The request cookies; malformed ones are skipped, never an error."""
        cookies = self._cookies
        if cookies is None:
            cookies = {}
            for name, value in self._scope["headers"]:
                if name == b"cookie":  # HTTP/2 may split cookies over several fields
                    for key, val in parse_cookie_header(value.decode("latin-1")).items():
                        cookies.setdefault(key, val)
            self._cookies = cookies
        return cookies

    @property
    def client(self) -> Address | None:
        """The peer's ``(host, port)``, when the server knows it."""
        client = self._scope.get("client")
        return Address(*client) if client else None

    @property
    def state(self) -> State:
        """Per-request state, starting from what the lifespan yielded."""
        return State(self._scope.setdefault("state", {}))

    @property
    def session(self) -> dict[str, Any]:
        """The session (needs ``SessionMiddleware``)."""
        if "session" not in self._scope:
            raise RuntimeError("request.session needs SessionMiddleware installed")
        session: dict[str, Any] = self._scope["session"]
        return session

    @property
    def user(self) -> Any:
        """The user ``AuthenticationMiddleware`` found (needs it installed)."""
        if "user" not in self._scope:
            raise RuntimeError("request.user needs AuthenticationMiddleware installed")
        return self._scope["user"]

    @property
    def auth(self) -> Any:
        """The ``AuthCredentials`` ``AuthenticationMiddleware`` found (needs it installed)."""
        if "auth" not in self._scope:
            raise RuntimeError("request.auth needs AuthenticationMiddleware installed")
        return self._scope["auth"]

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        """The absolute URL of the route called ``name``.

        Raises ``NoMatchFound`` when no route has that name and those parameters.
        """
        router = self._scope.get("router") or self._scope.get("app")
        if router is None:
            raise RuntimeError("request.url_for needs the request to be served by an app")
        path = router.url_path_for(name, **path_params)
        result: URL = path.make_absolute_url(self.base_url)
        return result


class Request(HTTPConnection):
    """An HTTP request.

    >>> scope = {"type": "http", "method": "GET", "path": "/items/7", "headers": [
    ...     (b"host", b"example.com"), (b"cookie", b"theme=dark")],
    ...     "query_string": b"q=1", "path_params": {"id": 7}}
    >>> request = Request(scope)
    >>> request.method, request.url.path, request.query_params["q"], request.cookies
    ('GET', '/items/7', '1', {'theme': 'dark'})
    >>> request.path_params["id"]
    7
    """

    __slots__ = (
        "_body",
        "_cleanups",
        "_form",
        "_is_disconnected",
        "_pending",
        "_receive",
        "_send",
        "_stream",
        "holds_resources",
    )

    def __init__(
        self, scope: Scope, receive: Receive = _empty_receive, send: Send = _empty_send
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._headers = None
        self._url = None
        self._query_params = None
        self._cookies = None
        self._body: bytes | None = None
        self._form: FormData | None = None
        self._stream = False
        self._is_disconnected = False
        self._pending: list[Message] | None = None
        self._cleanups: list[Callable[[], Awaitable[None]]] | None = None
        #: Whether ``close()`` has something to do (a parsed form, a clean-up): the
        #: handler runner awaits it after the response only then.
        self.holds_resources = False

    @property
    def method(self) -> str:
        """The request method, upper-case."""
        method: str = self._scope["method"]
        return method

    @property
    def receive(self) -> Receive:
        """A ``receive`` to pass on: it replays the body if this request read it."""
        body = self._body
        if body is None:
            body = self._scope.get(BODY_KEY)
        if body is None:
            return self._receive
        return _Replay(body, self._receive)

    def _config(self) -> WebConfig:
        config: WebConfig = self._scope.get(CONFIG_KEY, DEFAULT_CONFIG)
        return config

    async def _next_message(self) -> Message:
        pending = self._pending
        if pending:
            return pending.pop(0)
        return await self._receive()

    async def stream(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk, as it arrives (no size limit).

        Raises ``ClientDisconnect`` if the client goes away first, and ``RuntimeError`` if
        the body was already consumed by an earlier ``stream()``.
        """
        body = self._body
        if body is None:
            body = self._scope.get(BODY_KEY)
        if body is not None:
            if body:
                yield body
            return
        if self._stream:
            raise RuntimeError("the request body was already streamed")
        self._stream = True
        while True:
            message = await self._next_message()
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return
            elif kind == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect("the client disconnected while sending the body")

    def received_body(self) -> bytes | None:
        """The whole body when it is known without waiting, else None (then ``await
        body()``): read before, or all arrived at a server offering
        ``vivace.types.WholeBodyReceiver`` (vivace.server's ``receive``, unwrapped).
        ``Limits.max_body_size`` applies as in ``body()``.

        For code on the hot path: vivace.web's typed handlers read a JSON body this way,
        without the two coroutines and the message dict of ``receive()`` (measured:
        bench/server_inproc.py, the typed "POST /orders", 9.42 -> 9.16 us a request).
        """
        body = self._body
        if body is not None:
            return body
        body = self._scope.get(BODY_KEY)
        if body is None:
            if self._stream or self._pending:
                return None
            owner = getattr(self._receive, "__self__", None)
            take: Callable[[], bytes | None] | None = getattr(owner, "received_body", None)
            if take is None:
                return None
            body = take()
            if body is None:
                return None
            config: WebConfig = self._scope.get(CONFIG_KEY, DEFAULT_CONFIG)
            limit = config.limits.max_body_size
            if limit is not None and len(body) > limit:
                _too_large(limit)
            self._scope[BODY_KEY] = body
        self._body = body
        return body

    async def body(self) -> bytes:
        """The whole body, read once (``Limits.max_body_size``: 413 beyond it)."""
        # Not through received_body(): an untyped handler on another server (or behind a
        # middleware) would pay its look-up for nothing (bench/web_inproc.py "json echo").
        body = self._body
        if body is not None:
            return body
        body = self._scope.get(BODY_KEY)
        if body is None:
            config: WebConfig = self._scope.get(CONFIG_KEY, DEFAULT_CONFIG)
            limit = config.limits.max_body_size
            if not self._stream and not self._pending:
                # Fast path: the whole body in the first message.
                message = await self._receive()
                if message["type"] == "http.request" and not message.get("more_body", False):
                    body = message.get("body", b"")
                else:
                    self._pending = [message]
            if body is None:
                chunks: list[bytes] = []
                size = 0
                async for chunk in self.stream():
                    size += len(chunk)
                    if limit is not None and size > limit:
                        _too_large(limit)
                    chunks.append(chunk)
                body = b"".join(chunks)
            elif limit is not None and len(body) > limit:
                _too_large(limit)
            self._scope[BODY_KEY] = body
        self._body = body
        return body

    async def json(self, *, strict_content_type: bool = True) -> Any:
        """The body parsed as JSON (orjson).

        Malformed JSON raises ``MalformedBody`` (400). With ``strict_content_type`` (the
        default) a body declared as something other than JSON raises
        ``UnsupportedMediaType`` (415): HTML forms can post ``text/plain`` across sites
        without a CORS preflight, so accepting it would open JSON endpoints that trust
        cookies to cross-site request forgery. A request without ``Content-Type`` is read.
        """
        if strict_content_type:
            raw = self.headers.get_raw(b"content-type")
            # The usual value is compared as bytes; anything else is parsed.
            if raw is not None and raw != b"application/json":
                media = raw.decode("latin-1").partition(";")[0].strip().lower()
                if not (media == "application/json" or media.endswith("+json")):
                    raise UnsupportedMediaType(
                        f"expected a JSON body (application/json), got {media or 'nothing'!r}"
                    )
        body = await self.body()
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if not body:
                raise MalformedBody("expected a JSON body, got an empty body") from exc
            raise MalformedBody(f"malformed JSON body: {exc}") from exc

    async def form(
        self,
        *,
        max_parts: int | None = None,
        max_field_size: int | None = None,
        max_file_size: int | None = -1,
        spool_size: int | None = None,
    ) -> FormData:
        """The form body: urlencoded or multipart, parsed once.

        Uploads stream into spooled temporary files: the form's uploads stay in memory
        together up to ``spool_size`` bytes, then go to disk. Limits default to the app's
        ``Limits``; breaking one raises ``ContentTooLarge`` (413), broken syntax
        ``MalformedBody`` (400). Another content type gives an empty
        form. Files are closed after the response is sent.
        """
        form = self._form
        if form is not None:
            return form
        limits = self._config().limits
        parts = limits.max_form_parts if max_parts is None else max_parts
        field_size = limits.max_form_field_size if max_field_size is None else max_field_size
        file_size = limits.max_form_file_size if max_file_size == -1 else max_file_size
        spool = limits.form_spool_size if spool_size is None else spool_size
        content_type, _ = parse_options_header(self.headers.get_raw(b"content-type"))
        try:
            if content_type == "multipart/form-data":
                form = await self._multipart(parts, field_size, file_size, spool, limits)
            elif content_type == "application/x-www-form-urlencoded":
                form = await self._urlencoded(parts, field_size, limits.max_body_size)
            else:
                form = FormData()
        except FormLimitExceeded as exc:
            raise ContentTooLarge(str(exc), limit=exc.limit, value=exc.value) from exc
        except MalformedForm as exc:
            raise MalformedBody(f"malformed form body: {exc}") from exc
        self._form = form
        self.holds_resources = True
        return form

    async def _form_stream(self, limit: int | None, name: str) -> AsyncIterator[bytes]:
        """The body's chunks; ``FormLimitExceeded`` once they pass ``limit`` bytes."""
        size = 0
        async for chunk in self.stream():
            size += len(chunk)
            if limit is not None and size > limit:
                raise FormLimitExceeded(
                    f"form body larger than {limit} bytes", limit=name, value=limit
                )
            yield chunk

    async def _urlencoded(
        self, max_fields: int, max_field_size: int, max_body_size: int | None
    ) -> FormData:
        parser = UrlencodedParser(max_fields=max_fields, max_field_size=max_field_size)
        items: list[tuple[str, str | UploadFile]] = []
        async for chunk in self._form_stream(max_body_size, "max_body_size"):
            items.extend(parser.feed(chunk))
        items.extend(parser.close())
        return FormData(items)

    async def _multipart(
        self,
        max_parts: int,
        max_field_size: int,
        max_file_size: int | None,
        spool_size: int,
        limits: Any,
    ) -> FormData:
        boundary = boundary_from_content_type(self.headers.get_raw(b"content-type"))
        parser = MultipartParser(
            boundary,
            max_parts=max_parts,
            max_field_size=max_field_size,
            max_file_size=max_file_size,
            max_part_header_size=limits.max_part_header_size,
        )
        items: list[tuple[str, str | UploadFile]] = []
        files: list[UploadFile] = []
        name = ""
        upload: UploadFile | None = None
        spool: SpooledTemporaryFile[bytes] | None = None  # the upload's, while in memory
        field: list[bytes] = []
        # The totals that bound what one form holds: the body, the fields (in memory),
        # and the uploads still in memory (``in_memory``, ``spool_size`` at most).
        max_form_size: int | None = limits.max_form_size
        max_fields_size: int = limits.max_form_fields_size
        fields_size = in_memory = held = 0
        try:
            async for chunk in self._form_stream(max_form_size, "max_form_size"):
                for event in parser.feed(chunk):
                    if type(event) is PartData:
                        data = event.data
                        if upload is None:
                            fields_size += len(data)
                            if fields_size > max_fields_size:
                                raise FormLimitExceeded(
                                    f"form fields larger than {max_fields_size} bytes together",
                                    limit="max_form_fields_size",
                                    value=max_fields_size,
                                )
                            field.append(data)
                            continue
                        if spool is not None:
                            if in_memory + len(data) > spool_size:
                                # Over the form's memory budget: this upload goes to disk.
                                await io_pool.run(spool.rollover)
                                in_memory -= held
                                spool = None
                            else:
                                in_memory += len(data)
                                held += len(data)
                        await upload.write(data)
                    elif type(event) is PartStart:
                        name = event.name
                        if event.filename is not None:
                            spool = spooled_file(spool_size)
                            held = 0
                            upload = UploadFile(
                                spool,
                                size=0,
                                filename=event.filename,
                                headers=Headers(event.headers),
                                content_type=event.content_type,
                            )
                            files.append(upload)
                        else:
                            upload = spool = None
                            field = []
                    else:  # PartEnd
                        if upload is not None:
                            await upload.seek(0)
                            items.append((name, upload))
                        else:
                            items.append((name, b"".join(field).decode("utf-8", "replace")))
            parser.close()
        except BaseException:
            # Any way out without a form (a broken or too large body, a client gone, a
            # cancelled task, an error in a receive) closes the uploads made so far:
            # nothing else holds them. Closed without awaiting, so a second cancellation
            # cannot stop it halfway (closing one flushes at most its write buffer).
            for file in files:
                with suppress(OSError):
                    file.file.close()
            raise
        return FormData(items)

    def add_cleanup(self, cleanup: Callable[[], Awaitable[None]]) -> None:
        """Run ``await cleanup()`` once the response is sent (clean-ups run last added
        first; typed handlers' generator dependencies finish this way)."""
        if self._cleanups is None:
            self._cleanups = []
        self._cleanups.append(cleanup)
        self.holds_resources = True

    async def close(self) -> None:
        """Run the clean-ups and close the files of a parsed form (the handler runner
        does it after the response). Every clean-up runs; the first error is raised
        after them."""
        error: BaseException | None = None
        cleanups = self._cleanups
        if cleanups is not None:
            self._cleanups = None
            while cleanups:
                try:
                    await cleanups.pop()()
                except Exception as exc:
                    error = error or exc
        if self._form is not None:
            await self._form.close()
        self.holds_resources = False
        if error is not None:
            raise error

    async def is_disconnected(self) -> bool:
        """Whether the client has gone away, checked without waiting.

        A body message that arrives while checking is kept for ``stream()``/``body()``.
        """
        if self._is_disconnected:
            return True
        # Drive receive() one step by hand: if it completes at once there was a message;
        # if it would suspend, nothing is there, and closing it undoes the wait (as a
        # cancellation would) without creating a task.
        steps: Generator[Any, None, Message] = self._receive().__await__()
        try:
            steps.send(None)
        except StopIteration as done:
            message: Message = done.value
            if message.get("type") == "http.disconnect":
                self._is_disconnected = True
            elif self._pending is None:
                self._pending = [message]
            else:
                self._pending.append(message)
        else:
            # receive() would wait: nothing to read now, so the client is still there.
            steps.close()
        return self._is_disconnected


class _Replay:
    """A ``receive`` that gives the already-read body first, then defers."""

    __slots__ = ("_body", "_receive", "_sent")

    def __init__(self, body: bytes, receive: Receive) -> None:
        self._body = body
        self._receive = receive
        self._sent = False

    async def __call__(self) -> Message:
        if not self._sent:
            self._sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        return await self._receive()
