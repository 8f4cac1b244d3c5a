"""The handler runner: the one place that turns a handler call into a sent response.

Every HTTP handler in ``vivace.web`` (a function behind a ``Route``, a method of an
``HTTPEndpoint``, a typed handler) is reduced, once, when its route is built, to a *call*:
an async function taking the ``Request`` and returning what the handler returned. A plain
``async def handler(request)`` is its own call (nothing added per request); a sync handler,
a handler without the request, a typed handler or an endpoint method gets a small adapter
(``handler_call``). ``Runner`` then does the rest, the same way for all of them:

1. make the ``Request``, await the call;
2. turn the result into a ``Response`` (``to_response``);
3. answer what the handler raised (``handle_exception``; when the runner is the outermost
   layer, as an ``App`` without middleware uses it, server errors too);
4. send the response (one awaitable from the server for a plain complete response);
5. release what the request holds (form files, dependency clean-ups) once it is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from vivace.types import Receive, Scope, Send
from vivace.web._config import CONFIG_KEY, DEFAULT_CONFIG, WebConfig
from vivace.web._handlers import (
    answer_handler_error,
    handle_exception,
    serve_guarded,
    to_response,
)
from vivace.web._request import Request
from vivace.web._responses import Response, send_response

__all__ = ["Call", "Runner", "plain_call"]

#: What a runner awaits: the handler reduced to one argument, the request.
Call = Callable[[Request], Awaitable[Any]]

_RESPONSE_CALL = Response.__call__


def plain_call(func: Callable[..., Any], *, is_async: bool, takes_request: bool) -> Call:
    """The call for an untyped handler: the function itself when it is async and takes
    the request (the fast path: nothing in between), else an adapter."""
    if is_async:
        if takes_request:
            return func

        async def call_without_request(request: Request) -> Any:
            return await func()

        return call_without_request

    if takes_request:

        async def call_sync(request: Request) -> Any:
            config: WebConfig = request.scope.get(CONFIG_KEY, DEFAULT_CONFIG)
            return await config.thread_pool.run(func, request)

        return call_sync

    async def call_sync_without_request(request: Request) -> Any:
        config: WebConfig = request.scope.get(CONFIG_KEY, DEFAULT_CONFIG)
        return await config.thread_pool.run(func)

    return call_sync_without_request


class Runner:
    """An ASGI app serving one handler call (see the module docstring).

    >>> from vivace.testing import TestClient
    >>> async def hello(request):
    ...     return {"hello": "world"}
    >>> TestClient(Runner(hello)).get("/").json()
    {'hello': 'world'}

    ``outermost=True`` (passed by an ``App`` that has no middleware) also answers server
    errors with a 500, as ``ServerErrorMiddleware`` would, and re-raises them.
    """

    __slots__ = ("call",)

    def __init__(self, call: Call) -> None:
        self.call = call

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, outermost: bool = False
    ) -> None:
        request = Request(scope, receive, send)
        # One ``finally`` closes the request's form and runs its clean-ups on every way
        # out: after the response, after an error answered here, and after one that
        # propagates (a server error re-raised, a cancelled task), which would otherwise
        # leave the form's uploads open until the garbage collector finds them.
        try:
            try:
                result = await self.call(request)
                response = result if isinstance(result, Response) else to_response(result)
            except Exception as exc:
                if outermost:
                    handled = await answer_handler_error(request, exc, receive, send)
                else:
                    handled = await handle_exception(request, exc)
                if handled is None:
                    return
                response = handled
            if type(response).__call__ is _RESPONSE_CALL:
                await send_response(response, scope, receive, send)
            elif outermost:
                await serve_guarded(response, scope, receive, send)
            else:
                await response(scope, receive, send)
        finally:
            if request.holds_resources:
                await request.close()
