"""Turning handler results and exceptions into responses.

Two places handle exceptions. A route handles what its handler raises before any byte is
sent: ``HTTPException`` and every exception class or status code with a registered
handler; the response then goes back out through the app's middleware like any other.
``ServerErrorMiddleware`` (outermost) handles what escapes everything else: it renders
``HTTPException`` and registered handlers the same way if the response has not started,
and answers anything else with a 500 (the ``500``/``Exception`` handler, the debug page in
debug mode, or a plain "Internal Server Error") and re-raises it so the server logs it;
except an exception whose ``service_unavailable`` attribute is true (a database or store
that is down: vivace.db's ``ConnectionLost``, ``PoolTimeout``, the stores'
``StoreUnavailable``), which, unless a handler is registered for it, gets a 503 with
``Retry-After: 1`` (rendered like an ``HTTPException``) and a one-line warning in the log.

How a default error response looks (an ``HTTPException``, the router's 404 and 405, a
413 from a body limit, a 500 outside debug mode):

- with ``App(json_errors=True)``: an RFC 9457 problem document for every client,
  ``application/problem+json`` ``{"type": "about:blank", "title": <reason phrase>,
  "status": <code>, "detail": <detail>}``; ``detail`` is the exception's detail as given
  (structured detail stays structured, so ``body["detail"]`` reads the same in both modes);
- otherwise ``{"detail": ...}`` as ``application/json`` for a client whose ``Accept``
  names JSON (and not HTML), and text for everyone else: a str detail as is, a dict one
  ``key: value`` line per key, a list one line per item (non-str values as compact JSON).
"""

from __future__ import annotations

import dataclasses
import html
import inspect
import logging
import traceback
from collections.abc import Awaitable, Mapping
from typing import Any

import orjson

from vivace.http import status
from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web._config import CONFIG_KEY, DEFAULT_CONFIG, WebConfig
from vivace.web._exceptions import ClientDisconnect, HTTPException
from vivace.web._request import Request
from vivace.web._responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)

__all__ = [
    "answer_exception",
    "answer_handled",
    "answer_handler_error",
    "debug_response",
    "detail_text",
    "handle_exception",
    "http_exception_response",
    "problem_response",
    "serve_guarded",
    "to_response",
]

logger = logging.getLogger("vivace.web")


def to_response(value: Any) -> Response:
    """What a handler returned, as a response.

    >>> to_response({"ok": True}).body, to_response("hi").media_type_header
    (b'{"ok":true}', 'text/plain; charset=utf-8')
    """
    if isinstance(value, Response):
        return value
    if isinstance(value, dict | list):
        return JSONResponse(value)
    if isinstance(value, str):
        return PlainTextResponse(value)
    if isinstance(value, bytes):
        return Response(value, media_type="application/octet-stream")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return JSONResponse(value)
    raise TypeError(
        f"a handler returned {type(value).__name__}: return a Response, a dict or list "
        "(sent as JSON), a dataclass (JSON), str (text/plain) or bytes"
    )


def _wants_json(request: Request) -> bool:
    accept = request.headers.get_raw(b"accept")
    return accept is not None and b"json" in accept and b"text/html" not in accept


def _item_text(value: Any) -> str:
    return value if type(value) is str else orjson.dumps(value).decode()


def detail_text(detail: Any) -> str:
    """An ``HTTPException`` detail as text, for clients that do not ask for JSON.

    >>> detail_text({"title": "required", "tags": ["a"]})
    'title: required\\ntags: ["a"]'
    >>> detail_text(["too short", {"loc": "name"}])
    'too short\\n{"loc":"name"}'
    """
    if type(detail) is str:
        return detail
    if isinstance(detail, dict):
        return "\n".join(f"{key}: {_item_text(value)}" for key, value in detail.items())
    if isinstance(detail, list | tuple):
        return "\n".join(_item_text(item) for item in detail)
    return _item_text(detail)


def problem_response(
    status_code: int,
    detail: Any,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """An RFC 9457 problem document (``application/problem+json``): the one renderer of
    the error responses (``json_errors``' and the typed handlers' 422). ``extensions``
    are extension members (RFC 9457 section 3.2), such as the 422's ``errors``.

    >>> problem_response(404, "no such todo").body
    b'{"type":"about:blank","title":"Not Found","status":404,"detail":"no such todo"}'
    >>> problem_response(422, "bad", errors=[]).body[-12:]
    b'"errors":[]}'
    """
    # RFC 9457 section 4.2.1: with type "about:blank" the title is the status phrase.
    problem = {
        "type": "about:blank",
        "title": status.reason_phrase(status_code),
        "status": status_code,
        "detail": detail,
        **extensions,
    }
    return JSONResponse(problem, status_code, headers, media_type="application/problem+json")


def http_exception_response(request: Request, exc: HTTPException) -> Response:
    """The default response for an ``HTTPException`` (see the module docstring)."""
    status_code = exc.status_code
    if status_code < 200 or status_code in (204, 304):
        return Response(None, status_code, exc.headers)
    config: WebConfig = request.scope.get(CONFIG_KEY, DEFAULT_CONFIG)
    if config.json_errors:
        return problem_response(status_code, exc.detail, exc.headers)
    if _wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code, exc.headers)
    return PlainTextResponse(detail_text(exc.detail), status_code, exc.headers)


async def _call_handler(config: WebConfig, handler: Any, request: Request, exc: Exception) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(request, exc)
    result = await config.thread_pool.run(handler, request, exc)
    if inspect.isawaitable(result):
        return await result
    return result


async def handle_exception(request: Request, exc: Exception) -> Response | None:
    """The response for ``exc`` raised by a handler, or ``None`` when there is nothing to
    send (the client went away). Exceptions with no handler are re-raised."""
    scope: Scope = request.scope
    config: WebConfig = scope.get(CONFIG_KEY, DEFAULT_CONFIG)
    handler = config.handler_for(exc)
    if handler is not None:
        return to_response(await _call_handler(config, handler, request, exc))
    if isinstance(exc, HTTPException):
        return http_exception_response(request, exc)
    if isinstance(exc, ClientDisconnect):
        return None
    raise exc


async def answer_handled(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Send the response ``handle_exception`` gives for ``exc`` (nothing, if none)."""
    response = await handle_exception(Request(scope, receive, send), exc)
    if response is not None:
        await response(scope, receive, send)


async def answer_exception(
    scope: Scope, receive: Receive, send: Send, exc: Exception, *, handler: Any, debug: bool | None
) -> bool:
    """Answer ``exc`` (nothing sent yet). True if it was handled; False if it was a server
    error, answered with a 500, that the caller must re-raise."""
    config: WebConfig = scope.get(CONFIG_KEY, DEFAULT_CONFIG)
    if isinstance(exc, HTTPException | ClientDisconnect) or config.handler_for(exc):
        await answer_handled(scope, receive, send, exc)
        return True
    if getattr(exc, "service_unavailable", False) is True:
        # A service below is down (vivace.db's ConnectionLost and PoolTimeout, the stores'
        # StoreUnavailable set this; web imports neither): 503, and one line in the log,
        # not a traceback per request while it lasts.
        logger.warning(
            "503 for %s %s: %s: %s", scope["method"], scope["path"], type(exc).__name__, exc
        )
        unavailable = HTTPException(503, headers={"retry-after": "1"})
        await http_exception_response(Request(scope, receive, send), unavailable)(
            scope, receive, send
        )
        return True
    debug = config.debug if debug is None else debug
    handler = handler if handler is not None else config.server_error_handler
    request = Request(scope, receive, send)
    response = await server_error_response(request, exc, debug=debug, handler=handler)
    await response(scope, receive, send)
    return False


async def answer_handler_error(
    request: Request, exc: Exception, receive: Receive, send: Send
) -> Response | None:
    """``handle_exception`` for a caller with nothing above it to answer server errors
    (an ``App`` with no middleware calling a handler itself): what has no handler, or
    what the handler for it raises, is answered here (a 500) and re-raised for the server
    to log. ``None`` when nothing is left to send."""
    try:
        return await handle_exception(request, exc)
    except Exception as error:
        if not await answer_exception(
            request.scope, receive, send, error, handler=None, debug=None
        ):
            raise
        return None


async def serve_guarded(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    handler: Any = None,
    debug: bool | None = None,
    server_errors: bool = True,
) -> None:
    """Run ``app``; answer what escapes it if its response has not started (see
    ``answer_exception``), re-raise it otherwise and after a 500. With ``server_errors``
    false only ``HTTPException`` and exceptions with a handler are answered (what a route
    answers); anything else is re-raised unanswered, for an outer layer."""
    started = False

    def tracked(message: Message) -> Awaitable[None]:
        # A plain function returning the server's awaitable: no extra coroutine.
        nonlocal started
        started = True
        return send(message)

    try:
        await app(scope, receive, tracked)
    except Exception as exc:
        if started:
            raise
        if not server_errors:
            await answer_handled(scope, receive, send, exc)
        elif not await answer_exception(scope, receive, send, exc, handler=handler, debug=debug):
            raise


async def server_error_response(
    request: Request, exc: Exception, *, debug: bool, handler: Any = None
) -> Response:
    """The 500 response: the debug page, the app's 500 handler, or plain text."""
    if debug:
        return debug_response(request, exc)
    if handler is not None:
        config: WebConfig = request.scope.get(CONFIG_KEY, DEFAULT_CONFIG)
        return to_response(await _call_handler(config, handler, request, exc))
    if request.scope.get(CONFIG_KEY, DEFAULT_CONFIG).json_errors:
        return problem_response(500, "Internal Server Error")
    return PlainTextResponse("Internal Server Error", 500)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.3em; color: #b00020; }}
pre {{ background: #f6f6f6; padding: 1em; overflow: auto; border-radius: 4px; }}
.frame {{ margin: 0.3em 0; }}
.line {{ color: #555; }}
</style></head><body>
<h1>{title}</h1>
<p>{method} {path}</p>
<h2>Traceback (most recent call last)</h2>
{frames}
<h2>Full traceback</h2>
<pre>{text}</pre>
</body></html>
"""


def debug_response(request: Request, exc: BaseException) -> Response:
    """A 500 page with the traceback (debug mode only: it shows source and values).

    HTML for browsers (everything escaped), plain text for other clients.
    """
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    accept = request.headers.get("accept", "")
    if "text/html" not in accept:
        return PlainTextResponse(text, 500)
    frames = [
        '<div class="frame"><code>{}</code>, line {}, in <code>{}</code>'
        '<div class="line"><pre>{}</pre></div></div>'.format(
            html.escape(frame.filename),
            frame.lineno,
            html.escape(frame.name),
            html.escape(frame.line or ""),
        )
        for frame in traceback.extract_tb(exc.__traceback__)
    ]
    page = _PAGE.format(
        title=html.escape(f"{type(exc).__name__}: {exc}"),
        method=html.escape(request.scope.get("method", "")),
        path=html.escape(request.scope.get("path", "")),
        frames="\n".join(frames),
        text=html.escape(text),
    )
    return HTMLResponse(page, 500)
