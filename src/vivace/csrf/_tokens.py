"""CSRF tokens: one secret per session, handed out masked, checked in constant time.

The secret (32 random bytes) lives in the session under ``SESSION_KEY``, so it works
with both session middlewares (the signed cookie and the store). What a page gets is the
secret *masked* with a fresh one-time pad: ``base64url(pad + (pad XOR secret))``. Every
rendering differs, so a response compressed together with attacker-controlled text does
not leak the secret byte by byte (the BREACH attack); any masked form of the current
secret verifies. Verification unmasks and compares with ``hmac.compare_digest``.

A form renderer or template asks ``csrf_token(request)`` for the value and names the
field ``FORM_FIELD``; JavaScript sends the same value in the ``HEADER`` request header.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from typing import Any

from vivace.types import Scope
from vivace.web import HTTPConnection

__all__ = [
    "FORM_FIELD",
    "HEADER",
    "SESSION_KEY",
    "csrf_hidden",
    "csrf_token",
    "rotate_token",
    "token_matches",
]

#: The session key holding the secret.
SESSION_KEY = "_csrf"
#: The form field a token travels in.
FORM_FIELD = "csrf_token"
#: The request header a token travels in (for ``fetch()`` and other scripts).
HEADER = "x-csrf-token"
_SIZE = 32


def _session(conn: HTTPConnection | Scope) -> dict[str, Any]:
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    session = scope.get("session")
    if not isinstance(session, dict):
        raise RuntimeError(
            "CSRF tokens live in the session: install a session middleware "
            "(vivace.sessions.StoreSessionMiddleware or vivace.web.middleware."
            "SessionMiddleware) outside CSRFMiddleware"
        )
    return session


def _secret(session: dict[str, Any]) -> bytes | None:
    stored = session.get(SESSION_KEY)
    if not isinstance(stored, str):
        return None
    try:
        secret = base64.urlsafe_b64decode(stored.encode("ascii") + b"=" * (-len(stored) % 4))
    except (ValueError, binascii.Error):
        return None
    return secret if len(secret) == _SIZE else None


def _new_secret(session: dict[str, Any]) -> bytes:
    secret = secrets.token_bytes(_SIZE)
    session[SESSION_KEY] = base64.urlsafe_b64encode(secret).rstrip(b"=").decode("ascii")
    return secret


def _mask(secret: bytes) -> str:
    pad = secrets.token_bytes(_SIZE)
    masked = bytes(p ^ s for p, s in zip(pad, secret, strict=True))
    return base64.urlsafe_b64encode(pad + masked).rstrip(b"=").decode("ascii")


def csrf_token(conn: HTTPConnection | Scope) -> str:
    """A token for the request's session (made on first use), masked anew on each call.

    ``conn`` is the request, a WebSocket, or an ASGI scope.

    >>> scope = {"type": "http", "session": {}}
    >>> first, second = csrf_token(scope), csrf_token(scope)
    >>> first != second and token_matches(scope, first) and token_matches(scope, second)
    True
    """
    session = _session(conn)
    secret = _secret(session)
    if secret is None:
        secret = _new_secret(session)
    return _mask(secret)


def csrf_hidden(conn: HTTPConnection | Scope) -> dict[str, str]:
    """The hidden form input that carries a token: ``{FORM_FIELD: csrf_token(conn)}``.

    For form renderers that take hidden inputs, such as vivace.schema's
    ``render_form(Schema, hidden=csrf_hidden(request))``.

    >>> list(csrf_hidden({"type": "http", "session": {}}))
    ['csrf_token']
    """
    return {FORM_FIELD: csrf_token(conn)}


def rotate_token(conn: HTTPConnection | Scope) -> None:
    """Replace the session's secret: tokens handed out before stop working (do it at
    login, with ``session.rotate()``)."""
    _new_secret(_session(conn))


def token_matches(conn: HTTPConnection | Scope, token: str | None) -> bool:
    """Whether ``token`` is a masked form of the session's secret (constant time)."""
    secret = _secret(_session(conn))
    if secret is None or not token or len(token) != 86:
        return False
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii") + b"==")
    except (ValueError, binascii.Error):
        return False
    if len(raw) != 2 * _SIZE:  # pragma: no cover - 86 base64 characters are 64 bytes
        return False
    candidate = bytes(p ^ m for p, m in zip(raw[:_SIZE], raw[_SIZE:], strict=True))
    return hmac.compare_digest(candidate, secret)
