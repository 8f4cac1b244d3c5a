"""``RateLimitMiddleware``: limit requests by client address, user or any key.

Each request (HTTP, and WebSocket handshakes unless ``websockets=False``) outside the
``exempt`` paths is one hit of ``cost`` on the key its ``key`` function gives; a
refused request raises ``RateLimitExceeded`` (429, answered by the app's error handlers,
with ``Retry-After`` and the RateLimit fields); an allowed one gets the RateLimit fields
on its response. A key function returning None lets the request through uncounted.

Key functions (``by_address``, ``by_user``, ``by_header``) see the ASGI scope. The
client address is ``scope["client"]``: behind a proxy, configure the server's trusted
proxies (``vivace run --forwarded-allow-ips``) so it is the real client's, or every
client shares the proxy's quota.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vivace.ratelimit._limiter import RateLimiter, RateLimitExceeded
from vivace.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["KeyFunction", "RateLimitMiddleware", "by_address", "by_header", "by_user"]

KeyFunction = Callable[[Scope], str | None]


def by_address(scope: Scope) -> str | None:
    """The client's IP address (``addr:203.0.113.7``); None when the server gives none."""
    client = scope.get("client")
    return f"addr:{client[0]}" if client else None


def by_user(scope: Scope) -> str | None:
    """The authenticated user (``user:<identity>``), else the client's address.

    The identity is the user's ``identity`` attribute if it has one, else its
    ``display_name`` (``vivace.web.middleware.AuthenticationMiddleware``'s users).
    """
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        identity = getattr(user, "identity", None) or getattr(user, "display_name", None)
        if identity:
            return f"user:{identity}"
    return by_address(scope)


def by_header(name: str) -> KeyFunction:
    """A key function reading header ``name`` (an API key: ``key:<value>``).

    Requests without the header are not limited by it (combine with another limit).
    """
    wanted = name.lower().encode("latin-1")

    def key(scope: Scope) -> str | None:
        for header, value in scope["headers"]:
            if header == wanted and value:
                # Keys are bounded: a 4 KB header must not become a 4 KB store key.
                return "key:" + str(value[:200].decode("latin-1"))
        return None

    return key


class RateLimitMiddleware:
    """Limit the whole app (or, as route middleware, one route).

    >>> from vivace.stores import MemoryStore
    >>> from vivace.web import App, Middleware
    >>> limiter = RateLimiter(MemoryStore(), "100/minute")
    >>> app = App(middleware=[Middleware(RateLimitMiddleware, limiter=limiter,
    ...     key=by_address, exempt=["/health"])])
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        *,
        key: KeyFunction = by_address,
        cost: int = 1,
        exempt: Sequence[str] = (),
        websockets: bool = True,
        headers: bool = True,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.key = key
        self.cost = cost
        self.exempt = frozenset(exempt)
        self.websockets = websockets
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (
            kind not in ("http", "websocket")
            or (kind == "websocket" and not self.websockets)
            or scope["path"] in self.exempt
        ):
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        result = await self.limiter.hit(key, self.cost)
        if not result.allowed:
            raise RateLimitExceeded(result)
        if not self.headers or kind != "http":
            await self.app(scope, receive, send)
            return
        fields = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in result.headers()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*(message.get("headers") or []), *fields]
            await send(message)

        await self.app(scope, receive, send_with_headers)
