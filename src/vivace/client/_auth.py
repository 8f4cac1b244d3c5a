"""Authentication: ``BasicAuth``, ``FunctionAuth`` and the ``Auth`` flow you can extend.

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
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vivace.client._models import Request, Response

__all__ = ["Auth", "AuthTypes", "BasicAuth", "FunctionAuth"]


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
