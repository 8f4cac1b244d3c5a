"""Class-based HTTP endpoints: one method per HTTP method.

Each request gets a new instance (as Django's class-based views do), so instance
attributes never leak between requests.
"""

from __future__ import annotations

import inspect
from typing import Any

from vivace.types import Receive, Scope, Send

__all__ = ["HTTP_METHODS", "HTTPEndpoint"]

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY")


class HTTPEndpoint:
    """Subclass and define ``get``, ``post``... (async or sync) taking the request.

    >>> from vivace.web import App, Route
    >>> class Items(HTTPEndpoint):
    ...     async def get(self, request):
    ...         return {"items": []}
    ...     def post(self, request):          # sync methods run in the thread pool
    ...         return {"created": True}
    >>> sorted(Items.allowed_methods())
    ['GET', 'HEAD', 'POST']
    >>> app = App(routes=[Route("/items", Items)])

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


def endpoint_method(cls: type[HTTPEndpoint], method: str) -> Any:
    """The handler for ``method`` on ``cls`` (HEAD falls back to GET), or None."""
    handler = getattr(cls, method.lower(), None)
    if handler is None and method == "HEAD":
        handler = getattr(cls, "get", None)
    return handler if callable(handler) and not inspect.isclass(handler) else None
