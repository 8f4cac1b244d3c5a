"""``CORSMiddleware``: Cross-Origin Resource Sharing (the Fetch standard, section 3.2).

Requests without an ``Origin`` header pass straight through. A preflight (``OPTIONS``
with ``Origin`` and ``Access-Control-Request-Method``) is answered here: 200 with the
``Access-Control-Allow-*`` headers, or 400 naming what is not allowed. Other cross-origin
requests get ``Access-Control-Allow-Origin`` (and the credentials and expose headers) on
their response, and ``Vary: Origin`` whenever the answer depends on the origin.

``allow_origins=["*"]`` together with ``allow_credentials=True`` is refused: browsers
reject that combination, and the usual workaround (echoing any origin back) lets every
site read responses meant for the logged-in user. List the origins, or use
``allow_origin_regex``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vivace.http import MutableHeaders
from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web._responses import PlainTextResponse, Response

__all__ = ["CORSMiddleware"]

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# Fetch standard: CORS-safelisted request headers need no permission.
SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})


class CORSMiddleware:
    """Answer CORS preflights and add CORS headers to cross-origin responses.

    >>> from vivace.web import App, Middleware
    >>> app = App(middleware=[Middleware(CORSMiddleware,
    ...     allow_origins=["https://app.example"], allow_methods=["GET", "POST"],
    ...     allow_headers=["authorization"], allow_credentials=True)])
    """

    def __init__(
        self,
        app: ASGIApp,
        allow_origins: Sequence[str] = (),
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        expose_headers: Sequence[str] = (),
        max_age: int = 600,
    ) -> None:
        if "*" in allow_origins and allow_credentials:
            raise ValueError(
                "CORSMiddleware: allow_origins=['*'] with allow_credentials=True would let "
                "any site read credentialed responses; list the origins instead"
            )
        self.app = app
        self.allow_all_origins = "*" in allow_origins
        self.allow_origins = frozenset(o for o in allow_origins if o != "*")
        self.allow_origin_regex = re.compile(allow_origin_regex) if allow_origin_regex else None
        methods = ALL_METHODS if "*" in allow_methods else tuple(m.upper() for m in allow_methods)
        self.allow_methods = frozenset(methods)
        self.allow_all_headers = "*" in allow_headers
        self.allow_headers = frozenset(h.lower() for h in allow_headers if h != "*")
        self.allow_credentials = allow_credentials
        # The simple response's headers, computed once.
        simple: list[tuple[bytes, bytes]] = []
        if allow_credentials:
            simple.append((b"access-control-allow-credentials", b"true"))
        if expose_headers:
            simple.append((b"access-control-expose-headers", ", ".join(expose_headers).encode()))
        self.simple_headers = simple
        preflight: dict[str, str] = {
            "access-control-allow-methods": ", ".join(sorted(self.allow_methods)),
            "access-control-max-age": str(max_age),
        }
        if allow_credentials:
            preflight["access-control-allow-credentials"] = "true"
        self.preflight_headers = preflight
        # The answer depends on the Origin unless it is "*" for everyone.
        self.vary_origin = not self.allow_all_origins

    def is_allowed_origin(self, origin: str) -> bool:
        if self.allow_all_origins:
            return True
        if origin in self.allow_origins:
            return True
        regex = self.allow_origin_regex
        return regex is not None and regex.fullmatch(origin) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin: bytes | None = None
        request_method: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                request_method = value
        if origin is None:
            await self.app(scope, receive, send)
            return
        origin_text = origin.decode("latin-1")
        if scope["method"] == "OPTIONS" and request_method is not None:
            await self.preflight(scope, origin_text, request_method.decode("latin-1"))(
                scope, receive, send
            )
            return
        await self.simple(scope, receive, send, origin_text)

    def preflight(self, scope: Scope, origin: str, method: str) -> Response:
        headers = dict(self.preflight_headers)
        failures = []
        if self.is_allowed_origin(origin):
            headers["access-control-allow-origin"] = "*" if self.allow_all_origins else origin
        else:
            failures.append("origin")
        if self.vary_origin:
            headers["vary"] = "Origin"
        if method.upper() not in self.allow_methods:
            failures.append("method")
        requested = ""
        for name, value in scope["headers"]:
            if name == b"access-control-request-headers":
                requested = value.decode("latin-1")
        if requested:
            wanted = [h.strip().lower() for h in requested.split(",") if h.strip()]
            if self.allow_all_headers:
                headers["access-control-allow-headers"] = ", ".join(wanted)
            else:
                allowed = self.allow_headers | SAFELISTED_HEADERS
                if any(h not in allowed for h in wanted):
                    failures.append("headers")
                else:
                    headers["access-control-allow-headers"] = ", ".join(sorted(self.allow_headers))
        if failures:
            return PlainTextResponse(f"Disallowed CORS {', '.join(failures)}", 400, headers)
        return PlainTextResponse("OK", 200, headers)

    async def simple(self, scope: Scope, receive: Receive, send: Send, origin: str) -> None:
        allowed = self.is_allowed_origin(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                if allowed:
                    headers["access-control-allow-origin"] = (
                        "*" if self.allow_all_origins else origin
                    )
                    headers.raw.extend(self.simple_headers)
                if self.vary_origin:
                    headers.add_vary_header("Origin")
                message["headers"] = headers.raw
            await send(message)

        await self.app(scope, receive, send_with_cors)
