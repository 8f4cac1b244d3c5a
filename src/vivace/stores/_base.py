"""``Store``: the one async key-value API every backend implements, and its errors.

Keys are ``str``; values are ``bytes``. A counter made by ``incr`` is stored as its
decimal ASCII digits, so ``get`` reads ``b"42"`` on every backend (as on Redis).

Expiry: ``ttl`` is in seconds (a positive finite number), ``None`` means "never expires".
``set`` and ``compare_and_set`` give the new value the ``ttl`` they are passed (``None``
clears an earlier expiry, as Redis' ``SET`` does); ``incr`` applies its ``ttl`` only when
it creates the key, so a fixed window keeps its end; ``expire`` changes the expiry alone.

Atomicity: ``incr``, ``add`` and ``compare_and_set`` are atomic across every process
that shares the backend; ``transform`` (an atomic read-modify-write of one key) is
built on ``compare_and_set``: read, compute, swap if unchanged, else retry. Every
backend overrides the primitives with one atomic operation of its own (a Lua script on
Redis, one conditional statement in SQL, plain code between two awaits in memory).

Namespaces: a store has a ``prefix`` put in front of every key; ``store.namespace("x:")``
is a view of the same backend (same connection) with a longer prefix. ``scan`` and
``clear`` only see keys under the view's prefix.

Errors::

    Exception
     ├── StoreError            the backend failed the operation (the cause is kept)
     │    ├── StoreUnavailable the backend cannot be reached (refused, lost, timed out)
     │    └── StoreConflict    compare-and-set retries ran out under heavy contention
     ├── ValueError            a bad key, TTL or amount; ``incr`` of a non-integer value
     └── TypeError             a value that is not bytes
"""

from __future__ import annotations

import asyncio
import copy
import math
import random
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from types import TracebackType
from typing import Self, TypeVar

__all__ = [
    "MAX_KEY_BYTES",
    "Store",
    "StoreConflict",
    "StoreError",
    "StoreUnavailable",
    "check_ttl",
    "parse_counter",
]

T = TypeVar("T")

#: The longest full key (prefix included), in UTF-8 bytes. Database keys are a binary
#: column of 1024 bytes; 1000 leaves room and is what memcached-style caches allow too.
MAX_KEY_BYTES = 1000
#: How often ``transform`` and the compare-and-set loops retry before ``StoreConflict``.
MAX_ATTEMPTS = 64


class StoreError(Exception):
    """The backend failed the operation; ``__cause__`` is the backend's own error."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached (connection refused, lost, or timed out)."""

    #: vivace.web answers it with 503 Service Unavailable (see vivace.db's ConnectionLost).
    service_unavailable = True


class StoreConflict(StoreError):
    """A read-modify-write lost ``MAX_ATTEMPTS`` races in a row (extreme contention)."""


def check_ttl(ttl: float | None) -> float | None:
    """``ttl`` validated: a positive finite number of seconds, or None."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise TypeError(f"ttl must be a number of seconds or None, not {type(ttl).__name__}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
    return float(ttl)


def parse_counter(value: bytes) -> int:
    """The integer a counter value holds; ``ValueError`` for anything else."""
    # Redis' rule: an optional minus sign and digits, at most a signed 64-bit integer.
    if not (0 < len(value) <= 20) or not value.lstrip(b"-").isdigit() or value.count(b"-") > 1:
        raise ValueError("the stored value is not an integer")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("the stored value is not a 64-bit integer")
    return number


def _check_value(value: bytes) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"store values are bytes, not {type(value).__name__}")
    return value


def _check_amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"incr amount must be an int, not {type(amount).__name__}")
    if not -(2**63) <= amount < 2**63:
        raise ValueError("incr amount must fit in a signed 64-bit integer")
    return amount


async def backoff(attempt: int) -> None:
    """Wait a little before retrying a lost compare-and-set race (full jitter)."""
    await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))


class Store:
    """An async key-value store (see the module docstring for the rules).

    >>> import asyncio
    >>> from vivace.stores import MemoryStore
    >>> async def main():
    ...     async with MemoryStore() as store:
    ...         await store.set("greeting", b"hello", ttl=60)
    ...         await store.incr("visits")
    ...         await store.incr("visits", 2)
    ...         swapped = await store.compare_and_set("greeting", b"hello", b"bye")
    ...         return await store.get("greeting"), await store.get("visits"), swapped
    >>> asyncio.run(main())
    (b'bye', b'3', True)
    """

    __slots__ = ("prefix",)

    def __init__(self, prefix: str = "") -> None:
        if not isinstance(prefix, str):
            raise TypeError("a store prefix is a str")
        self.prefix = prefix

    # -- keys ----------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        if type(key) is not str:
            raise TypeError(f"store keys are str, not {type(key).__name__}")
        if not key:
            raise ValueError("a store key may not be empty")
        full = self.prefix + key
        try:
            size = len(full.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("a store key must be valid Unicode (no lone surrogates)") from None
        if size > MAX_KEY_BYTES:
            raise ValueError(f"a store key is at most {MAX_KEY_BYTES} UTF-8 bytes, prefix included")
        return full

    def namespace(self, prefix: str) -> Self:
        """A view of this store whose keys all start with ``prefix`` (same backend).

        >>> from vivace.stores import MemoryStore
        >>> MemoryStore(prefix="app:").namespace("sessions:").prefix
        'app:sessions:'
        """
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("a namespace needs a non-empty str prefix")
        view = copy.copy(self)
        view.prefix = self.prefix + prefix
        return view

    # -- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (and create what the backend needs); idempotent."""

    async def close(self) -> None:
        """Give back the backend's connections (those the store opened itself)."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the primitives every backend implements (keys already prefixed and checked) -----

    async def _get(self, key: str) -> bytes | None:
        raise NotImplementedError

    async def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        raise NotImplementedError

    async def _swap(
        self, key: str, expected: bytes | None, value: bytes | None, ttl: float | None, keep: bool
    ) -> bool:
        """Atomically: if the live value is ``expected`` (None: absent), make it ``value``
        (None: delete) with ``ttl`` (or the current expiry when ``keep``)."""
        raise NotImplementedError

    async def _delete(self, keys: Sequence[str]) -> int:
        raise NotImplementedError

    async def _expire(self, key: str, ttl: float | None) -> bool:
        raise NotImplementedError

    async def _ttl(self, key: str) -> float | None:
        raise NotImplementedError

    def _scan(self, prefix: str) -> AsyncIterator[str]:
        """Full keys (prefix included) of live entries starting with ``prefix``."""
        raise NotImplementedError

    async def _incr(self, key: str, amount: int, ttl: float | None) -> int:
        # Generic: a compare-and-set loop. Backends with an atomic increment override it.
        for attempt in range(MAX_ATTEMPTS):
            current = await self._get(key)
            if current is None:
                new = amount
                done = await self._swap(key, None, b"%d" % new, ttl, False)
            else:
                new = parse_counter(current) + amount
                if not -(2**63) <= new < 2**63:
                    raise ValueError("increment would overflow a signed 64-bit integer")
                done = await self._swap(key, current, b"%d" % new, None, True)
            if done:
                return new
            await backoff(attempt)
        raise StoreConflict(f"incr of {key!r} lost {MAX_ATTEMPTS} races in a row")

    # -- the public API -----------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """The value of ``key``, or None when it is absent or expired."""
        return await self._get(self._key(key))

    async def get_many(self, keys: Iterable[str]) -> list[bytes | None]:
        """The values of ``keys``, in order (None for each one absent)."""
        return [await self._get(self._key(key)) for key in keys]

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, expiring after ``ttl`` seconds (None: never)."""
        await self._set(self._key(key), _check_value(value), check_ttl(ttl))

    async def add(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        """Store ``value`` only if ``key`` is absent; True if it was stored."""
        return await self._swap(self._key(key), None, _check_value(value), check_ttl(ttl), False)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there."""
        return await self._delete([self._key(key)]) > 0

    async def delete_many(self, keys: Iterable[str]) -> int:
        """Remove ``keys``; returns how many were there."""
        full = [self._key(key) for key in keys]
        return await self._delete(full) if full else 0

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add ``amount`` to the integer at ``key`` (absent: 0) and return the result.

        ``ttl`` applies only when this call creates the key. ``ValueError`` if the
        value there is not an integer.
        """
        return await self._incr(self._key(key), _check_amount(amount), check_ttl(ttl))

    async def compare_and_set(
        self, key: str, expected: bytes | None, value: bytes | None, *, ttl: float | None = None
    ) -> bool:
        """If ``key`` holds ``expected`` (None: is absent), replace it with ``value``
        (None: delete it), expiring after ``ttl``; True if the swap happened."""
        key = self._key(key)
        if expected is not None:
            expected = _check_value(expected)
        if value is not None:
            value = _check_value(value)
        ttl = check_ttl(ttl)
        if expected is None and value is None:
            return await self._get(key) is None
        return await self._swap(key, expected, value, ttl, False)

    async def expire(self, key: str, ttl: float | None) -> bool:
        """Make ``key`` expire ``ttl`` seconds from now (None: never); False if absent."""
        return await self._expire(self._key(key), check_ttl(ttl))

    async def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires: ``math.inf`` if never, None if it is absent."""
        return await self._ttl(self._key(key))

    async def scan(self, prefix: str = "") -> AsyncIterator[str]:
        """The keys (without the store's prefix) that start with ``prefix``.

        Keys written or deleted during the scan may or may not be seen.
        """
        if not isinstance(prefix, str):
            raise TypeError("a scan prefix is a str")
        skip = len(self.prefix)
        async for key in self._scan(self.prefix + prefix):
            yield key[skip:]

    async def clear(self) -> int:
        """Delete every key under this store's prefix; returns how many."""
        removed = 0
        batch: list[str] = []
        async for key in self._scan(self.prefix):
            batch.append(key)
            if len(batch) >= 500:
                removed += await self._delete(batch)
                batch = []
        if batch:
            removed += await self._delete(batch)
        return removed

    async def transform(
        self,
        key: str,
        fn: Callable[[bytes | None], tuple[bytes | None, T]],
        *,
        ttl: float | None = None,
    ) -> T:
        """Atomically replace the value of ``key`` by what ``fn`` makes of it.

        ``fn(current)`` returns ``(new_value, result)``; ``new_value`` None deletes the key,
        and the new value expires after ``ttl``. ``fn`` may run more than once (when
        another process changed the key in between), so it must have no side effects.
        Returns ``result`` of the run whose value was stored.

        >>> import asyncio
        >>> from vivace.stores import MemoryStore
        >>> def append(current):
        ...     new = (current or b"") + b"!"
        ...     return new, len(new)
        >>> asyncio.run(MemoryStore().transform("k", append))
        1
        """
        full = self._key(key)
        ttl = check_ttl(ttl)
        for attempt in range(MAX_ATTEMPTS):
            current = await self._get(full)
            new, result = fn(current)
            if new is not None:
                new = _check_value(new)
            if new is None and current is None:
                return result
            if await self._swap(full, current, new, ttl, False):
                return result
            await backoff(attempt)
        raise StoreConflict(f"transform of {key!r} lost {MAX_ATTEMPTS} races in a row")
