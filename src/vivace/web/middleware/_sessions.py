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

from collections.abc import Sequence
from typing import Any, Literal

import orjson

from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web.middleware._signed_cookie import SignedCookie

__all__ = ["SessionMiddleware"]


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
        self.cookie = SignedCookie(
            session_cookie,
            secret_key,
            salt=b"vivace.web.session",
            max_age=max_age,
            path=path,
            same_site=same_site,
            https_only=https_only,
            domain=domain,
        )

    def _load(self, scope: Scope) -> tuple[dict[str, Any], bytes | None, int, int]:
        """(session, original JSON, signed-at, key index); empty when absent or invalid."""
        found = self.cookie.read(scope)
        if found is None:
            return {}, None, 0, 0
        payload, signed_at, key_index = found
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return {}, None, 0, 0
        if isinstance(data, dict):
            return data, payload, signed_at, key_index
        return {}, None, 0, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        session, original, signed_at, key_index = self._load(scope)
        scope["session"] = session
        cookie = self.cookie

        async def send_with_session(message: Message) -> None:
            # The handshake's answer can carry the cookie too (websocket.accept headers,
            # or a denial response).
            if cookie.starts_response(message):
                header = self._outgoing(scope, original, signed_at, key_index)
                if header is not None:
                    cookie.attach(message, (b"set-cookie", header))
            await send(message)

        await self.app(scope, receive, send_with_session)

    def _outgoing(
        self, scope: Scope, original: bytes | None, signed_at: int, key_index: int
    ) -> bytes | None:
        session = scope.get("session")
        if not session:
            if original is not None:  # emptied (or cleared): delete the cookie
                return self.cookie.delete_cookie()
            return None
        payload = orjson.dumps(session)
        if payload == original and key_index == 0 and not self.cookie.stale(signed_at):
            return None
        return self.cookie.set_cookie(payload)
