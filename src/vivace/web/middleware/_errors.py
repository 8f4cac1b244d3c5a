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

from typing import Any

from vivace.types import ASGIApp, Receive, Scope, Send
from vivace.web._handlers import answer_exception, serve_guarded

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
        await serve_guarded(self.app, scope, receive, send, handler=self.handler, debug=self.debug)
