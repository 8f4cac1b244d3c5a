"""``Cache``: values in a store, with expiry and stampede protection.

Values are encoded so that every store reads them back the same: an ``int`` as its
decimal digits (so ``incr`` works on it, as on a counter the store made), ``bytes`` as
``b"b" + data``, anything else as ``b"j" + JSON`` (orjson: dicts, lists, str, float,
bool, None, dataclasses, datetimes...). Nothing is pickled: a cache shared with other
machines never runs code it reads back.

Stampede protection (``get_or_set``): when a value is missing, one caller computes it
and the others wait for it, across the tasks of a process *and* across processes:

1. Tasks of one process asking for the same key share one future: only the first
   goes further.
2. That task takes a lock key in the store (``add("lock:" + key)``, expiring after
   ``lock_timeout``). The winner computes and stores the value, then releases the lock
   (compare-and-set, so a lock that expired and was taken by another is not released).
3. Every other process polls the store for the value (5 ms doubling to 100 ms) while the
   lock is held; if the lock goes away without a value (the computation failed, or its
   process died and the lock expired), one of them takes it and computes.
4. A waiter past ``lock_timeout`` computes the value itself rather than fail.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import orjson

from vivace.stores import Store

__all__ = ["Cache"]

T = TypeVar("T")
_MISSING: Any = object()


def encode(value: Any) -> bytes:
    """The stored form of ``value`` (see the module docstring)."""
    if type(value) is int:
        return b"%d" % value
    if isinstance(value, bytes):
        return b"b" + value
    return b"j" + orjson.dumps(value)


def decode(raw: bytes) -> Any:
    """The value ``raw`` holds; ``ValueError`` if it is not a cache encoding."""
    tag = raw[:1]
    if tag == b"j":
        return orjson.loads(raw[1:])
    if tag == b"b":
        return raw[1:]
    return int(raw)


class Cache:
    """A cache on a store.

    >>> import asyncio
    >>> from vivace.stores import MemoryStore
    >>> cache = Cache(MemoryStore(), default_ttl=60)
    >>> async def main():
    ...     await cache.set("user:1", {"name": "ada"})
    ...     await cache.incr("hits")
    ...     async def expensive():
    ...         return [1, 2, 3]
    ...     computed = await cache.get_or_set("numbers", expensive, ttl=10)
    ...     return await cache.get("user:1"), await cache.get("hits"), computed
    >>> asyncio.run(main())
    ({'name': 'ada'}, 1, [1, 2, 3])

    ``default_ttl`` (seconds; None: never expire) applies when a call gives no ``ttl``.
    A value the store holds that is not a cache encoding reads as missing.
    """

    __slots__ = ("_flights", "default_ttl", "lock_timeout", "store")

    #: What a ``single_flight`` lookup returns for "not there (yet)".
    MISSING: Any = _MISSING

    def __init__(
        self,
        store: Store,
        *,
        prefix: str = "cache:",
        default_ttl: float | None = 300.0,
        lock_timeout: float = 30.0,
    ) -> None:
        self.store = store.namespace(prefix)
        self.default_ttl = default_ttl
        self.lock_timeout = lock_timeout
        self._flights: dict[str, asyncio.Future[Any]] = {}

    def _ttl(self, ttl: float | object | None) -> float | None:
        return self.default_ttl if ttl is _MISSING else ttl  # type: ignore[return-value]

    async def _load(self, key: str) -> Any:
        raw = await self.store.get(key)
        if raw is None:
            return _MISSING
        try:
            return decode(raw)
        except ValueError:
            return _MISSING

    async def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it is missing or expired."""
        value = await self._load(key)
        return default if value is _MISSING else value

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values of the ``keys`` that are present."""
        names = list(keys)
        found: dict[str, Any] = {}
        for name, raw in zip(names, await self.store.get_many(names), strict=True):
            if raw is not None:
                try:
                    found[name] = decode(raw)
                except ValueError:
                    continue
        return found

    async def set(self, key: str, value: Any, ttl: float | None = _MISSING) -> None:
        """Store ``value`` for ``ttl`` seconds (default: ``default_ttl``; None: forever)."""
        await self.store.set(key, encode(value), ttl=self._ttl(ttl))

    async def add(self, key: str, value: Any, ttl: float | None = _MISSING) -> bool:
        """Store ``value`` only if ``key`` is missing; True if stored."""
        return await self.store.add(key, encode(value), ttl=self._ttl(ttl))

    async def delete(self, key: str) -> bool:
        return await self.store.delete(key)

    async def delete_many(self, keys: Iterable[str]) -> int:
        """Remove ``keys``; returns how many were there."""
        return await self.store.delete_many(keys)

    async def incr(self, key: str, delta: int = 1, ttl: float | None = _MISSING) -> int:
        """Add ``delta`` to an integer value (a missing key counts as 0; ``ttl`` applies
        when it is created)."""
        return await self.store.incr(key, delta, ttl=self._ttl(ttl))

    async def touch(self, key: str, ttl: float | None = _MISSING) -> bool:
        """Give ``key`` a new expiry (``ttl`` seconds from now); False if it is missing."""
        return await self.store.expire(key, self._ttl(ttl))

    async def clear(self) -> int:
        """Delete everything in this cache's namespace."""
        return await self.store.clear()

    async def get_or_set(
        self,
        key: str,
        factory: Callable[[], Awaitable[T]],
        ttl: float | None = _MISSING,
    ) -> T:
        """The value of ``key``; when missing, ``await factory()`` computes it (once for
        all concurrent callers in every process: see the module docstring) and it is
        stored for ``ttl`` seconds."""
        value = await self._load(key)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        ttl = self._ttl(ttl)

        async def lookup() -> Any:
            return await self._load(key)

        async def compute() -> T:
            result = await factory()
            await self.store.set(key, encode(result), ttl=ttl)
            return result

        return await self.single_flight(key, lookup, compute)

    async def single_flight(
        self,
        key: str,
        lookup: Callable[[], Awaitable[Any]],
        compute: Callable[[], Awaitable[T]],
    ) -> T:
        """Run ``compute`` once for ``key`` across tasks and processes; the others get
        what ``lookup`` finds once it is done (``lookup`` returns the value or
        ``Cache.MISSING``). ``compute`` stores its result itself."""
        flights = self._flights
        while True:
            flight = flights.get(key)
            if flight is None:
                break
            try:
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not flight.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The leader was cancelled, not this task: lead or wait anew.
        flight = flights[key] = asyncio.get_running_loop().create_future()
        try:
            result = await self._lead_or_wait(key, lookup, compute)
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved here: no "never retrieved" warning without waiters
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            del flights[key]

    async def _lead_or_wait(
        self,
        key: str,
        lookup: Callable[[], Awaitable[Any]],
        compute: Callable[[], Awaitable[T]],
    ) -> T:
        lock = "lock:" + key
        token = secrets.token_bytes(16)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            if await self.store.add(lock, token, ttl=self.lock_timeout):
                try:
                    value = await lookup()  # filled between our miss and the lock?
                    if value is not _MISSING:
                        return value  # type: ignore[no-any-return]
                    return await compute()
                finally:
                    await self.store.compare_and_set(lock, token, None)
            delay = 0.005
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)
                value = await lookup()
                if value is not _MISSING:
                    return value  # type: ignore[no-any-return]
                if time.monotonic() > deadline:
                    return await compute()  # the holder is stuck: do not fail the caller
                if await self.store.get(lock) is None:
                    break  # released without a value: try to take the lock
