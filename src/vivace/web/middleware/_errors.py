"""``ServerErrorMiddleware``: the outermost layer; nothing escapes it unanswered.

If the response has not started when an exception arrives:

- an ``HTTPException``, or an exception with a registered handler, is answered like in a
  route (this catches what middleware raise, e.g. an auth middleware raising 401);
- anything else gets a 500: the debug page in debug mode, else the app's ``500`` /
  ``Exception`` handler, else a plain "Internal Server Error". The exception is then
  re-raised so the server logs it (and a test client re-raises it in the test).

If the response has started, the exception is re-raised: the server closes the
connection, as there is no honest way to turn half a response into an error.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web._config import CONFIG_KEY, DEFAULT_CONFIG, WebConfig
from vivace.web._exceptions import ClientDisconnect, HTTPException
from vivace.web._handlers import handle_exception, server_error_response
from vivace.web._request import Request

__all__ = ["ServerErrorMiddleware", "answer_exception"]


class ServerErrorMiddleware:
    """Answer unhandled exceptions with a 500 (or the debug page) and re-raise them.

    ``handler(request, exc)`` overrides the app's 500 handler; ``debug`` overrides the
    app's debug setting.
    """

    __slots__ = ("app", "debug", "handler")

    def __init__(self, app: ASGIApp, handler: Any = None, debug: bool | None = None) -> None:
        self.app = app
        self.handler = handler
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        def tracked(message: Message) -> Awaitable[None]:
            # A plain function returning the server's awaitable: no extra coroutine.
            nonlocal started
            started = True
            return send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started or not await answer_exception(
                scope, receive, send, exc, handler=self.handler, debug=self.debug
            ):
                raise


async def answer_exception(
    scope: Scope, receive: Receive, send: Send, exc: Exception, *, handler: Any, debug: bool | None
) -> bool:
    """Answer ``exc`` (nothing sent yet). True if it was handled; False if it was a server
    error, answered with a 500, that the caller must re-raise."""
    config: WebConfig = scope.get(CONFIG_KEY, DEFAULT_CONFIG)
    request = Request(scope, receive, send)
    if isinstance(exc, HTTPException | ClientDisconnect) or config.handler_for(exc):
        response = await handle_exception(request, exc)
        if response is not None:
            await response(scope, receive, send)
        return True
    debug = config.debug if debug is None else debug
    handler = handler if handler is not None else config.server_error_handler
    response = await server_error_response(request, exc, debug=debug, handler=handler)
    await response(scope, receive, send)
    return False
