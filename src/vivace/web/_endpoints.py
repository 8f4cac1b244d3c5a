"""Class-based endpoints, and the analysis of endpoints: ``HTTPEndpoint`` (one method per
HTTP method) and ``WebSocketEndpoint`` (``on_connect``, ``on_receive``, ``on_disconnect``).

Each request gets a new instance (as Django's class-based views do), so instance
attributes never leak between requests.

An ``HTTPEndpoint`` subclass is itself an ASGI app, as everything that handles a request
in ``vivace.web`` is: calling the class with ``(scope, receive, send)`` makes the instance,
and awaiting the instance serves the request (``__await__`` runs ``dispatch``). So it can
be mounted (``Mount("/items", app=Items)``), wrapped in middleware, or given to any ASGI
server that accepts ASGI 3 classes (uvicorn does). Behind a ``Route`` the route's fast
path is used instead: the handler table is built once, at route construction, and the
method is checked before an instance is made.

Which handler serves which method, whether it is async and whether it takes the request
is worked out once per class (``_Handler``), never per request.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any, Literal

from vivace.http import WebSocketDisconnect
from vivace.types import Message, Receive, Scope, Send
from vivace.web._config import CONFIG_KEY, DEFAULT_CONFIG, WebConfig
from vivace.web._dependencies import describe
from vivace.web._exceptions import HTTPException
from vivace.web._handlers import http_exception_response
from vivace.web._params import is_typed, typed_handler
from vivace.web._request import Request
from vivace.web._runner import Runner
from vivace.web._websockets import (
    WebSocket,
    WebSocketException,
    answer_websocket_error,
)

__all__ = [
    "HTTP_METHODS",
    "HTTPEndpoint",
    "WebSocketEndpoint",
    "endpoint_handlers",
    "endpoint_method",
    "handler_takes_argument",
    "serve_endpoint",
    "serve_lifespan",
]

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY")


def _unwrap(func: Any) -> Any:
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _is_async_callable(func: Any) -> bool:
    inner = _unwrap(func)
    return inspect.iscoroutinefunction(inner) or (
        callable(inner)
        and not inspect.isfunction(inner)
        and inspect.iscoroutinefunction(getattr(inner, "__call__", None))  # noqa: B004
    )


def _describe(func: Any) -> str:
    return describe(_unwrap(func))


def _annotation_fits(annotation: Any, passed: type) -> bool:
    """Whether a parameter annotated ``annotation`` can hold the ``passed`` object."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    if isinstance(annotation, str):
        # Not resolvable (a name imported under TYPE_CHECKING): judge by the name.
        last = annotation.strip().strip("'\"").rsplit(".", 1)[-1]
        return last in {cls.__name__ for cls in passed.__mro__}
    return isinstance(annotation, type) and issubclass(passed, annotation)


def handler_takes_argument(func: Any, passed: type, *, skip_self: bool = False) -> bool:
    """Whether ``func`` takes the ``passed`` object (the ``Request``, or the ``WebSocket``)
    as its one argument; a ``TypeError`` naming the handler and the parameter if it has a
    parameter vivace cannot supply.

    The one place that decides which handler signatures are allowed (typed handlers will
    extend it): no parameter (HTTP handlers only), or one positional parameter annotated
    as ``passed`` (or a base class of it) or not annotated; further parameters need a
    default. So a FastAPI-style ``async def get_todo(todo_id: int)`` fails when the route
    is built, not with a confusing error on the first request.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature: pass the argument
        return True
    try:
        signature = inspect.signature(func, eval_str=True)
    except Exception:  # an annotation that does not evaluate
        pass  # keep the strings: judged by name
    params = list(signature.parameters.values())[1 if skip_self else 0 :]
    one = (
        f"a handler takes one parameter, the {passed.__name__} (annotated as "
        f"{passed.__name__} or not annotated)"
    )
    allowed = one + ", or no parameter" if passed is Request else one
    takes = False
    for index, param in enumerate(params):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            takes = takes or param.kind is param.VAR_POSITIONAL
            continue
        positional = param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
        if index == 0 and positional:
            if not _annotation_fits(param.annotation, passed):
                annotation = param.annotation
                shown = getattr(annotation, "__name__", None) or str(annotation)
                raise TypeError(
                    f"handler {_describe(func)}: parameter {param.name!r} is annotated "
                    f"{shown}, but vivace passes the {passed.__name__} there; {allowed}"
                )
            takes = True
            continue
        if param.default is param.empty:
            raise TypeError(
                f"handler {_describe(func)}: parameter {param.name!r} cannot be supplied "
                f"(vivace passes only the {passed.__name__}); {allowed}; give other "
                "parameters a default"
            )
    if not takes and passed is not Request:
        raise TypeError(f"handler {_describe(func)} takes no parameter; {one}")
    return takes


class _Handler:
    """One callable endpoint, analysed once (``typed`` when its signature asks for typed
    inputs; see ``_typed``)."""

    __slots__ = ("func", "is_async", "takes_request", "typed")

    def __init__(
        self, func: Callable[..., Any], *, skip_self: bool = False, path_names: Any = ()
    ) -> None:
        self.func = func
        self.is_async = _is_async_callable(func)
        self.typed: Any = None  # a _typed.TypedHandler
        if skip_self and is_typed(func, skip=1):
            self.typed = typed_handler(func, path_names=path_names, bound=True)
            self.takes_request = True
            return
        self.takes_request = handler_takes_argument(func, Request, skip_self=skip_self)


class HTTPEndpoint:
    """Subclass and define ``get``, ``post``... (async or sync) taking the request.

    >>> from vivace.web import App, Mount, Route
    >>> class Items(HTTPEndpoint):
    ...     async def get(self, request):
    ...         return {"items": []}
    ...     def post(self, request):          # sync methods run in the thread pool
    ...         return {"created": True}
    >>> sorted(Items.allowed_methods())
    ['GET', 'HEAD', 'POST']
    >>> app = App(routes=[Route("/items", Items)])
    >>> app = App(routes=[Mount("/items", app=Items)])  # the class is an ASGI app too

    Other methods get 405 with an ``Allow`` header. The endpoint is instantiated per
    request with ``(scope, receive, send)``, available as attributes.
    """

    __slots__ = ("receive", "scope", "send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send

    @classmethod
    def allowed_methods(cls) -> frozenset[str]:
        """The methods this endpoint defines (HEAD comes with GET)."""
        methods = {m for m in HTTP_METHODS if callable(getattr(cls, m.lower(), None))}
        if "GET" in methods:
            methods.add("HEAD")
        return frozenset(methods)

    def __await__(self) -> Generator[Any, None, None]:
        # ``await Items(scope, receive, send)``: what an ASGI server or a Mount does.
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        """Serve the request of this instance's scope (the ASGI app entry point)."""
        scope = self.scope
        kind = scope["type"]
        if kind == "http":
            cls = type(self)
            await serve_endpoint(endpoint_handlers(cls), cls, self, scope, self.receive, self.send)
        elif kind == "lifespan":
            await serve_lifespan(self.receive, self.send)
        elif kind == "websocket":
            # An HTTP endpoint takes no WebSocket: refuse the handshake (403 at the server).
            await self.send({"type": "websocket.close", "code": 1008})
        else:
            raise RuntimeError(f"{type(self).__name__} cannot serve a {kind!r} scope")


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Answer a server's lifespan for an endpoint served directly: nothing to start or
    stop, but said properly (no "lifespan unsupported" noise in the server's log)."""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def endpoint_method(cls: type[HTTPEndpoint], method: str) -> Any:
    """The handler for ``method`` on ``cls`` (HEAD falls back to GET), or None."""
    handler = getattr(cls, method.lower(), None)
    if handler is None and method == "HEAD":
        handler = getattr(cls, "get", None)
    return handler if callable(handler) and not inspect.isclass(handler) else None


_HANDLERS = "_vivace_handlers"


def endpoint_handlers(
    cls: type[HTTPEndpoint], path_names: tuple[str, ...] = ()
) -> dict[str, _Handler]:
    """Method -> analysed handler for ``cls`` behind a path with these parameters (typed
    methods read them); built on first use and kept on the class."""
    by_path: dict[tuple[str, ...], dict[str, _Handler]] | None = cls.__dict__.get(_HANDLERS)
    if by_path is None:
        by_path = {}
        setattr(cls, _HANDLERS, by_path)  # per class: a subclass never reads its parent's
    handlers = by_path.get(path_names)
    if handlers is None:
        handlers = by_path[path_names] = {}
        for method in cls.allowed_methods():
            func = endpoint_method(cls, method)
            if func is not None:
                handlers[method] = _Handler(func, skip_self=True, path_names=path_names)
    return handlers


async def serve_endpoint(
    handlers: dict[str, _Handler],
    cls: type[HTTPEndpoint],
    instance: HTTPEndpoint | None,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Run the handler of the request's method (405 with ``Allow`` if there is none).

    ``instance`` is ``None`` behind a ``Route``: it is made only once the method is known
    to be served.
    """
    handler = handlers.get(scope["method"])

    async def call(request: Request) -> Any:
        nonlocal instance
        if handler is None:
            allow = ", ".join(sorted(handlers))
            raise HTTPException(405, headers={"allow": allow})
        if instance is None:
            instance = cls(scope, receive, send)
        if handler.typed is not None:
            return await handler.typed(request, instance)
        args = (instance, request) if handler.takes_request else (instance,)
        if handler.is_async:
            return await handler.func(*args)
        config: WebConfig = scope.get(CONFIG_KEY, DEFAULT_CONFIG)
        return await config.thread_pool.run(handler.func, *args)

    await Runner(call)(scope, receive, send)


class WebSocketEndpoint:
    """A class-based WebSocket handler: override ``on_connect``, ``on_receive`` and
    ``on_disconnect``.

    >>> from vivace.web import App, WebSocketRoute
    >>> class Echo(WebSocketEndpoint):
    ...     encoding = "text"
    ...     async def on_receive(self, websocket, data):
    ...         await websocket.send_text(f"echo: {data}")
    >>> app = App(routes=[WebSocketRoute("/echo", Echo)])

    ``encoding`` decodes each message before ``on_receive``: ``"text"``, ``"bytes"``,
    ``"json"`` (a message of the wrong kind closes the connection with 1003, bad JSON
    with 1007), or ``None`` for the raw ASGI message. ``on_connect`` accepts by default.
    ``on_disconnect`` always runs, with the close code (1011 if a handler failed).
    A new instance serves each connection.

    The class is an ASGI app too (``Mount("/echo", app=Echo)``, or given to a server):
    awaiting an instance serves its scope, a plain HTTP request getting 404.
    """

    encoding: Literal["text", "bytes", "json"] | None = None

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send

    def __await__(self) -> Generator[Any, None, None]:
        return self._serve().__await__()

    async def _serve(self) -> None:
        kind = self.scope["type"]
        if kind == "websocket":
            await self.dispatch()
        elif kind == "lifespan":
            await serve_lifespan(self.receive, self.send)
        elif kind == "http":
            # Not a WebSocket handshake: nothing here (as the router answers it).
            request = Request(self.scope, self.receive, self.send)
            response = http_exception_response(request, HTTPException(404))
            await response(self.scope, self.receive, self.send)
        else:
            raise RuntimeError(f"{type(self).__name__} cannot serve a {kind!r} scope")

    async def dispatch(self) -> None:
        websocket = WebSocket(self.scope, self.receive, self.send)
        close_code = 1000
        try:
            await self.on_connect(websocket)
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or 1000)
                    break
                if message["type"] == "websocket.connect":
                    continue  # on_connect did not accept: wait for the client to go
                await self.on_receive(websocket, self._decode(message))
        except WebSocketDisconnect as exc:
            close_code = exc.code
        except Exception as exc:
            close_code = exc.code if isinstance(exc, WebSocketException) else 1011
            if not await answer_websocket_error(websocket, exc):
                raise
            if isinstance(exc, HTTPException):
                close_code = 1008
        finally:
            await self.on_disconnect(websocket, close_code)

    def _decode(self, message: Message) -> Any:
        encoding = self.encoding
        if encoding is None:
            return message
        text = message.get("text")
        if encoding == "text":
            if text is None:
                raise WebSocketException(1003, "expected a text message")
            return text
        if encoding == "bytes":
            data = message.get("bytes")
            if data is None:
                raise WebSocketException(1003, "expected a binary message")
            return data
        import orjson

        try:
            return orjson.loads(text if text is not None else message.get("bytes") or b"")
        except orjson.JSONDecodeError as exc:
            raise WebSocketException(1007, "the message is not valid JSON") from exc

    async def on_connect(self, websocket: WebSocket) -> None:
        """Called first; accepts the connection unless overridden."""
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        """Called with each message, decoded as ``encoding`` says."""

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        """Called once the connection is over."""
