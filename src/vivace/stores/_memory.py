"""``MemoryStore``: a dict in this process (one worker, development, tests).

Every operation runs without awaiting in between, so each one is atomic among the
tasks of this process; nothing is shared with other processes. Expired entries are
dropped when they are read, and all of them every ``sweep_every`` writes, so a store
holding many short-lived keys does not grow without bound.

Time is ``time.monotonic``: expiry is immune to wall-clock jumps.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterable, Sequence

from vivace.stores._base import Store, parse_counter

__all__ = ["MemoryStore"]


class _Data:
    """The state views of one MemoryStore share."""

    __slots__ = ("entries", "writes")

    def __init__(self) -> None:
        # key -> (value, monotonic deadline or None)
        self.entries: dict[str, tuple[bytes, float | None]] = {}
        self.writes = 0


class MemoryStore(Store):
    """An in-process store.

    >>> import asyncio
    >>> async def main():
    ...     store = MemoryStore()
    ...     await store.set("a", b"1", ttl=30)
    ...     return await store.get("a"), await store.ttl("a") <= 30
    >>> asyncio.run(main())
    (b'1', True)
    """

    __slots__ = ("_data", "sweep_every")

    def __init__(self, *, prefix: str = "", sweep_every: int = 1000) -> None:
        super().__init__(prefix)
        if sweep_every < 1:
            raise ValueError("sweep_every must be at least 1")
        self._data = _Data()
        self.sweep_every = sweep_every

    def __len__(self) -> int:
        """Entries held (all namespaces, expired ones not yet swept included)."""
        return len(self._data.entries)

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        entries = self._data.entries
        entry = entries.get(key)
        if entry is None:
            return None
        deadline = entry[1]
        if deadline is not None and deadline <= time.monotonic():
            del entries[key]
            return None
        return entry

    def _wrote(self) -> None:
        data = self._data
        data.writes += 1
        if data.writes >= self.sweep_every:
            data.writes = 0
            now = time.monotonic()
            entries = data.entries
            for key in [k for k, (_, d) in entries.items() if d is not None and d <= now]:
                del entries[key]

    @staticmethod
    def _deadline(ttl: float | None) -> float | None:
        return None if ttl is None else time.monotonic() + ttl

    async def _get(self, key: str) -> bytes | None:
        entry = self._live(key)
        return None if entry is None else entry[0]

    async def get_many(self, keys: Iterable[str]) -> list[bytes | None]:
        result: list[bytes | None] = []
        for key in keys:
            entry = self._live(self._key(key))
            result.append(None if entry is None else entry[0])
        return result

    async def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        self._data.entries[key] = (value, self._deadline(ttl))
        self._wrote()

    async def _swap(
        self, key: str, expected: bytes | None, value: bytes | None, ttl: float | None, keep: bool
    ) -> bool:
        entry = self._live(key)
        current = None if entry is None else entry[0]
        if current != expected:
            return False
        if value is None:
            del self._data.entries[key]
        else:
            deadline = entry[1] if keep and entry is not None else self._deadline(ttl)
            self._data.entries[key] = (value, deadline)
            self._wrote()
        return True

    async def _delete(self, keys: Sequence[str]) -> int:
        entries = self._data.entries
        removed = 0
        for key in keys:
            if self._live(key) is not None:
                del entries[key]
                removed += 1
        return removed

    async def _incr(self, key: str, amount: int, ttl: float | None) -> int:
        entry = self._live(key)
        if entry is None:
            new, deadline = amount, self._deadline(ttl)
        else:
            new, deadline = parse_counter(entry[0]) + amount, entry[1]
            if not -(2**63) <= new < 2**63:
                raise ValueError("increment would overflow a signed 64-bit integer")
        self._data.entries[key] = (b"%d" % new, deadline)
        self._wrote()
        return new

    async def _expire(self, key: str, ttl: float | None) -> bool:
        entry = self._live(key)
        if entry is None:
            return False
        self._data.entries[key] = (entry[0], self._deadline(ttl))
        return True

    async def _ttl(self, key: str) -> float | None:
        entry = self._live(key)
        if entry is None:
            return None
        deadline = entry[1]
        return math.inf if deadline is None else max(0.0, deadline - time.monotonic())

    async def _scan(self, prefix: str) -> AsyncIterator[str]:
        # A snapshot of the keys: the caller may write to the store while iterating.
        for key in [k for k in self._data.entries if k.startswith(prefix)]:
            if self._live(key) is not None:
                yield key
