"""``CSRFMiddleware``: refuse state-changing requests that another site made the browser send.

For every request whose method is not safe (RFC 9110 section 9.2.1: anything but GET,
HEAD, OPTIONS and TRACE; an unknown or lower-case method is unsafe), outside the
``exempt`` paths, in this order:

1. Fetch metadata: ``Sec-Fetch-Site: cross-site`` is refused at once (browsers send it
   on every request since 2020-2023; older ones leave it out and get checks 2 and 3).
2. Origin: ``Origin`` must be the app's own origin (the scheme and ``Host`` of the
   request) or one of ``trusted_origins``; ``Origin: null`` (sandboxed frames, some
   redirects, ``data:`` URLs) is refused. Without ``Origin``, the ``Referer``'s origin
   is checked the same way; a request with neither is refused over HTTPS (a browser
   always sends one of them there, RFC 6454 and the Fetch standard) and let through to
   the token check over plain HTTP.
3. Token: the ``X-CSRF-Token`` header, else the ``csrf_token`` field of a form body
   (urlencoded, or multipart where the field comes before ``max_body_size`` bytes), must
   be a masked form of the session's secret (see ``_tokens``). The body read for it is
   replayed to the app unchanged.

A refused request raises ``CSRFError`` (403), answered by the app's error handlers.
The method is the one on the request line: a method-override header or ``_method``
field never makes a POST safe.

WebSocket handshakes are GETs, but browsers send them cross-site with cookies (Cross-Site
WebSocket Hijacking): their ``Origin`` is checked too (``check_websocket_origin``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from vivace.csrf._tokens import FORM_FIELD, HEADER, token_matches
from vivace.http import (
    FormError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    UrlencodedParser,
    boundary_from_content_type,
    parse_options_header,
)
from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web import HTTPException

__all__ = ["CSRFError", "CSRFMiddleware"]

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_HEADER = HEADER.encode("ascii")


class CSRFError(HTTPException):
    """A request refused by the CSRF checks (403); ``reason`` says which check."""

    def __init__(self, reason: str) -> None:
        super().__init__(403, f"CSRF check failed: {reason}")
        self.reason = reason


def _origin(scheme: str, netloc: str) -> str | None:
    """``scheme://host[:port]`` normalised (lower case, default port dropped); None if bad."""
    scheme = scheme.lower()
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _parse_origin(value: str) -> str | None:
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return _origin(parts.scheme, parts.netloc)


class _Replay:
    """A ``receive`` giving back the body messages already read, then the rest."""

    __slots__ = ("_messages", "_receive")

    def __init__(self, messages: list[Message], receive: Receive) -> None:
        self._messages = messages
        self._receive = receive

    async def __call__(self) -> Message:
        if self._messages:
            return self._messages.pop(0)
        return await self._receive()


class CSRFMiddleware:
    """CSRF protection for the whole app (see the module docstring).

    >>> from vivace.sessions import StoreSessionMiddleware
    >>> from vivace.stores import MemoryStore
    >>> from vivace.web import App, Middleware
    >>> app = App(middleware=[
    ...     Middleware(StoreSessionMiddleware, store=MemoryStore(), secret_key="k"),
    ...     Middleware(CSRFMiddleware, trusted_origins=["https://*.example.com"],
    ...                exempt=["/webhooks/*"]),
    ... ])

    ``exempt``: paths without the checks, exact or ending in ``*`` for a prefix (API
    endpoints authenticated by tokens rather than cookies, webhooks).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_origins: Sequence[str] = (),
        exempt: Sequence[str] = (),
        check_websocket_origin: bool = True,
        max_body_size: int = 1024 * 1024,
    ) -> None:
        self.app = app
        patterns = []
        for origin in trusted_origins:
            scheme, sep, rest = origin.partition("://")
            if not sep or scheme not in ("http", "https") or not rest or "/" in rest:
                raise ValueError(f"a trusted origin is scheme://host[:port], not {origin!r}")
            wildcard = rest.startswith("*.")
            normal = _origin(scheme, rest[2:] if wildcard else rest)
            if normal is None:
                raise ValueError(f"invalid trusted origin {origin!r}")
            host_part = re.escape(normal.partition("://")[2])
            subdomains = r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\." if wildcard else ""
            prefix = re.escape(scheme) + "://" + subdomains
            patterns.append(prefix + host_part)
        self._trusted = re.compile("|".join(patterns)) if patterns else None
        exact, prefixes = set(), []
        for path in exempt:
            if not path.startswith("/"):
                raise ValueError(f"an exempt path starts with '/': {path!r}")
            if path.endswith("*"):
                prefixes.append(path[:-1])
            else:
                exact.add(path)
        self._exempt_exact = frozenset(exact)
        self._exempt_prefixes = tuple(prefixes)
        self.check_websocket_origin = check_websocket_origin
        self.max_body_size = max_body_size

    def _own_origin(self, scope: Scope) -> str | None:
        host = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
                break
        if host is None:
            server = scope.get("server")
            if not server:
                return None
            host = f"{server[0]}:{server[1]}"
        scheme = str(scope.get("scheme", "http"))
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        return _origin(scheme, host)

    def _allowed(self, scope: Scope, origin: str | None) -> bool:
        if origin is None:
            return False
        if origin == self._own_origin(scope):
            return True
        return self._trusted is not None and self._trusted.fullmatch(origin) is not None

    def _exempt(self, path: str) -> bool:
        return path in self._exempt_exact or path.startswith(self._exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["method"] not in SAFE_METHODS and not self._exempt(scope["path"]):
                receive = await self._check(scope, receive)
        elif kind == "websocket" and self.check_websocket_origin:
            origin = _header(scope, b"origin")
            # Non-browser clients send no Origin; browsers always do on a handshake.
            if origin is not None and not self._allowed(scope, _parse_origin(origin)):
                raise CSRFError("cross-origin WebSocket handshake")
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, receive: Receive) -> Receive:
        if _header(scope, b"sec-fetch-site") == "cross-site":
            raise CSRFError("cross-site request (Sec-Fetch-Site)")
        origin = _header(scope, b"origin")
        if origin is not None:
            if not self._allowed(scope, _parse_origin(origin)):
                raise CSRFError("Origin not allowed")
        else:
            referer = _header(scope, b"referer")
            if referer is not None:
                if not self._allowed(scope, _parse_origin(referer)):
                    raise CSRFError("Referer not allowed")
            elif scope.get("scheme") == "https":
                raise CSRFError("no Origin or Referer on an HTTPS request")
        token = _header(scope, _HEADER)
        if token is None:
            token, receive = await self._form_token(scope, receive)
        if token is None:
            raise CSRFError("token missing")
        if not token_matches(scope, token):
            raise CSRFError("token incorrect")
        return receive

    async def _form_token(self, scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
        """The token field of a form body, and a ``receive`` that replays what was read."""
        content_type = _header(scope, b"content-type")
        media, _ = parse_options_header(content_type)
        parser: UrlencodedParser | MultipartParser
        if media == "application/x-www-form-urlencoded":
            parser = UrlencodedParser(max_field_size=self.max_body_size + 1)
        elif media == "multipart/form-data":
            try:
                parser = MultipartParser(boundary_from_content_type(content_type))
            except FormError:
                return None, receive
        else:
            return None, receive
        read: list[Message] = []
        size = 0
        token: str | None = None
        in_field = False
        field = b""
        more = True
        limit = self.max_body_size
        try:
            while more and token is None and size < limit:
                message = await receive()
                read.append(message)
                if message["type"] != "http.request":
                    break  # the client left: the app sees the disconnect after replay
                # Only the first max_body_size bytes are searched (the rest is replayed).
                chunk = message.get("body", b"")[: limit - size]
                more = message.get("more_body", False)
                size += len(chunk)
                whole = not more and size < limit
                if isinstance(parser, UrlencodedParser):
                    pairs = parser.feed(chunk) + (parser.close() if whole else [])
                    token = next((v for k, v in pairs if k == FORM_FIELD), None)
                    continue
                for event in parser.feed(chunk):
                    if isinstance(event, PartStart):
                        in_field = event.name == FORM_FIELD and event.filename is None
                    elif isinstance(event, PartData) and in_field:
                        field += event.data
                    elif isinstance(event, PartEnd) and in_field:
                        token = field.decode("utf-8", "replace")
                        break
        except FormError:
            token = None  # a malformed body has no token; the app reports the body itself
        return token, _Replay(read, receive)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
