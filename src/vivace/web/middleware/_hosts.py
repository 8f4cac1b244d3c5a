"""``TrustedHostMiddleware`` and ``HTTPSRedirectMiddleware``."""

from __future__ import annotations

from collections.abc import Sequence

from vivace.http import URL, InvalidURL
from vivace.types import ASGIApp, Receive, Scope, Send
from vivace.web._responses import PlainTextResponse, RedirectResponse

__all__ = ["HTTPSRedirectMiddleware", "TrustedHostMiddleware", "host_from_scope"]


def host_from_scope(scope: Scope) -> str | None:
    """The ``Host`` header's host name, lower-cased, without the port (``None`` if absent).

    >>> host_from_scope({"headers": [(b"host", b"Example.COM:8000")]})
    'example.com'
    >>> host_from_scope({"headers": [(b"host", b"[::1]:80")]})
    '[::1]'
    """
    for name, value in scope["headers"]:
        if name == b"host":
            text: str = value.decode("latin-1").strip().lower()
            if text.startswith("["):
                end = text.find("]")
                return text[: end + 1] if end > 0 else None
            return text.partition(":")[0]
    return None


class TrustedHostMiddleware:
    """Refuse requests whose ``Host`` is not one of ``allowed_hosts`` (400).

    A pattern ``*.example.com`` allows subdomains (not ``example.com`` itself); ``*``
    allows any host. Guards against Host-header attacks on absolute URLs (password-reset
    links, redirects). With ``www_redirect``, a request for ``example.com`` when only
    ``www.example.com`` is listed is redirected there.

    >>> from vivace.web import App, Middleware
    >>> app = App(middleware=[Middleware(TrustedHostMiddleware,
    ...     allowed_hosts=["example.com", "*.example.com"])])
    """

    def __init__(
        self, app: ASGIApp, allowed_hosts: Sequence[str] = ("*",), www_redirect: bool = True
    ) -> None:
        if isinstance(allowed_hosts, str):
            raise TypeError("allowed_hosts is a list of host names, not a string")
        for pattern in allowed_hosts:
            if "*" in pattern[1:] or (
                pattern.startswith("*") and pattern != "*" and not pattern.startswith("*.")
            ):
                raise ValueError(f"a wildcard host must look like '*.example.com': {pattern!r}")
        self.app = app
        self.allow_any = "*" in allowed_hosts
        self.exact = frozenset(h.lower() for h in allowed_hosts if not h.startswith("*"))
        self.suffixes = tuple(h[1:].lower() for h in allowed_hosts if h.startswith("*."))
        self.www_redirect = www_redirect

    def is_allowed(self, host: str) -> bool:
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = host_from_scope(scope)
        if host is not None and self.is_allowed(host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if host is not None and self.www_redirect and "www." + host in self.exact:
            url = URL(scope=scope)
            netloc = "www." + url.netloc
            await RedirectResponse(str(url.replace(netloc=netloc)), 301)(scope, receive, send)
            return
        await PlainTextResponse("Invalid host header", 400)(scope, receive, send)


class HTTPSRedirectMiddleware:
    """Redirect ``http``/``ws`` requests to ``https``/``wss`` (307 keeps the method).

    WebSocket requests are refused with the denial-response extension when the server has
    it (a 307 the client may follow), else closed with 1008.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheme = scope.get("scheme")
        if scope["type"] not in ("http", "websocket") or scheme not in ("http", "ws"):
            await self.app(scope, receive, send)
            return
        url = URL(scope=scope)
        secure = "https" if scheme == "http" else "wss"
        try:
            port = url.port
            target = url.replace(scheme=secure, port=None if port in (80, 443, None) else port)
        except InvalidURL:
            if scope["type"] == "http":
                await PlainTextResponse("Invalid host header", 400)(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        location = str(target)
        if scope["type"] == "http":
            await RedirectResponse(location, 307)(scope, receive, send)
            return
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 307,
                    "headers": [
                        (b"location", location.encode("latin-1")),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b""})
            return
        await send({"type": "websocket.close", "code": 1008})
