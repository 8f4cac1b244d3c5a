"""Authentication: ``BasicAuth``, ``DigestAuth``, ``FunctionAuth`` and the ``Auth`` flow you
can extend.

An auth scheme is a *flow*: a generator that receives the request, yields the request to
send (with credentials added), and may receive the response and yield another request, for
schemes that answer a challenge (Digest, token refresh). ``Client`` drives the flow::

    class TokenAuth(Auth):
        def __init__(self, token): self.token = token
        def auth_flow(self, request):
            request.headers["authorization"] = f"Bearer {self.token}"
            response = yield request
            if response.status_code == 401:           # refresh once and retry
                self.token = refresh()
                request.headers["authorization"] = f"Bearer {self.token}"
                yield request

``requires_response_body = True`` makes the client read the body before sending the
response into the flow; ``requires_request_body = True`` reads a streamed request body
first, so it can be sent again. Override ``async_auth_flow`` for a flow that awaits.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING
from urllib.request import parse_http_list, parse_keqv_list

if TYPE_CHECKING:
    from vivace.client._models import Request, Response

__all__ = ["Auth", "AuthTypes", "BasicAuth", "DigestAuth", "FunctionAuth"]


class Auth:
    """Base class of authentication flows; the base itself sends the request unchanged."""

    requires_request_body: bool = False
    requires_response_body: bool = False

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Yield the request(s) to send; each ``yield`` returns the response to it."""
        yield request

    async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        """The flow the async client drives: by default ``auth_flow``, with bodies read."""
        if self.requires_request_body:
            await request.aread()
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if self.requires_response_body:
                await response.aread()
            try:
                request = flow.send(response)
            except StopIteration:
                break


class BasicAuth(Auth):
    """HTTP Basic authentication (RFC 7617); the header is built once.

    >>> from vivace.client import Request
    >>> request = Request("GET", "https://example.com/")
    >>> sent = next(BasicAuth("user", "pässword").auth_flow(request))
    >>> sent.headers["authorization"]
    'Basic dXNlcjpww6Rzc3dvcmQ='
    """

    __slots__ = ("_header",)

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        user = username.encode("utf-8") if isinstance(username, str) else username
        pwd = password.encode("utf-8") if isinstance(password, str) else password
        # RFC 7617 section 2.1: the charset is UTF-8 when the server asks for it, and
        # UTF-8 is what every current server expects.
        self._header = b"Basic " + base64.b64encode(user + b":" + pwd)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        request.headers.raw[:] = [(n, v) for n, v in request.headers.raw if n != b"authorization"]
        request.headers.raw.append((b"authorization", self._header))
        yield request


_DIGEST_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "MD5": hashlib.md5,
    "SHA": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-512": hashlib.sha512,
}


class DigestAuth(Auth):
    """HTTP Digest authentication (RFC 7616), as httpx's ``DigestAuth``.

    The first request goes without credentials; a ``401`` with a ``Digest`` challenge is
    answered once (algorithms MD5, SHA, SHA-256, SHA-512 and their ``-sess`` forms; ``qop``
    ``auth``, or none for RFC 2069 servers). Later requests with the same ``DigestAuth``
    reuse the challenge (the nonce count goes up), so they need no extra round trip
    until the server sends a fresh one. A challenge without ``realm`` or ``nonce``, or one
    offering only ``auth-int`` or an unknown algorithm, raises ``RemoteProtocolError``.
    """

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self._username = username.encode("utf-8") if isinstance(username, str) else username
        self._password = password.encode("utf-8") if isinstance(password, str) else password
        self._challenge: dict[str, str] | None = None
        self._nonce_count = 0

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        if self._challenge is not None:
            request.headers["authorization"] = self._authorization(request)
        response = yield request
        if response.status_code != 401:
            return
        for value in response.headers.getlist("www-authenticate"):
            scheme, _, params = value.strip().partition(" ")
            if scheme.lower() == "digest":
                break
        else:
            return  # no Digest challenge: the 401 is the answer
        self._challenge = self._parse(params, request)
        self._nonce_count = 0
        request.headers["authorization"] = self._authorization(request)
        yield request

    @staticmethod
    def _parse(params: str, request: Request) -> dict[str, str]:
        from vivace.client._exceptions import RemoteProtocolError

        challenge = {key.lower(): value for key, value in parse_keqv_list(
            [item for item in parse_http_list(params) if "=" in item]
        ).items()}  # fmt: skip
        algorithm = challenge.get("algorithm", "MD5").upper()
        qops = [q.strip().lower() for q in challenge.get("qop", "").split(",") if q.strip()]
        problem = None
        if "realm" not in challenge or "nonce" not in challenge:
            problem = "it has no realm or no nonce"
        elif algorithm.removesuffix("-SESS") not in _DIGEST_HASHES:
            problem = f"its algorithm {algorithm!r} is not supported"
        elif qops and "auth" not in qops:
            problem = f"its qop {challenge['qop']!r} is not supported (only 'auth')"
        if problem is not None:
            raise RemoteProtocolError(
                f"cannot answer the Digest challenge: {problem}", request=request
            )
        challenge["algorithm"] = algorithm
        challenge["qop"] = "auth" if qops else ""
        return challenge

    def _authorization(self, request: Request) -> str:
        from vivace.client._http11 import safe_target

        challenge = self._challenge
        assert challenge is not None
        algorithm = challenge["algorithm"]
        hash_function = _DIGEST_HASHES[algorithm.removesuffix("-SESS")]

        def digest(*parts: bytes) -> bytes:
            return hash_function(b":".join(parts)).hexdigest().encode("ascii")

        self._nonce_count += 1
        nc = b"%08x" % self._nonce_count
        # The client nonce: fresh randomness and the time (RFC 7616 section 3.4).
        cnonce = hashlib.sha1(os.urandom(16) + str(time.time()).encode()).hexdigest()[:16]
        nonce = challenge["nonce"].encode("utf-8")
        realm = challenge["realm"].encode("utf-8")
        uri = safe_target(request.url.target)
        ha1 = digest(self._username, realm, self._password)
        if algorithm.endswith("-SESS"):
            ha1 = digest(ha1, nonce, cnonce.encode("ascii"))
        ha2 = digest(request.method.encode("ascii"), uri.encode("ascii"))
        qop = challenge["qop"]
        if qop:
            response = digest(ha1, nonce, nc, cnonce.encode("ascii"), b"auth", ha2)
        else:
            response = digest(ha1, nonce, ha2)
        fields = [
            ("username", self._username.decode("utf-8", "replace"), True),
            ("realm", challenge["realm"], True),
            ("nonce", challenge["nonce"], True),
            ("uri", uri, True),
            ("response", response.decode("ascii"), True),
            ("algorithm", algorithm, False),
        ]
        if "opaque" in challenge:
            fields.append(("opaque", challenge["opaque"], True))
        if qop:
            fields += [("qop", "auth", False), ("nc", nc.decode(), False), ("cnonce", cnonce, True)]
        return "Digest " + ", ".join(
            f'{name}="{_quote(value)}"' if quoted else f"{name}={value}"
            for name, value, quoted in fields
        )


def _quote(value: str) -> str:
    # RFC 9110 section 5.6.4: a quoted-string escapes backslash and the double quote.
    return value.replace("\\", "\\\\").replace('"', '\\"')


class FunctionAuth(Auth):
    """Authentication by a function that takes the request and returns it (changed).

    >>> from vivace.client import Request
    >>> def sign(request):
    ...     request.headers["x-signature"] = "abc"
    ...     return request
    >>> next(FunctionAuth(sign).auth_flow(Request("GET", "http://x.test/"))).headers["x-signature"]
    'abc'
    """

    __slots__ = ("_func",)

    def __init__(self, func: Callable[[Request], Request]) -> None:
        self._func = func

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        yield self._func(request)


#: What an ``auth=`` argument accepts: an ``Auth``, a ``(username, password)`` pair (basic
#: auth) or a function from request to request.
AuthTypes = Auth | tuple[str | bytes, str | bytes] | Callable[["Request"], "Request"]


def build_auth(auth: AuthTypes | None) -> Auth | None:
    """Turn an ``auth=`` argument into an ``Auth``."""
    if auth is None or isinstance(auth, Auth):
        return auth
    if isinstance(auth, tuple):
        return BasicAuth(*auth)
    if callable(auth):
        return FunctionAuth(auth)
    raise TypeError(f"auth= must be an Auth, a (user, password) tuple or a function, not {auth!r}")
