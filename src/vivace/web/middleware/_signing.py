"""A small timestamped HMAC-SHA256 signer with key rotation (for session cookies).

A token is ``payload.timestamp.signature``, each part base64url without padding:
``signature = HMAC-SHA256(derived_key, "payload.timestamp")``. The key used for HMAC is
derived from each secret with the ``salt`` (``HMAC-SHA256(secret, salt)``), so a secret
shared with another use never yields interchangeable signatures.

Key rotation: ``keys`` is a list; the first signs, all verify (``unsign`` says which one
did, so callers can re-sign old tokens with the current key). Signatures are compared with
``hmac.compare_digest`` (constant time). No third-party dependency: this is 60 lines of
the standard library, where ``itsdangerous`` would add a package for the same job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

__all__ = ["BadSignature", "SignatureExpired", "Signer"]


class BadSignature(ValueError):
    """A token that was not signed by any of the keys, or is malformed."""


class SignatureExpired(BadSignature):
    """A valid token older than the allowed age."""


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64decode(data: bytes) -> bytes:
    try:
        return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
    except (ValueError, TypeError) as exc:
        raise BadSignature("malformed token") from exc


class Signer:
    """Sign and verify byte payloads.

    >>> signer = Signer(["new-secret", "old-secret"])
    >>> token = Signer(["old-secret"]).sign(b"data", timestamp=1000)
    >>> signer.unsign(token, max_age=None)
    (b'data', 1000, 1)
    >>> signer.unsign(token[:-2] + b"xx", max_age=None)
    Traceback (most recent call last):
        ...
    vivace.web.middleware._signing.BadSignature: signature does not match
    """

    __slots__ = ("_keys",)

    def __init__(
        self, keys: str | bytes | Sequence[str | bytes], salt: bytes = b"vivace.signer"
    ) -> None:
        if isinstance(keys, str | bytes):
            keys = [keys]
        if not keys:
            raise ValueError("Signer needs at least one secret key")
        derived = []
        for key in keys:
            raw = key.encode("utf-8") if isinstance(key, str) else key
            if not raw:
                raise ValueError("an empty secret key signs nothing")
            derived.append(hmac.new(raw, salt, hashlib.sha256).digest())
        self._keys = derived

    def _signature(self, key: bytes, message: bytes) -> bytes:
        return hmac.new(key, message, hashlib.sha256).digest()

    def sign(self, payload: bytes, *, timestamp: int | None = None) -> bytes:
        """A token for ``payload``, signed with the first key."""
        ts = int(time.time()) if timestamp is None else timestamp
        message = _b64encode(payload) + b"." + _b64encode(ts.to_bytes(8, "big"))
        return message + b"." + _b64encode(self._signature(self._keys[0], message))

    def unsign(self, token: bytes, *, max_age: int | None) -> tuple[bytes, int, int]:
        """``(payload, timestamp, key_index)`` of a valid token; raises ``BadSignature``."""
        message, dot, signature = token.rpartition(b".")
        if not dot or message.count(b".") != 1:
            raise BadSignature("malformed token")
        expected_sig = _b64decode(signature)
        found = -1
        for index, key in enumerate(self._keys):
            # Every key is tried, so the time taken does not tell which one matched.
            if hmac.compare_digest(self._signature(key, message), expected_sig) and found < 0:
                found = index
        if found < 0:
            raise BadSignature("signature does not match")
        payload_part, _, ts_part = message.partition(b".")
        ts_bytes = _b64decode(ts_part)
        if len(ts_bytes) != 8:
            raise BadSignature("malformed timestamp")
        ts = int.from_bytes(ts_bytes, "big")
        if max_age is not None and time.time() - ts > max_age:
            raise SignatureExpired(f"token older than {max_age} seconds")
        return _b64decode(payload_part), ts, found
