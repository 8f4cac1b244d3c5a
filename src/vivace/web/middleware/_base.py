"""``Middleware``: a middleware class and its arguments, applied when the app starts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["Middleware"]


class Middleware:
    """A middleware to build around the app: ``Middleware(CORSMiddleware, allow_origins=[...])``.

    Middleware are pure ASGI apps: ``cls(app, *args, **kwargs)`` returns an app that
    calls ``app``. The list given to ``App(middleware=[...])`` is applied so the first
    one is outermost (it sees the request first and the response last).

    >>> from vivace.web.middleware import GZipMiddleware
    >>> spec = Middleware(GZipMiddleware, minimum_size=1000)
    >>> cls, args, kwargs = spec
    >>> cls.__name__, kwargs
    ('GZipMiddleware', {'minimum_size': 1000})
    """

    __slots__ = ("args", "cls", "kwargs")

    def __init__(self, cls: Any, /, *args: Any, **kwargs: Any) -> None:
        self.cls = cls
        self.args = args
        self.kwargs = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))

    def __repr__(self) -> str:
        parts = [getattr(self.cls, "__name__", repr(self.cls))]
        parts += [repr(a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"Middleware({', '.join(parts)})"
