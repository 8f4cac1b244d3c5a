"""The client's WebSocket handshake as a request like any other, with its cookies and
its auth flow.

The jar's cookies went into the handshake request (``Client.build_request``); the cookies
its answer sets (the 101, or a refusal) go into the jar; and the auth flow runs to the
end: a refusal is sent into the flow, which may answer a challenge with another handshake
(bounded like redirects), carrying the jar's cookies as they are now (a challenge often
sets one).
"""

from __future__ import annotations

from typing import Literal

from vivace.client._auth import Auth
from vivace.client._cookies import Cookies
from vivace.client._models import Request
from vivace.client._transport import AsyncBaseTransport
from vivace.client._websocket import WebSocketOptions, WebSocketRejected, WebSocketSession
from vivace.http import check_header_value

__all__ = ["websocket_handshake"]


async def websocket_handshake(
    transport: AsyncBaseTransport,
    jar: Cookies,
    request: Request,
    flow: Auth | None,
    options: WebSocketOptions,
    *,
    cookies: dict[str, str] | Literal[False] | None,
    max_attempts: int,
) -> WebSocketSession:
    """Open the session ``request`` asks for through ``transport``. ``cookies`` are the
    per-call extras sent again on a retry (False: the caller wrote the Cookie header,
    leave it); ``max_attempts`` bounds the refusals the auth flow may answer."""
    steps = flow.async_auth_flow(request) if flow is not None else None
    try:
        if steps is not None:
            request = await steps.__anext__()
        attempts = 0
        while True:
            try:
                session = await transport.connect_websocket(request, options)
            except WebSocketRejected as rejected:
                jar.extract(request.url, rejected.response.headers.getlist("set-cookie"))
                attempts += 1
                if steps is None or attempts > max_attempts:
                    raise
                try:
                    request = await steps.asend(rejected.response)
                except StopAsyncIteration:
                    raise rejected from None
                if cookies is not False:
                    cookie = jar.header_for(request.url, cookies)
                    raw = request.headers.raw
                    raw[:] = [(n, v) for n, v in raw if n != b"cookie"]
                    if cookie is not None:
                        value = check_header_value(cookie.encode("utf-8"), b"cookie")
                        raw.append((b"cookie", value))
                continue
            jar.extract(request.url, session.headers.getlist("set-cookie"))
            return session
    finally:
        if steps is not None:
            await steps.aclose()
