"""Running a typed handler's dependencies: once per request, generators unwound.

``Solving`` resolves one request's dependencies (see ``_typed`` for how a handler's
signature becomes a ``Plan``): each dependency once per request unless
``use_cache=False``, in the order the signatures name them, an app's
``dependency_overrides`` in place of the originals. A generator dependency leaves an
``Exit``: its code after ``yield`` runs once the response is sent (``close``, through
``Request.add_cleanup``), or, when a later dependency or the handler fails, ``unwind``
raises that failure at its ``yield`` first, the last entered first (FastAPI's rule since
0.106: a ``try``/``except`` around the ``yield`` can roll back and re-raise).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from vivace.web._config import WebConfig
from vivace.web._request import HTTPConnection
from vivace.web._responses import Response

if TYPE_CHECKING:
    from vivace.web._typed import Dependency, Plan, TypedHandler

__all__ = ["Exit", "Solving", "call_kwargs", "describe", "unwind"]


def describe(func: Any) -> str:
    """A function's name and where it is defined, for error messages."""
    name = getattr(func, "__qualname__", None) or repr(func)
    code = getattr(func, "__code__", None)
    return f"{name} ({code.co_filename}:{code.co_firstlineno})" if code is not None else name


def call_kwargs(func: Callable[..., Any], kwargs: dict[str, Any], *first: Any) -> Any:
    return func(*first, **kwargs)


class Solving:
    """One request's dependency resolution: the cache and the clean-ups."""

    __slots__ = ("add_cleanup", "cache", "config", "connection", "exits", "values")

    def __init__(
        self,
        connection: HTTPConnection,
        values: list[Any],
        config: WebConfig,
        add_cleanup: Callable[[Callable[[], Awaitable[None]]], None],
        exits: list[Exit] | None,
    ) -> None:
        self.connection = connection
        self.values = values
        self.config = config
        self.add_cleanup = add_cleanup
        self.exits = exits
        self.cache: dict[Any, Any] = {}

    async def arguments(self, plan: Plan) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, kind, ref in plan.args:
            if kind == "input":
                out[name] = self.values[ref.index]
            elif kind == "connection":
                out[name] = self.connection
            else:
                out[name] = await self.dependency(ref)
        return out

    async def dependency(self, dep: Dependency) -> Any:
        cache = self.cache
        if dep.use_cache and dep.func in cache:
            return cache[dep.func]
        overrides = self.config.dependency_overrides
        override = overrides.get(dep.func) if overrides else None
        if override is not None:
            value = await self.overridden(override)
        else:
            value = await self.run(dep.plan, await self.arguments(dep.plan))
        if dep.use_cache:
            cache[dep.func] = value
        return value

    async def overridden(self, func: Callable[..., Any]) -> Any:
        # The override is analysed on first use (tests set overrides after routes exist)
        # and its own inputs validated here, on their own.
        typed = _OVERRIDES.get(func)
        if typed is None:
            from vivace.web._typed import TypedHandler  # _typed imports this module

            typed = _OVERRIDES[func] = TypedHandler(
                func, connection=type(self.connection), response_class=Response, serialised=False
            )
        kwargs = await typed.solve(self.connection, self.add_cleanup, self.exits)
        return await self.run(typed.plan, kwargs)

    async def run(self, plan: Plan, kwargs: dict[str, Any]) -> Any:
        func = plan.func
        pool = self.config.thread_pool
        if plan.is_generator:
            if plan.is_async:
                gen = func(**kwargs)
                value = await gen.__anext__()
            else:
                gen = await pool.run(call_kwargs, func, kwargs)
                value = await pool.run(next, gen)
            exit = Exit(gen, plan.is_async, pool, func)
            if self.exits is not None:
                self.exits.append(exit)
            self.add_cleanup(exit.close)
            return value
        if plan.is_async:
            return await func(**kwargs)
        return await pool.run(call_kwargs, func, kwargs)


class Exit:
    """The rest of a generator dependency, after its ``yield``: ``close`` once the
    response is sent, or ``throw`` a failure of what ran after it (then ``close`` does
    nothing). FastAPI's rule since 0.106: ``try``/``except``/``finally`` around the
    ``yield`` sees the handler's exception, so a dependency can roll back and re-raise."""

    __slots__ = ("done", "func", "gen", "is_async", "pool")

    def __init__(self, gen: Any, is_async: bool, pool: Any, func: Any) -> None:
        self.gen = gen
        self.is_async = is_async
        self.pool = pool
        self.func = func
        self.done = False

    async def close(self) -> None:
        if self.done:
            return
        self.done = True
        if self.is_async:
            try:
                await self.gen.__anext__()
            except StopAsyncIteration:
                return
        elif await self.pool.run(next, self.gen, _DONE) is _DONE:
            return
        raise RuntimeError(f"dependency {describe(self.func)} yielded twice")

    async def throw(self, exc: Exception) -> Exception:
        """Raise ``exc`` at the ``yield``; the exception to go on with: what the
        generator raised (``exc`` again, or another), or ``exc`` if it swallowed it
        (a failed handler has no response to replace)."""
        self.done = True
        try:
            if self.is_async:
                await self.gen.athrow(exc)
            elif await self.pool.run(_throw_sync, self.gen, exc) is _DONE:
                return exc
        except StopAsyncIteration:
            return exc
        except Exception as raised:
            return raised
        error = RuntimeError(f"dependency {describe(self.func)} yielded twice")
        error.__context__ = exc
        return error


def _throw_sync(gen: Any, exc: Exception) -> Any:
    # In the pool's thread: a StopIteration cannot cross into the awaiting coroutine.
    try:
        return gen.throw(exc)
    except StopIteration:
        return _DONE


async def unwind(exits: list[Exit], exc: Exception) -> Exception:
    """Throw ``exc`` into the generator dependencies entered, the last entered first,
    each getting what the previous one raised; the exception left at the end."""
    while exits:
        exc = await exits.pop().throw(exc)
    return exc


_DONE = object()
_OVERRIDES: dict[Any, TypedHandler] = {}
