"""``SignedCookie``: one signed, HttpOnly, SameSite cookie, read from a scope and written
on the response start: the rule both session middlewares follow.

``SessionMiddleware`` (the session itself in the cookie) and ``vivace.sessions``'
``StoreSessionMiddleware`` (a session id in the cookie, the data in a store) differ only
in the payload they sign; the cookie's attributes, its size limit, how it is found in the
request and how it is attached to the answer (an HTTP response or a WebSocket handshake's
``websocket.accept`` / denial response) are defined here once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Literal

from vivace.http import format_set_cookie, parse_cookie_header
from vivace.types import Message, Scope
from vivace.web.middleware._signing import BadSignature, Signer

__all__ = ["MAX_COOKIE_SIZE", "SignedCookie"]

logger = logging.getLogger("vivace.web")

# RFC 6265 section 6.1: browsers keep at least 4096 bytes per cookie (name, value and
# attributes together); 4093 is what all major browsers accept for name=value.
MAX_COOKIE_SIZE = 4093
_VERIFIED_MAX = 4096
_STARTS = frozenset(("http.response.start", "websocket.accept", "websocket.http.response.start"))


class SignedCookie:
    """A cookie whose value is a signed payload (see ``Signer``).

    >>> cookie = SignedCookie("sid", "secret", salt=b"example", max_age=3600)
    >>> value = cookie.set_cookie(b"abc")
    >>> value.startswith(b"sid=") and b"HttpOnly" in value and b"SameSite=lax" in value
    True
    >>> token = value.split(b";")[0].split(b"=", 1)[1]
    >>> cookie.read({"headers": [(b"cookie", b"sid=" + token)]})[0]
    b'abc'
    >>> cookie.read({"headers": [(b"cookie", b"sid=forged")]}) is None
    True

    ``max_age`` (seconds; ``None`` for a browser-session cookie) bounds both the cookie
    and the signed timestamp.
    """

    __slots__ = (
        "_verified",
        "domain",
        "max_age",
        "name",
        "name_bytes",
        "path",
        "same_site",
        "secure",
        "signer",
    )

    def __init__(
        self,
        name: str,
        secret_key: str | bytes | Sequence[str | bytes],
        *,
        salt: bytes,
        max_age: int | None,
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
    ) -> None:
        self.signer = Signer(secret_key, salt=salt)
        self.name = name
        self.name_bytes = name.encode("latin-1")
        self.max_age = max_age
        self.path = path
        self.same_site = same_site
        self.secure = https_only
        self.domain = domain
        # Tokens already verified: token -> (payload, signed_at, key_index). A client
        # sends the same cookie on every request, and checking it again means the same
        # base64 decoding and HMAC with the same result; only the age changes, and it is
        # checked on every read. Keyed by the whole token, so only exact bytes that did
        # verify ever hit. Cleared when full (a flood of valid tokens only costs a
        # recomputation). Measured (bench/batteries.py's session middleware, in-process):
        # a request with a session cookie costs about half as much with it.
        self._verified: dict[str, tuple[bytes, int, int]] = {}
        # Validate the attributes now, not on the first response.
        format_set_cookie(name, "", path=path, domain=domain, samesite=same_site)

    def read(self, scope: Scope) -> tuple[bytes, int, int] | None:
        """``(payload, signed_at, key_index)`` of the request's valid cookie, else None.

        A cookie that is forged, expired or malformed reads as no cookie at all.
        """
        for name, value in scope["headers"]:
            if name != b"cookie" or self.name_bytes not in value:
                continue
            token = parse_cookie_header(value.decode("latin-1")).get(self.name)
            if token is None:
                continue
            verified = self._verified.get(token)
            if verified is not None and (
                self.max_age is None or time.time() - verified[1] <= self.max_age
            ):
                return verified
            try:
                verified = self.signer.unsign(token.encode("latin-1"), max_age=self.max_age)
            except (BadSignature, UnicodeEncodeError):
                return None
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[token] = verified
            return verified
        return None

    def stale(self, signed_at: int) -> bool:
        """More than half of ``max_age`` has passed since the cookie was signed: re-sign it
        (sliding expiry without a ``Set-Cookie`` on every response)."""
        return self.max_age is not None and time.time() - signed_at > self.max_age / 2

    def _header(self, value: str, max_age: int | None) -> bytes:
        return format_set_cookie(
            self.name,
            value,
            max_age=max_age,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=True,
            samesite=self.same_site,
        ).encode("latin-1")

    def set_cookie(self, payload: bytes) -> bytes | None:
        """The ``Set-Cookie`` value carrying ``payload`` signed now; None (and an error
        logged) when it is too big for browsers to keep."""
        token = self.signer.sign(payload).decode("ascii")
        if len(self.name) + 1 + len(token) > MAX_COOKIE_SIZE:
            logger.error(
                "cookie %r not written: %d bytes is more than browsers keep (%d)",
                self.name,
                len(token),
                MAX_COOKIE_SIZE,
            )
            return None
        return self._header(token, self.max_age)

    def delete_cookie(self) -> bytes:
        """The ``Set-Cookie`` value that deletes the cookie."""
        return self._header("", 0)

    @staticmethod
    def starts_response(message: Message) -> bool:
        """``message`` starts the answer (HTTP response, WebSocket accept or denial)."""
        return message["type"] in _STARTS

    @staticmethod
    def attach(message: Message, *headers: tuple[bytes, bytes]) -> None:
        """Add ``headers`` to a message that starts the answer."""
        message["headers"] = [*(message.get("headers") or []), *headers]
