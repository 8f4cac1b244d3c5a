"""``StoreSessionMiddleware``: server-side sessions, the data in a store, the id in a cookie.

The cookie holds only a random id (256 bits from ``secrets``), signed with the app's
secret (``SignedCookie``: HMAC-SHA256, key rotation, HttpOnly, SameSite=Lax by default),
so a forged or guessed id is refused before the store is asked. The data lives in the
store under ``key_prefix + id`` as JSON, expiring ``max_age`` seconds after it was last
saved: every process and host sharing the store shares the sessions.

Per request:

- no cookie, or one that does not verify: an empty session, no store access;
- a valid cookie: one ``get``; an id the store no longer has (expired, flushed) is an
  empty session, and an id is never reused: saving it makes a new one;
- when the response starts (HTTP, or a WebSocket's accept or denial), at most one write:

  ====================================  ==========================================
  the session ...                       store, and cookie
  ====================================  ==========================================
  is new and non-empty                  ``set`` under a new id; cookie set
  was rotated (``session.rotate()``)    ``set`` under a new id, old id deleted; cookie set
  was flushed, or emptied               old id deleted; cookie deleted (unless refilled:
                                        then as a new session)
  changed (compared as JSON)            ``set`` (the TTL starts again)
  is unchanged, past half ``max_age``   ``expire`` (sliding expiry); cookie re-signed
  is unchanged, signed with an old key  cookie re-signed with the current key
  ====================================  ==========================================

A response to a request that has a session, or that sets one, gets ``Vary: Cookie``: a
shared cache must not hand one visitor's page to another.

Concurrent requests of one session each save what they saw: the last response to start
wins (as with every session store without locking).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Literal

import orjson

from vivace.sessions._session import Session
from vivace.stores import Store
from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web.middleware import SignedCookie

__all__ = ["StoreSessionMiddleware"]

_VARY_COOKIE = (b"vary", b"Cookie")


class StoreSessionMiddleware:
    """Sessions kept in a ``vivace.stores`` store.

    >>> from vivace.stores import MemoryStore
    >>> from vivace.web import App, Middleware
    >>> app = App(middleware=[Middleware(StoreSessionMiddleware,
    ...     store=MemoryStore(), secret_key=["current-key", "previous-key"])])

    ``max_age`` (seconds, default 14 days) is the idle lifetime: a session not used for
    that long is gone. ``https_only=True`` marks the cookie ``Secure`` (do it in
    production).
    """

    def __init__(
        self,
        app: ASGIApp,
        store: Store,
        secret_key: str | bytes | Sequence[str | bytes],
        *,
        session_cookie: str = "sessionid",
        max_age: int = 14 * 24 * 60 * 60,
        key_prefix: str = "session:",
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
    ) -> None:
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
            raise ValueError("max_age must be a positive number of seconds")
        self.app = app
        self.store = store.namespace(key_prefix)
        self.max_age = max_age
        self.cookie = SignedCookie(
            session_cookie,
            secret_key,
            salt=b"vivace.sessions",
            max_age=max_age,
            path=path,
            same_site=same_site,
            https_only=https_only,
            domain=domain,
        )

    async def _load(self, scope: Scope) -> tuple[Session, bytes | None, int, int]:
        """(session, stored JSON, cookie signed-at, key index)."""
        found = self.cookie.read(scope)
        if found is None:
            return Session(), None, 0, 0
        raw_id, signed_at, key_index = found
        try:
            session_id = raw_id.decode("ascii")
        except UnicodeDecodeError:  # pragma: no cover - we only ever sign ASCII ids
            return Session(), None, 0, 0
        stored = await self.store.get(session_id) if session_id else None
        if stored is None:
            # Expired or deleted: an empty session whose id will not be reused.
            return Session(), b"", signed_at, key_index
        try:
            data = orjson.loads(stored)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            return Session(), b"", signed_at, key_index
        return Session(data, session_id=session_id), stored, signed_at, key_index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        session, stored, signed_at, key_index = await self._load(scope)
        scope["session"] = session
        cookie = self.cookie

        async def send_with_session(message: Message) -> None:
            if cookie.starts_response(message):
                headers = await self._save(scope, session, stored, signed_at, key_index)
                if headers:
                    cookie.attach(message, *headers)
            await send(message)

        await self.app(scope, receive, send_with_session)

    async def _save(
        self,
        scope: Scope,
        loaded: Session,
        stored: bytes | None,
        signed_at: int,
        key_index: int,
    ) -> list[tuple[bytes, bytes]]:
        """Write what changed; the headers for the response (see the module table)."""
        current = scope.get("session")
        if not isinstance(current, dict):  # replaced by the app with something else
            current = {}
        old_id = loaded.id
        had_cookie = stored is not None
        new_id = old_id is None or loaded.flushed or loaded.rotated
        if old_id is not None and (new_id or not current):
            await self.store.delete(old_id)
        if not current:
            if had_cookie:
                return [(b"set-cookie", self.cookie.delete_cookie()), _VARY_COOKIE]
            return []
        payload = orjson.dumps(current)
        if new_id:
            session_id = secrets.token_urlsafe(32)
            await self.store.set(session_id, payload, ttl=self.max_age)
            header = self.cookie.set_cookie(session_id.encode("ascii"))
            assert header is not None, "a signed id always fits in a cookie"
            return [(b"set-cookie", header), _VARY_COOKIE]
        assert old_id is not None
        stale = self.cookie.stale(signed_at)
        if payload != stored:
            await self.store.set(old_id, payload, ttl=self.max_age)
        elif stale:
            await self.store.expire(old_id, self.max_age)
        if stale or key_index != 0:
            header = self.cookie.set_cookie(old_id.encode("ascii"))
            assert header is not None, "a signed id always fits in a cookie"
            return [(b"set-cookie", header), _VARY_COOKIE]
        return [_VARY_COOKIE]
