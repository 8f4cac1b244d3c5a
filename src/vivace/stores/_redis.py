"""``RedisStore``: the store on a Redis server, shared by every process and host.

Needs the ``redis`` package (``pip install 'vivace[redis]'``), imported here only.

Each operation is one round trip and atomic on the server: ``GET``/``SET ... PX``/``DEL``
/``PEXPIRE``/``PTTL``/``MGET`` directly, ``incr`` and ``compare_and_set`` as Lua scripts
(Redis runs a script atomically: no other command runs between its steps). Scripts are
sent by SHA (``EVALSHA``), falling back to ``EVAL`` once after a server restart
(redis-py's ``Script`` object does this). ``scan`` walks ``SCAN MATCH prefix*`` with the
glob characters of the prefix escaped, so a key prefix never acts as a pattern.

``near_cache=<bytes>`` adds a process-local layer in front of ``get``/``get_many``,
kept exact by Redis's client-side caching invalidation (``vivace.stores._near``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, NoReturn

from vivace.stores._base import Store, StoreError, StoreUnavailable
from vivace.stores._near import NearCache

__all__ = ["RedisStore"]

# KEYS[1]; ARGV: amount, ttl in ms ("" for none). The TTL applies only when INCRBY creates
# the key, which is when the key did not exist just before (EXISTS in the same script).
_INCR = """
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""

# KEYS[1]; ARGV: expect ("0": absent, "1": equal to ARGV[2]), expected value, action
# ("d": delete, "s": set ARGV[4], "k": set ARGV[4] keeping the TTL), new value, ttl in ms
# ("" for none).
_SWAP = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
    if current then return 0 end
elseif current ~= ARGV[2] then
    return 0
end
if ARGV[3] == 'd' then
    redis.call('DEL', KEYS[1])
elseif ARGV[3] == 'k' then
    redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
elseif ARGV[5] ~= '' then
    redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
else
    redis.call('SET', KEYS[1], ARGV[4])
end
return 1
"""


def _redis() -> Any:
    try:
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - the test suite installs redis
        raise ImportError(
            "the Redis store needs the redis package: pip install 'vivace[redis]'"
        ) from exc
    return redis.asyncio


def _ms(ttl: float) -> int:
    # Redis counts in whole milliseconds; never round a short TTL down to "no expiry".
    return max(1, math.ceil(ttl * 1000))


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisStore(Store):
    """A store on Redis.

    ``RedisStore("redis://127.0.0.1:6379/0", prefix="myapp:")`` (``rediss://`` for TLS,
    ``unix:///path`` for a socket), or ``RedisStore(client=redis.asyncio.Redis(...))`` to
    share a client you made (the store then does not close it). At most
    ``max_connections`` commands run at once (so at most that many connections are
    open); a caller waits up to ``pool_timeout`` seconds for its turn (then
    ``StoreUnavailable``). ``near_cache``: bytes of values kept in this process
    (default 0: none), for keys read far more often than written (a response cache);
    Redis tells every process when a key it holds changes (``CLIENT TRACKING``), so a
    write anywhere is seen everywhere. Other keyword options go to redis-py.
    """

    __slots__ = ("_client", "_incr_script", "_near", "_owned", "_slots", "_swap_script", "url")

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "",
        client: Any = None,
        max_connections: int = 50,
        pool_timeout: float = 20.0,
        near_cache: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(prefix)
        if (url is None) == (client is None):
            raise ValueError("RedisStore takes either a URL or a client")
        if client is None:
            redis = _redis()
            options.setdefault("socket_connect_timeout", 5.0)
            client = redis.Redis.from_url(url, **options)
            self._owned = True
        else:
            self._owned = False
        # At most max_connections commands at once: a burst of concurrent requests must
        # queue, not open one connection each until the server's maxclients refuses them.
        # A semaphore in front of redis-py's plain pool rather than its
        # BlockingConnectionPool: measured (bench/batteries.py's Redis cache hit path,
        # in-process), the blocking pool costs about 25-30 us of CPU per command more.
        self._slots = _Slots(max_connections, pool_timeout)
        self.url = url
        self._client = client
        self._incr_script = client.register_script(_INCR)
        self._swap_script = client.register_script(_SWAP)
        self._near = NearCache(client, near_cache) if near_cache else None

    @property
    def client(self) -> Any:
        """The ``redis.asyncio.Redis`` client."""
        return self._client

    async def open(self) -> None:
        try:
            async with self._slots:
                await self._client.ping()
        except Exception as exc:
            _fail(exc)

    async def close(self) -> None:
        if self._near is not None:
            await self._near.close()
        if self._owned:
            await self._client.aclose()

    async def _near_get(self, keys: Sequence[str]) -> list[bytes | None] | None:
        near = self._near
        if near is None:
            return None
        found = near.get_many(keys)
        if found is None:
            found = await near.fetch(keys)
        return found

    def _written(self, keys: Sequence[str]) -> None:
        if self._near is not None:
            self._near.drop(keys)

    async def _get(self, key: str) -> bytes | None:
        if self._near is not None:
            found = await self._near_get((key,))
            if found is not None:
                return found[0]
        try:
            async with self._slots:
                value: bytes | None = await self._client.get(key)
        except Exception as exc:
            _fail(exc)
        return value

    async def get_many(self, keys: Iterable[str]) -> list[bytes | None]:
        full = [self._key(key) for key in keys]
        if not full:
            return []
        if self._near is not None:
            found = await self._near_get(full)
            if found is not None:
                return found
        try:
            async with self._slots:
                values: list[bytes | None] = await self._client.mget(full)
        except Exception as exc:
            _fail(exc)
        return values

    async def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        self._written((key,))
        try:
            async with self._slots:
                await self._client.set(key, value, px=None if ttl is None else _ms(ttl))
        except Exception as exc:
            _fail(exc)

    async def _swap(
        self, key: str, expected: bytes | None, value: bytes | None, ttl: float | None, keep: bool
    ) -> bool:
        self._written((key,))
        action = "d" if value is None else ("k" if keep else "s")
        args = [
            "0" if expected is None else "1",
            b"" if expected is None else expected,
            action,
            b"" if value is None else value,
            "" if ttl is None else str(_ms(ttl)),
        ]
        try:
            async with self._slots:
                done = await self._swap_script(keys=[key], args=args)
        except Exception as exc:
            _fail(exc)
        return bool(done)

    async def _delete(self, keys: Sequence[str]) -> int:
        self._written(keys)
        try:
            async with self._slots:
                removed: int = await self._client.delete(*keys)
        except Exception as exc:
            _fail(exc)
        return removed

    async def _incr(self, key: str, amount: int, ttl: float | None) -> int:
        self._written((key,))
        try:
            async with self._slots:
                value: int = await self._incr_script(
                    keys=[key], args=[amount, "" if ttl is None else str(_ms(ttl))]
                )
        except Exception as exc:
            from redis.exceptions import ResponseError

            if isinstance(exc, ResponseError):
                # The same messages as the other backends give.
                if "overflow" in str(exc):
                    raise ValueError("increment would overflow a signed 64-bit integer") from None
                if "not an integer" in str(exc):
                    raise ValueError("the stored value is not an integer") from None
            _fail(exc)
        return value

    async def _expire(self, key: str, ttl: float | None) -> bool:
        self._written((key,))
        try:
            async with self._slots:
                if ttl is None:
                    async with self._client.pipeline(transaction=True) as pipe:
                        exists, _ = await pipe.exists(key).persist(key).execute()
                    return bool(exists)
                return bool(await self._client.pexpire(key, _ms(ttl)))
        except Exception as exc:
            _fail(exc)

    async def _ttl(self, key: str) -> float | None:
        try:
            async with self._slots:
                ms: int = await self._client.pttl(key)
        except Exception as exc:
            _fail(exc)
        if ms == -2:
            return None
        if ms == -1:
            return math.inf
        return ms / 1000

    async def _scan(self, prefix: str) -> AsyncIterator[str]:
        pattern = _glob_escape(prefix) + "*"
        cursor = 0
        while True:
            # One SCAN step at a time: no connection is held while the caller works.
            try:
                async with self._slots:
                    cursor, keys = await self._client.scan(cursor, match=pattern, count=500)
            except Exception as exc:
                _fail(exc)
            for raw in keys:
                yield raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if cursor == 0:
                return


class _Slots:
    """A semaphore bounding the commands in flight; waiting longer than ``timeout``
    seconds for a slot is ``StoreUnavailable`` (the pool is exhausted)."""

    __slots__ = ("_semaphore", "limit", "timeout")

    def __init__(self, limit: int, timeout: float) -> None:
        if limit < 1:
            raise ValueError("max_connections must be at least 1")
        self._semaphore = asyncio.Semaphore(limit)
        self.limit = limit
        self.timeout = timeout

    async def __aenter__(self) -> None:
        semaphore = self._semaphore
        if not semaphore.locked():
            await semaphore.acquire()  # free: no wait
            return
        try:
            async with asyncio.timeout(self.timeout):
                await semaphore.acquire()
        except TimeoutError:
            raise StoreUnavailable(
                f"no Redis connection became free within {self.timeout} s "
                f"({self.limit} in use): raise max_connections or pool_timeout"
            ) from None

    async def __aexit__(self, *exc_info: object) -> None:
        self._semaphore.release()


def _fail(exc: BaseException) -> NoReturn:
    """Raise the store error for a redis-py error (anything else goes up unchanged)."""
    from redis.exceptions import ConnectionError, RedisError, TimeoutError

    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc
    if isinstance(exc, RedisError):
        raise StoreError(f"Redis failed the operation: {exc}") from exc
    raise exc
