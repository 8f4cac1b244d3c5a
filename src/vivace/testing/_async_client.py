"""``AsyncTestClient``: the async test client, a ``vivace.client.Client`` over an
``ASGITransport``, with lifespan on ``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from vivace.client import ASGITransport, Client, Timeout
from vivace.client._config import TimeoutTypes
from vivace.client._cookies import CookieTypes
from vivace.http import HeadersInput
from vivace.testing._lifespan import LifespanManager
from vivace.types import ASGIApp

__all__ = ["DEFAULT_TEST_TIMEOUT", "AsyncTestClient"]

#: Long enough for any sane test, short enough to fail before pytest's 60 s timeout with
#: a clear ``ReadTimeout`` naming the request instead of a killed test.
DEFAULT_TEST_TIMEOUT = Timeout(30.0)


def _test_headers(headers: HeadersInput | None) -> list[tuple[bytes, bytes]]:
    base = [(b"user-agent", b"testclient")]
    return base if headers is None else base + list(_pairs(headers))


def _pairs(headers: HeadersInput) -> Any:
    from vivace.http import MutableHeaders

    return MutableHeaders(headers).raw


class AsyncTestClient(Client):
    """Test any ASGI app from an async test; the same API as ``Client``, awaited.

    ``async with AsyncTestClient(app) as client`` runs the app's lifespan startup on enter
    and shutdown on exit; without ``async with`` there is no lifespan. Exceptions raised by
    the app are re-raised in the test unless ``raise_server_exceptions=False`` (then they
    give a 500, as a server would). Redirects are followed by default.

    >>> import asyncio
    >>> async def app(scope, receive, send):
    ...     await send({"type": "http.response.start", "status": 200, "headers": []})
    ...     await send({"type": "http.response.body", "body": b"hi"})
    >>> async def test():
    ...     async with AsyncTestClient(app) as client:
    ...         return (await client.get("/")).text
    >>> asyncio.run(test())
    'hi'
    """

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
        self._asgi = ASGITransport(
            app,
            raise_app_exceptions=raise_server_exceptions,
            root_path=root_path,
            client=client,
        )
        super().__init__(
            base_url=base_url,
            headers=_test_headers(headers),
            cookies=cookies,
            follow_redirects=follow_redirects,
            timeout=timeout,
            transport=self._asgi,
            **kwargs,
        )
        self._lifespan: LifespanManager | None = None

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        lifespan = LifespanManager(self.app, self.timeout.read)
        await lifespan.startup()
        self._lifespan = lifespan
        self._asgi.state = lifespan.state if lifespan.supported else None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lifespan, self._lifespan = self._lifespan, None
        try:
            if lifespan is not None:
                await lifespan.shutdown()
        finally:
            await super().__aexit__(exc_type, exc, tb)
