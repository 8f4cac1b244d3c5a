"""``NearCache``: values a ``RedisStore`` read, kept in this process and invalidated by Redis.

A Redis round trip costs the client ~80-100 us of CPU in redis-py (measured: an ``MGET``
of a response-cache entry, in-process, hiredis or not), more than many views it would
cache. A near cache answers repeated reads from memory, and Redis's client-side caching
(``CLIENT TRACKING``, https://redis.io/docs/latest/develop/reference/client-side-caching/)
tells it when any client, in any process, changes a key it holds.

Theory of operation (two connections of our own, RESP2):

- the *listener* subscribes to ``__redis__:invalidate``; its ``CLIENT ID`` is where
  Redis sends the names of changed keys;
- the *reader* runs ``CLIENT TRACKING ON REDIRECT <listener id>``: every key it reads is
  remembered by the server, and the next write to it (by anyone; expiry and eviction
  too) sends one invalidation to the listener. Near misses are read there, one at a
  time (a lock): ``MGET`` with a ``PTTL`` per key, so a local entry also expires when the
  server's does.

States: ``DOWN`` (no connections: reads go to the store's pool, nothing is kept) and
``UP`` (tracking on). Any error on either connection, or a connection found closed,
flushes every entry and goes ``DOWN``; the next near miss sets tracking up again with
new connections (the server forgets a closed client's tracked keys, so nothing kept
from before may be trusted).

Races, and why no stale value is kept:
- an invalidation arriving while a read of that key is in flight marks the key
  "dirty", and the read does not keep it (the value it returns was current when read);
- a flush (``UP`` -> ``DOWN``, or Redis's "flush everything" message) bumps ``epoch``,
  and a read that started in another epoch keeps nothing;
- this process's own writes drop the key before they are sent.
- A connection that dies silently (no FIN: a cable, a partition) sends nothing: a
  heartbeat PINGs both connections every ``HEARTBEAT`` s, and entries are served only
  while both answered within ``STALE_BOUND`` s. So after a write in another process,
  this one sees the new value once the invalidation arrives (a network hop, as for
  any Redis reader) and, if the connection silently died, within ``STALE_BOUND`` s.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any

__all__ = ["NearCache"]

HEARTBEAT = 0.25
STALE_BOUND = 1.0
RETRY_PAUSE = 1.0
_CHANNEL = b"__redis__:invalidate"
_ENTRY_OVERHEAD = 100  # bytes counted per entry beside its key and value


class NearCache:
    """The process-local layer of a ``RedisStore`` (``RedisStore(near_cache=bytes)``)."""

    def __init__(self, client: Any, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("near_cache is a size in bytes, at least 1")
        self._client = client
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.epoch = 0
        # key -> (value or None for absent, monotonic deadline or inf)
        self._entries: OrderedDict[str, tuple[bytes | None, float]] = OrderedDict()
        self._reading: frozenset[str] = frozenset()
        self._dirty: set[str] = set()
        self._lock = asyncio.Lock()
        self._listener: Any = None
        self._reader: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pings: deque[float] = deque()
        self._listener_ok = 0.0  # monotonic time until which each side is trusted
        self._reader_ok = 0.0
        self._retry_at = 0.0  # no attempt to set tracking up before this (monotonic)
        self.connection_ids: tuple[int, int] | None = None  # (listener, reader) CLIENT IDs

    @property
    def up(self) -> bool:
        return self._reader is not None

    # -- the hit path ---------------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> list[bytes | None] | None:
        """The values when every key is held and fresh; None otherwise (ask Redis)."""
        now = time.monotonic()
        if now >= self._listener_ok or now >= self._reader_ok:
            return None
        entries = self._entries
        values: list[bytes | None] = []
        for key in keys:
            entry = entries.get(key)
            if entry is None or now >= entry[1]:
                return None
            values.append(entry[0])
        for key in keys:
            entries.move_to_end(key)
        self.hits += 1
        return values

    # -- invalidation ---------------------------------------------------------------------

    def drop(self, keys: Sequence[str]) -> None:
        """Forget ``keys`` (written here, or changed elsewhere)."""
        for key in keys:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self.size -= _cost(key, entry[0])
            if key in self._reading:
                self._dirty.add(key)

    def flush(self) -> None:
        self._entries.clear()
        self.size = 0
        self.epoch += 1

    def _keep(self, key: str, value: bytes | None, deadline: float) -> None:
        cost = _cost(key, value)
        if cost > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= _cost(key, old[0])
        self._entries[key] = (value, deadline)
        self.size += cost
        while self.size > self.max_bytes:
            oldest, (old_value, _) = self._entries.popitem(last=False)
            self.size -= _cost(oldest, old_value)

    # -- the miss path --------------------------------------------------------------------

    async def fetch(self, keys: Sequence[str]) -> list[bytes | None] | None:
        """Read ``keys`` on the tracking connection and keep them; None when tracking
        cannot be set up (the caller reads through the pool; the error is its to see)."""
        async with self._lock:
            if not await self._ensure_up():
                return None
            reader = self._reader
            epoch = self.epoch
            self._reading = frozenset(keys)
            self._dirty.clear()
            started = time.monotonic()
            try:
                commands = [("MGET", *keys), *(("PTTL", key) for key in keys)]
                await reader.send_packed_command(reader.pack_commands(commands))
                values: list[bytes | None] = await reader.read_response()
                ttls = [await reader.read_response() for _ in keys]
            except asyncio.CancelledError:
                await self._go_down()  # the connection is mid-reply: unusable
                raise
            except Exception:
                # Tracking is lost with the connection; the caller reads through the
                # store's pool, which reports the error if Redis is really gone.
                await self._go_down()
                return None
            finally:
                self._reading = frozenset()
            if epoch == self.epoch:
                for key, value, ms in zip(keys, values, ttls, strict=True):
                    if key in self._dirty:
                        continue
                    # -1: no expiry; -2: absent (kept as absent until a write says not).
                    deadline = started + ms / 1000 if ms >= 0 else math.inf
                    self._keep(key, value, deadline)
            return values

    async def _ensure_up(self) -> bool:
        if self._reader is not None:
            if self._reader.is_connected and self._listener.is_connected:
                return True
            await self._go_down()
        if time.monotonic() < self._retry_at:
            return False
        pool = self._client.connection_pool
        kwargs = {**pool.connection_kwargs, "protocol": 2}
        listener = pool.connection_class(**kwargs)
        reader = pool.connection_class(**kwargs)
        try:
            await listener.connect()
            await listener.send_command("CLIENT", "ID")
            client_id = await listener.read_response()
            await listener.send_command("SUBSCRIBE", _CHANNEL)
            await listener.read_response()
            await reader.connect()
            await reader.send_command("CLIENT", "ID")
            reader_id = await reader.read_response()
            await reader.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", client_id)
            await reader.read_response()
        except Exception:
            # Redis down, or without CLIENT TRACKING (before 6.0, or an ACL refusing
            # it): reads go through the pool, and setting up is retried after a pause,
            # not on every read.
            await listener.disconnect()
            await reader.disconnect()
            self._retry_at = time.monotonic() + RETRY_PAUSE
            return False
        self.flush()
        self._listener, self._reader = listener, reader
        self.connection_ids = (int(client_id), int(reader_id))
        now = time.monotonic()
        self._listener_ok = self._reader_ok = now + STALE_BOUND
        self._pings.clear()
        self._tasks = [
            asyncio.create_task(self._listen(listener)),
            asyncio.create_task(self._heartbeat(listener, reader)),
        ]
        return True

    async def _go_down(self) -> None:
        """Flush, stop trusting anything, close both connections."""
        self.flush()
        self._listener_ok = self._reader_ok = 0.0
        listener, reader = self._listener, self._reader
        self._listener = self._reader = None
        self.connection_ids = None
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._tasks = []
        for connection in (listener, reader):
            if connection is not None:
                await connection.disconnect()

    async def close(self) -> None:
        async with self._lock:
            await self._go_down()

    # -- the connections' tasks -----------------------------------------------------------

    async def _listen(self, listener: Any) -> None:
        try:
            while True:
                message = await listener.read_response(timeout=math.inf)
                kind = message[0]
                if kind == b"message" and message[1] == _CHANNEL:
                    keys = message[2]
                    if keys is None:  # the server forgot what it tracked: trust nothing
                        self.flush()
                    else:
                        self.drop([k.decode("utf-8", "surrogateescape") for k in keys])
                elif kind == b"pong" and self._pings:
                    self._listener_ok = self._pings.popleft() + STALE_BOUND
        except asyncio.CancelledError:
            raise
        except Exception:
            if self._listener is listener:
                await self._go_down()

    async def _heartbeat(self, listener: Any, reader: Any) -> None:
        try:
            while True:
                await asyncio.sleep(HEARTBEAT)
                sent = time.monotonic()
                self._pings.append(sent)
                await listener.send_command("PING")
                async with self._lock:
                    if self._reader is not reader:
                        return
                    await reader.send_command("PING")
                    await reader.read_response()
                    self._reader_ok = sent + STALE_BOUND
        except asyncio.CancelledError:
            raise
        except Exception:
            if self._reader is reader:
                await self._go_down()


def _cost(key: str, value: bytes | None) -> int:
    return len(key) + (len(value) if value is not None else 0) + _ENTRY_OVERHEAD
