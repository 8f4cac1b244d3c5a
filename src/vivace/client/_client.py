"""``Client``: the async HTTP client.

The client holds what is shared between requests (base URL, default headers, params,
cookie jar, auth, timeouts, redirect policy, event hooks) and a transport that carries
each request. ``send`` is layered, each layer skipped when it has nothing to do, so a plain
``await client.get(url)`` pays only for building the request and the transport::

    send ─▶ auth flow (if auth) ─▶ redirects (hooks, cookies) ─▶ transport

Decisions where httpx users have expectations (see docs/client.md): the same method and
argument names; a relative URL is appended to ``base_url``'s path; redirects are not
followed unless ``follow_redirects=True``; 5 s timeouts for every phase; ``raise`` only
on ``raise_for_status()``.
"""

from __future__ import annotations

import enum
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

from vivace import __version__
from vivace.client._auth import Auth, AuthTypes, BasicAuth, build_auth
from vivace.client._config import DEFAULT_LIMITS, DEFAULT_TIMEOUT, Limits, Timeout, TimeoutTypes
from vivace.client._content import (
    RequestContent,
    RequestData,
    encode_request,
    encode_urlencoded,
)
from vivace.client._cookies import Cookies, CookieTypes
from vivace.client._decoders import SUPPORTED_ENCODINGS
from vivace.client._exceptions import (
    RequestError,
    TooManyRedirects,
)
from vivace.client._models import DefaultEncoding, Request, Response, host_header, merge_params
from vivace.client._multipart import RequestFiles
from vivace.client._redirects import build_redirect
from vivace.client._tls import CertTypes, VerifyTypes
from vivace.client._transport import AsyncBaseTransport
from vivace.client._websocket import WebSocketOptions, WebSocketSession
from vivace.client._websocket_handshake import websocket_handshake
from vivace.http import (
    URL,
    Headers,
    HeadersInput,
    MutableHeaders,
    QueryParams,
    check_header_value,
)

__all__ = ["USE_CLIENT_DEFAULT", "Client", "EventHook"]

EventHook = Callable[[Any], Awaitable[None] | None]


class _UseClientDefault(enum.Enum):
    """The default of per-request options: use what the client was configured with."""

    token = 0

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT = _UseClientDefault.token

_REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))


def _headers_over(raw: list[tuple[bytes, bytes]]) -> MutableHeaders:
    # MutableHeaders(raw=...) without the argument checks: raw is built here, valid.
    headers = MutableHeaders.__new__(MutableHeaders)
    headers._list = raw
    return headers


def _set_headers(target: MutableHeaders, given: HeadersInput) -> None:
    """``given`` over ``target``: each name given replaces ``target``'s values, and a name
    given several times keeps all its values, in order (as httpx merges them).
    ``MutableHeaders.update`` keeps only the last: ``headers=[("x", "a"), ("x", "b")]``
    sent ``x: b`` alone."""
    pairs = given.items() if isinstance(given, Mapping) else given
    seen: set[str] = set()
    for key, value in pairs:
        name = (key.decode("latin-1") if isinstance(key, bytes) else key).lower()
        if name in seen:
            target.append(name, value)
        else:
            seen.add(name)
            target[name] = value.decode("latin-1") if isinstance(value, bytes) else value


def _query_params(params: Any) -> QueryParams:
    """A client's ``params=`` read as a request's are (``merge_params``): a list value
    repeats its key, ``True``/``False``/``None`` are ``true``/``false``/empty, as in httpx.
    ``QueryParams`` alone made ``{"tag": ["a", "b"]}`` into ``tag=['a', 'b']``."""
    if isinstance(params, Mapping) and not isinstance(params, QueryParams):
        return QueryParams(encode_urlencoded(params).decode("ascii"))
    return QueryParams(params)


def _params_not_in(defaults: QueryParams, given: Any) -> QueryParams:
    """The client's ``defaults`` without the keys a request's ``params=`` gives: those
    replace them, as in httpx (``params={"page": 2}`` over a client's ``page=1`` sends
    ``page=2``, not both)."""
    keys = given.keys() if isinstance(given, Mapping) else QueryParams(given).keys()
    if not any(key in keys for key in defaults):
        return defaults
    return QueryParams([(key, value) for key, value in defaults.multi_items() if key not in keys])


class Client:
    """An async HTTP client with a connection pool.

    >>> import asyncio
    >>> from vivace.client import MockTransport, Response
    >>> def handler(request):
    ...     return Response(200, json={"path": request.url.path, "q": request.url.query})
    >>> async def main():
    ...     transport = MockTransport(handler)
    ...     async with Client(base_url="https://api.test/v1", transport=transport) as c:
    ...         r = await c.get("/users", params={"page": 2})
    ...         return r.status_code, r.json()
    >>> asyncio.run(main())
    (200, {'path': '/v1/users', 'q': 'page=2'})

    Without ``transport=`` requests go over the network (HTTP/1.1, TLS verified against
    the system CA bundle, a pool limited by ``limits``).
    """

    def __init__(
        self,
        *,
        base_url: URL | str = "",
        headers: HeadersInput | None = None,
        params: Any = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        follow_redirects: bool = False,
        max_redirects: int = 20,
        limits: Limits = DEFAULT_LIMITS,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        transport: AsyncBaseTransport | None = None,
        event_hooks: Mapping[str, list[EventHook]] | None = None,
        default_encoding: DefaultEncoding = "utf-8",
        max_header_size: int = 64 * 1024,
        http1: bool = True,
        http2: bool = False,
    ) -> None:
        self.base_url = URL(str(base_url))
        self._headers = MutableHeaders(
            [
                (b"accept", b"*/*"),
                (b"accept-encoding", SUPPORTED_ENCODINGS),
                (b"user-agent", f"vivace/{__version__}".encode("ascii")),
            ]
        )
        if headers is not None:
            _set_headers(self._headers, headers)
        self._params = _query_params(params) if params is not None else None
        self._cookies = Cookies(cookies)
        self._auth = build_auth(auth)
        self._timeout = timeout if isinstance(timeout, Timeout) else Timeout(timeout)
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.default_encoding = default_encoding
        self._request_hooks: list[EventHook] = []
        self._response_hooks: list[EventHook] = []
        if event_hooks is not None:
            self.event_hooks = event_hooks
        if transport is None:
            from vivace.client._network import HTTPTransport

            transport = HTTPTransport(
                limits=limits,
                verify=verify,
                cert=cert,
                max_header_size=max_header_size,
                http1=http1,
                http2=http2,
            )
        self._transport = transport
        self._closed = False
        self._extensions = {"timeout": self._timeout}
        self._hosts: dict[str, bytes] = {}

    # -- configuration --------------------------------------------------------------

    @property
    def headers(self) -> MutableHeaders:
        """Headers sent with every request (changes apply to later requests)."""
        return self._headers

    @headers.setter
    def headers(self, headers: HeadersInput) -> None:
        self._headers = MutableHeaders(headers)

    @property
    def cookies(self) -> Cookies:
        """The cookie jar: cookies you set, and those the servers set."""
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes) -> None:
        self._cookies = Cookies(cookies)

    @property
    def params(self) -> QueryParams:
        return self._params if self._params is not None else QueryParams()

    @params.setter
    def params(self, params: Any) -> None:
        self._params = _query_params(params) if params is not None else None

    @property
    def auth(self) -> Auth | None:
        return self._auth

    @auth.setter
    def auth(self, auth: AuthTypes | None) -> None:
        self._auth = build_auth(auth)

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @timeout.setter
    def timeout(self, timeout: TimeoutTypes) -> None:
        self._timeout = timeout if isinstance(timeout, Timeout) else Timeout(timeout)
        self._extensions = {"timeout": self._timeout}

    @property
    def event_hooks(self) -> dict[str, list[EventHook]]:
        """``{"request": [...], "response": [...]}``: functions (sync or async) called with
        each request before it is sent and each response once its head arrived."""
        return {"request": self._request_hooks, "response": self._response_hooks}

    @event_hooks.setter
    def event_hooks(self, hooks: Mapping[str, list[EventHook]]) -> None:
        unknown = set(hooks) - {"request", "response"}
        if unknown:
            raise ValueError(f"unknown event hook kinds {sorted(unknown)}")
        self._request_hooks = list(hooks.get("request", ()))
        self._response_hooks = list(hooks.get("response", ()))

    @property
    def transport(self) -> AsyncBaseTransport:
        return self._transport

    @property
    def is_closed(self) -> bool:
        return self._closed

    # -- building requests ----------------------------------------------------------

    def _merge_url(self, url: URL | str) -> URL:
        text = str(url)
        if "://" in text[:12] or not self.base_url._url:
            return url if isinstance(url, URL) else URL(text)
        # Like httpx: a relative URL is appended to base_url's path, whatever its slashes.
        base = self.base_url._url.partition("?")[0]
        if not base.endswith("/"):
            base += "/"
        return URL(base + text.lstrip("/"))

    def build_request(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Request:
        """Build the request ``request()`` would send, merged with the client's defaults."""
        method = method.upper()
        merged = self._merge_url(url)
        if self._params is not None:
            own = self._params if params is None else _params_not_in(self._params, params)
            merged = merge_params(merged, own)
        if params is not None:
            merged = merge_params(merged, params)
        netloc = merged.components.netloc
        host = self._hosts.get(netloc)
        if host is None:
            host = host_header(merged)
            if len(self._hosts) > 256:
                self._hosts.clear()
            self._hosts[netloc] = host
        defaults = self._headers.raw
        raw = [(b"host", host)]
        for name, value in defaults:
            if name == b"host":  # a Host among the client's headers replaces the URL's
                raw[0] = (name, value)
                raw.extend(pair for pair in defaults if pair[0] != b"host")
                break
        else:
            raw.extend(defaults)
        request_headers = _headers_over(raw)
        if headers is not None:
            _set_headers(request_headers, headers.raw if isinstance(headers, Headers) else headers)
        if content is not None or data is not None or files is not None or json is not None:
            body_headers, stream = encode_request(content, data, files, json)
            chunked = request_headers.get_raw(b"transfer-encoding") is not None
            for name, value in body_headers:
                # RFC 9112 section 6.2: never Content-Length beside Transfer-Encoding.
                if request_headers.get_raw(name) is None and not (
                    chunked and name == b"content-length"
                ):
                    raw.append((name, value))
        else:
            stream = None
            if method in ("POST", "PUT", "PATCH"):
                # RFC 9110 section 8.6: say "no content" for methods that define content.
                raw.append((b"content-length", b"0"))
        if self._cookies or cookies:
            extra = None
            if cookies is not None:
                extra = dict(cookies.items() if isinstance(cookies, Mapping | Cookies) else cookies)
            cookie = self._cookies.header_for(merged, extra)
            if cookie is not None and request_headers.get_raw(b"cookie") is None:
                raw.append((b"cookie", check_header_value(cookie.encode("utf-8"), b"cookie")))
        if timeout is USE_CLIENT_DEFAULT:
            ext = self._extensions if extensions is None else {**self._extensions, **extensions}
        else:
            ext = {} if extensions is None else dict(extensions)
            ext["timeout"] = timeout if isinstance(timeout, Timeout) else Timeout(timeout)
        if ext is self._extensions:
            ext = dict(ext)
        return Request._new(method, merged, request_headers, stream, ext)

    # -- sending --------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        """Send a request and read the whole response body."""
        request = self.build_request(
            method,
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )
        return await self.send(request, auth=auth, follow_redirects=follow_redirects)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> AsyncIterator[Response]:
        """Send a request; the body is yours to stream (``aiter_bytes``...) inside the block.

        The response (and its connection) is released when the block ends.
        """
        request = self.build_request(
            method,
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )
        response = await self.send(
            request, auth=auth, follow_redirects=follow_redirects, stream=True
        )
        try:
            yield response
        finally:
            await response.aclose()

    async def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a built request. With ``stream=True`` the body is left unread."""
        if self._closed:
            raise RuntimeError("the client is closed; create a new one")
        follow = (
            self.follow_redirects if follow_redirects is USE_CLIENT_DEFAULT else follow_redirects
        )
        flow = self._auth if auth is USE_CLIENT_DEFAULT else build_auth(auth)
        if flow is None:
            username = request.url.username
            if username is not None:
                flow = BasicAuth(username, request.url.password or "")
        if flow is None:
            response = await self._send_handling_redirects(request, follow, [])
        else:
            response = await self._send_handling_auth(request, flow, follow)
        if not stream:
            await response.aread()
        return response

    async def _send_handling_auth(self, request: Request, auth: Auth, follow: bool) -> Response:
        flow = auth.async_auth_flow(request)
        request = await flow.__anext__()
        history: list[Response] = []
        while True:
            response = await self._send_handling_redirects(request, follow, history)
            try:
                try:
                    next_request = await flow.asend(response)
                except StopAsyncIteration:
                    return response
                response.history = list(history)
                await response.aread()
                history = [*history, response]
                request = next_request
            except BaseException:
                await response.aclose()
                raise

    async def _send_handling_redirects(
        self, request: Request, follow: bool, history: list[Response]
    ) -> Response:
        while True:
            if len(history) > self.max_redirects:
                raise TooManyRedirects(f"more than {self.max_redirects} redirects", request=request)
            for hook in self._request_hooks:
                result = hook(request)
                if inspect.isawaitable(result):
                    await result
            response = await self._send_single(request)
            try:
                for hook in self._response_hooks:
                    result = hook(response)
                    if inspect.isawaitable(result):
                        await result
                if history:
                    response.history = list(history)
                if response.status_code not in _REDIRECT_STATUSES or not response.is_redirect:
                    return response
                next_request = self._build_redirect(request, response)
                if not follow:
                    response.next_request = next_request
                    return response
                await response.aread()
                history = [*history, response]
                request = next_request
            except BaseException:
                await response.aclose()
                raise

    async def _send_single(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await self._transport.handle_async_request(request)
        except RequestError as exc:
            if exc._request is None:
                exc._request = request
            raise
        response._started = started
        response.default_encoding = self.default_encoding
        if response.headers.get_raw(b"set-cookie") is not None:
            self._cookies.extract_response(response)
        return response

    def _build_redirect(self, request: Request, response: Response) -> Request:
        return build_redirect(request, response, self._cookies)

    # -- verbs ----------------------------------------------------------------------

    async def get(
        self,
        url: URL | str,
        *,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        """``GET url``: send the request and read the response (see ``request()``)."""
        return await self.request(
            "GET",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def head(
        self,
        url: URL | str,
        *,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        """``HEAD url``: the head only; the response has no body."""
        return await self.request(
            "HEAD",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def options(
        self,
        url: URL | str,
        *,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        """``OPTIONS url``."""
        return await self.request(
            "OPTIONS",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def delete(
        self,
        url: URL | str,
        *,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        """``DELETE url``."""
        return await self.request(
            "DELETE",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def post(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        """``POST url`` with a body from ``content``, ``data``/``files`` or ``json``."""
        return await self.request(
            "POST",
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def put(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        """``PUT url`` with a body from ``content``, ``data``/``files`` or ``json``."""
        return await self.request(
            "PUT",
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def patch(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        """``PATCH url`` with a body from ``content``, ``data``/``files`` or ``json``."""
        return await self.request(
            "PATCH",
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    # -- WebSockets -----------------------------------------------------------------

    @asynccontextmanager
    async def websocket_connect(
        self,
        url: URL | str,
        *,
        subprotocols: list[str] | None = None,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        max_message_size: int | None = 1024 * 1024,
        compression: bool = True,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 10.0,
    ) -> AsyncIterator[WebSocketSession]:
        """Open a WebSocket: ``async with client.websocket_connect(url) as ws``.

        ``url`` is ``ws://``/``wss://`` (or ``http``/``https``, or relative to
        ``base_url``). The handshake request gets the client's headers, cookies and
        ``params`` like any request, and ``auth``: Basic, a function, or a flow that
        answers a refusal (a 401 challenge) with another handshake. Cookies set by the
        handshake's answer (the 101, or a refusal) are stored in the client's jar.
        ``timeout`` bounds the connect and the handshake; messages have no read timeout
        (pass ``timeout=`` to ``receive``). ``max_message_size`` bounds incoming messages
        (a larger one closes the connection with 1009); ``compression`` offers
        permessage-deflate; a ping goes out every ``ping_interval`` seconds and the
        connection is dropped (1011) if its pong takes over ``ping_timeout``. The session
        is closed (1000) when the block ends. See ``WebSocketSession`` for the API;
        a refused handshake raises ``WebSocketRejected``.
        """
        text = str(url)
        scheme, sep, rest = text.partition("://")
        if sep and scheme.lower() in ("ws", "wss"):
            text = ("https" if scheme.lower() == "wss" else "http") + "://" + rest
        request = self.build_request(
            "GET", text, params=params, headers=headers, cookies=cookies, timeout=timeout
        )
        flow = self._auth if auth is USE_CLIENT_DEFAULT else build_auth(auth)
        if flow is None and request.url.username is not None:
            flow = BasicAuth(request.url.username, request.url.password or "")
        options = WebSocketOptions(
            subprotocols=subprotocols,
            max_message_size=max_message_size,
            compression=compression,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
        )
        extra = None
        if cookies is not None:
            extra = dict(cookies.items() if isinstance(cookies, Mapping | Cookies) else cookies)
        # The jar's cookies are the client's to refresh on a retry unless the caller wrote
        # the Cookie header.
        own_cookies = headers is None or MutableHeaders(headers).get_raw(b"cookie") is None
        session = await websocket_handshake(
            self._transport,
            self._cookies,
            request,
            flow,
            options,
            cookies=extra if own_cookies else False,
            max_attempts=self.max_redirects,
        )
        try:
            yield session
        finally:
            await session.aclose()

    # -- lifetime -------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the transport and its connections. Safe to call twice."""
        if not self._closed:
            self._closed = True
            try:
                await self._transport.aclose()
            except RuntimeError:
                # Refused before closing anything (its pool belongs to a loop running
                # in another thread): the client stays usable there.
                self._closed = False
                raise

    async def __aenter__(self) -> Self:
        if self._closed:
            raise RuntimeError("the client is closed; create a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
