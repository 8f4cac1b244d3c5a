"""``SessionMiddleware``: the session in a signed cookie, with key rotation.

The session is a dict in ``scope["session"]`` (``request.session``), stored client-side as
JSON, signed (HMAC-SHA256, see ``_signing``) but not encrypted: users can read it, not
change it. Keep it small (a cookie holds about 4 KB) and keep secrets out of it.

When the response starts, the cookie is written only if needed:

- the session changed (compared as JSON, so in-place changes to nested values count);
- it was signed with an older key (``secret_key`` is a list: the first signs, all
  verify; rotate by putting the new key first and dropping the old one later);
- more than half of ``max_age`` has passed since it was signed (sliding expiry without a
  ``Set-Cookie`` on every response);
- it was emptied: the cookie is deleted.

A cookie that does not verify, has expired or does not hold a JSON object is ignored:
the request gets an empty session. A session too big for a cookie (over 4,093 bytes) is
not written, and an error is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Literal

import orjson

from vivace.http import format_set_cookie, parse_cookie_header
from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web.middleware._signing import BadSignature, Signer

__all__ = ["SessionMiddleware"]

logger = logging.getLogger("vivace.web")

# RFC 6265 section 6.1: browsers keep at least 4096 bytes per cookie (name, value and
# attributes together); 4093 is what all major browsers accept for name=value.
MAX_COOKIE_SIZE = 4093
_STARTS = frozenset(("http.response.start", "websocket.accept", "websocket.http.response.start"))


class SessionMiddleware:
    """Signed-cookie sessions.

    >>> from vivace.web import App, Middleware
    >>> app = App(middleware=[Middleware(SessionMiddleware,
    ...     secret_key=["current-key", "previous-key"], https_only=True)])

    ``max_age`` (seconds, default 14 days; ``None`` for a browser-session cookie) bounds
    both the cookie and the signed timestamp.
    """

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str | bytes | Sequence[str | bytes],
        session_cookie: str = "session",
        max_age: int | None = 14 * 24 * 60 * 60,
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
    ) -> None:
        self.app = app
        self.signer = Signer(secret_key, salt=b"vivace.web.session")
        self.cookie_name = session_cookie
        self.cookie_name_bytes = session_cookie.encode("latin-1")
        self.max_age = max_age
        self.path = path
        self.same_site = same_site
        self.secure = https_only
        self.domain = domain
        # Validate the attributes now, not on the first response.
        format_set_cookie(session_cookie, "", path=path, domain=domain, samesite=same_site)

    def _load(self, scope: Scope) -> tuple[dict[str, Any], bytes | None, int, int]:
        """(session, original JSON, signed-at, key index); empty when absent or invalid."""
        for name, value in scope["headers"]:
            if name != b"cookie" or self.cookie_name_bytes not in value:
                continue
            token = parse_cookie_header(value.decode("latin-1")).get(self.cookie_name)
            if token is None:
                continue
            try:
                payload, signed_at, key_index = self.signer.unsign(
                    token.encode("latin-1"), max_age=self.max_age
                )
                data = orjson.loads(payload)
            except (BadSignature, orjson.JSONDecodeError, UnicodeEncodeError):
                return {}, None, 0, 0
            if isinstance(data, dict):
                return data, payload, signed_at, key_index
            return {}, None, 0, 0
        return {}, None, 0, 0

    def _cookie(self, value: str, max_age: int | None) -> bytes:
        return format_set_cookie(
            self.cookie_name,
            value,
            max_age=max_age,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=True,
            samesite=self.same_site,
        ).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        session, original, signed_at, key_index = self._load(scope)
        scope["session"] = session
        had_cookie = original is not None

        async def send_with_session(message: Message) -> None:
            # The handshake's answer can carry the cookie too (websocket.accept headers,
            # or a denial response).
            if message["type"] in _STARTS:
                cookie = self._outgoing(scope, original, signed_at, key_index, had_cookie)
                if cookie is not None:
                    message["headers"] = [*(message.get("headers") or []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_session)

    def _outgoing(
        self,
        scope: Scope,
        original: bytes | None,
        signed_at: int,
        key_index: int,
        had_cookie: bool,
    ) -> bytes | None:
        session = scope.get("session")
        if not session:
            if had_cookie:  # emptied (or cleared): delete the cookie
                return self._cookie("", 0)
            return None
        payload = orjson.dumps(session)
        stale = self.max_age is not None and time.time() - signed_at > self.max_age / 2
        if payload == original and key_index == 0 and not stale:
            return None
        token = self.signer.sign(payload).decode("ascii")
        if len(self.cookie_name) + 1 + len(token) > MAX_COOKIE_SIZE:
            logger.error(
                "session cookie not written: %d bytes is more than browsers keep (%d)",
                len(token),
                MAX_COOKIE_SIZE,
            )
            return None
        return self._cookie(token, self.max_age)
