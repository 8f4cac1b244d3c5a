"""``TestClient``: the synchronous test client for any ASGI app.

The app runs on an event loop in a background thread (``_portal.LoopThread``), driven by
an ``AsyncTestClient`` living on that loop; each method here runs the matching coroutine
there and waits for it. Responses are ordinary ``vivace.client.Response`` objects; a
streamed one gets a synchronous body stream that pulls each chunk from the loop, so
``iter_bytes()`` / ``iter_lines()`` see the body as the app sends it.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from vivace.client import AsyncByteStream, Cookies, Request, Response, SyncByteStream
from vivace.client._config import TimeoutTypes
from vivace.client._cookies import CookieTypes
from vivace.http import URL, HeadersInput, MutableHeaders
from vivace.testing._async_client import DEFAULT_TEST_TIMEOUT, AsyncTestClient
from vivace.testing._portal import LoopThread
from vivace.testing._websocket import WebSocketTestSession
from vivace.types import ASGIApp

__all__ = ["TestClient"]


class _SyncBodyStream(SyncByteStream):
    """A response body on the loop thread, read chunk by chunk from the test's thread."""

    __slots__ = ("_iterator", "_portal", "_stream")

    def __init__(self, stream: AsyncByteStream, portal: LoopThread) -> None:
        self._stream = stream
        self._portal = portal
        self._iterator: AsyncIterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        iterator = self._iterator = self._stream.__aiter__()
        while True:
            try:
                chunk = self._portal.call(_next(iterator))
            except StopAsyncIteration:
                return
            yield chunk

    def close(self) -> None:
        self._portal.call(self._aclose())

    async def _aclose(self) -> None:
        iterator = self._iterator
        if iterator is not None and hasattr(iterator, "aclose"):
            await iterator.aclose()
        await self._stream.aclose()


async def _next(iterator: AsyncIterator[bytes]) -> bytes:
    return await iterator.__anext__()


def _shutdown(portal: LoopThread) -> None:
    portal.close()


class TestClient:
    """Test any ASGI app (vivace.web, Starlette, FastAPI, Django...) from a plain test.

    ``with TestClient(app) as client`` runs lifespan startup on enter and shutdown on exit
    (a startup failure raises here); without ``with`` there is no lifespan. Cookies the
    app sets persist across calls. Exceptions in the app are re-raised in the test unless
    ``raise_server_exceptions=False``.

    >>> async def app(scope, receive, send):
    ...     await send({"type": "http.response.start", "status": 200,
    ...                 "headers": [(b"set-cookie", b"seen=1")]})
    ...     await send({"type": "http.response.body", "body": scope["path"].encode()})
    >>> with TestClient(app) as client:
    ...     r = client.get("/hello", params={"q": "x"})
    ...     (r.status_code, r.text, r.url, client.cookies["seen"])
    (200, '/hello', URL('http://testserver/hello?q=x'), '1')
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        headers: HeadersInput | None = None,
        cookies: CookieTypes | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] | None = ("testclient", 50000),
        timeout: TimeoutTypes = DEFAULT_TEST_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        self.app = app
        self._async = AsyncTestClient(
            app,
            base_url=base_url,
            raise_server_exceptions=raise_server_exceptions,
            root_path=root_path,
            headers=headers,
            cookies=cookies,
            follow_redirects=follow_redirects,
            client=client,
            timeout=timeout,
            **kwargs,
        )
        self._portal: LoopThread | None = None
        self._finalizer: weakref.finalize[Any, TestClient] | None = None
        self._entered = False

    @property
    def portal(self) -> LoopThread:
        """The loop thread the app runs on (started on first use)."""
        if self._portal is None:
            self._portal = LoopThread()
            self._finalizer = weakref.finalize(self, _shutdown, self._portal)
        return self._portal

    # -- configuration, shared with the async client on the loop ---------------------

    @property
    def base_url(self) -> URL:
        return self._async.base_url

    @property
    def headers(self) -> MutableHeaders:
        return self._async.headers

    @headers.setter
    def headers(self, headers: HeadersInput) -> None:
        self._async.headers = headers

    @property
    def cookies(self) -> Cookies:
        """The cookie jar; ``Set-Cookie`` from the app persists here across calls."""
        return self._async.cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes) -> None:
        self._async.cookies = cookies

    @property
    def follow_redirects(self) -> bool:
        return self._async.follow_redirects

    @follow_redirects.setter
    def follow_redirects(self, value: bool) -> None:
        self._async.follow_redirects = value

    # -- requests ------------------------------------------------------------------------

    def build_request(self, method: str, url: URL | str, **kwargs: Any) -> Request:
        return self._async.build_request(method, url, **kwargs)

    def send(self, request: Request, **kwargs: Any) -> Response:
        """Send a built request; the body is read (use ``stream()`` to stream it)."""
        return self.portal.call(self._async.send(request, **kwargs))

    def request(self, method: str, url: URL | str, **kwargs: Any) -> Response:
        """Send a request; keywords as ``vivace.client.Client.request``."""
        return self.portal.call(self._async.request(method, url, **kwargs))

    def get(self, url: URL | str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: URL | str, **kwargs: Any) -> Response:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: URL | str, **kwargs: Any) -> Response:
        return self.request("OPTIONS", url, **kwargs)

    def delete(self, url: URL | str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)

    def post(self, url: URL | str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: URL | str, **kwargs: Any) -> Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: URL | str, **kwargs: Any) -> Response:
        return self.request("PATCH", url, **kwargs)

    @contextmanager
    def stream(self, method: str, url: URL | str, **kwargs: Any) -> Iterator[Response]:
        """Send a request and stream the body with ``iter_bytes``/``iter_text``/
        ``iter_lines`` as the app sends it; closing early disconnects the app."""
        send_options = {
            key: kwargs.pop(key) for key in ("auth", "follow_redirects") if key in kwargs
        }
        request = self._async.build_request(method, url, **kwargs)
        response = self.portal.call(self._async.send(request, stream=True, **send_options))
        stream = response.stream
        assert isinstance(stream, AsyncByteStream)
        response.stream = _SyncBodyStream(stream, self.portal)
        try:
            yield response
        finally:
            response.close()

    @contextmanager
    def websocket_connect(
        self, url: URL | str, subprotocols: list[str] | None = None, **kwargs: Any
    ) -> Iterator[WebSocketTestSession]:
        """Open a WebSocket session with the app (in-process, no sockets).

        ``with client.websocket_connect("/ws") as ws: ws.send_text("hi")``. Keywords as
        ``vivace.client.Client.websocket_connect`` (``headers``, ``params``, ``cookies``
        ...). A refused handshake raises ``vivace.client.WebSocketRejected`` (its
        ``response`` is the 403, or the app's denial response); an exception in the app
        is raised here, or by the next ``receive``.
        """
        manager = self._async.websocket_connect(url, subprotocols=subprotocols, **kwargs)
        session = self.portal.call(manager.__aenter__())
        try:
            yield WebSocketTestSession(session, self.portal)
        finally:
            self.portal.call(manager.__aexit__(None, None, None))

    # -- lifetime ------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if self._entered:
            raise RuntimeError("this TestClient is already in a 'with' block")
        try:
            self.portal.call(self._async.__aenter__())
        except BaseException:
            self.close()
            raise
        self._entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._entered:
                self._entered = False
                self.portal.call(self._async.__aexit__(exc_type, exc, tb))
        finally:
            self.close()

    def close(self) -> None:
        """Close the client and stop its loop thread (lifespan shutdown needs ``with``)."""
        portal = self._portal
        if portal is not None:
            if portal.running and not self._async.is_closed:
                portal.call(self._async.aclose())
            if self._finalizer is not None:
                self._finalizer()
            self._portal = None
