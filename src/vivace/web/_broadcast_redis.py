"""The Redis backend of ``Broadcast``: Redis pub/sub between processes and hosts.

Needs the ``redis`` package (``pip install 'vivace[redis]'``), imported here only.

One client connection publishes (``PUBLISH prefix+channel message``); one more, the
pub/sub connection, is subscribed to the channels this process has subscribers for. A
reader task waits on it and hands each message to ``Broadcast._deliver``. It runs only
while something is subscribed: ``subscribe`` wakes it, and it goes back to waiting when
the last channel is gone. If the connection fails the reader stops and every subscriber
gets ``BroadcastError`` (clients then reconnect to a healthy worker; the broadcast
reconnects on the next ``subscribe``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from vivace.web._broadcast import BroadcastError

__all__ = ["RedisBackend"]

logger = logging.getLogger("vivace.web.broadcast")


def _redis() -> Any:
    try:
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - the test suite installs redis
        raise ImportError(
            "the Redis broadcast backend needs the redis package: pip install 'vivace[redis]'"
        ) from exc
    return redis.asyncio


class RedisBackend:
    """Publish and subscribe through a Redis server (see the module docstring)."""

    def __init__(self, url: str, *, prefix: str = "vivace:") -> None:
        self.url = url
        self.prefix = prefix
        self._client: Any = None
        self._pubsub: Any = None
        self._deliver: Callable[[str, str], None] | None = None
        self._fail: Callable[[BroadcastError], None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._channels: set[str] = set()
        self._wanted = asyncio.Event()
        self._failed: BaseException | None = None

    async def connect(
        self, deliver: Callable[[str, str], None], fail: Callable[[BroadcastError], None]
    ) -> None:
        redis = _redis()
        self._deliver = deliver
        self._fail = fail
        self._client = redis.Redis.from_url(self.url)
        try:
            await self._client.ping()
        except Exception as exc:
            await self._client.aclose()
            self._client = None
            raise BroadcastError(f"cannot connect to Redis at {self.url}: {exc}") from exc
        self._start_reader()

    def _start_reader(self) -> None:
        self._failed = None
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._reader = asyncio.get_running_loop().create_task(
            self._read(), name="vivace-broadcast-redis"
        )

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait({reader})
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._channels.clear()

    async def subscribe(self, channel: str) -> None:
        if self._reader is None or self._reader.done():
            if self._client is None:
                raise BroadcastError("the broadcast is not connected")
            self._channels.clear()
            if self._pubsub is not None:
                await self._pubsub.aclose()
            # The pool may hold connections that died with the one that failed.
            await self._client.connection_pool.disconnect()
            self._start_reader()
        await self._pubsub.subscribe(self.prefix + channel)
        self._channels.add(channel)
        self._wanted.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._pubsub is not None and self._reader is not None and not self._reader.done():
            await self._pubsub.unsubscribe(self.prefix + channel)

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self._client.publish(self.prefix + channel, message)
        except Exception as exc:
            raise BroadcastError(f"cannot publish to Redis: {exc}") from exc

    async def _read(self) -> None:
        pubsub = self._pubsub
        skip = len(self.prefix)
        deliver = self._deliver
        assert deliver is not None and self._fail is not None
        try:
            while True:
                if not self._channels:
                    self._wanted.clear()
                    await self._wanted.wait()
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is None or message.get("type") != "message":
                    continue
                channel = message["channel"]
                data = message["data"]
                deliver(
                    channel[skip:].decode("utf-8")
                    if isinstance(channel, bytes)
                    else channel[skip:],
                    data.decode("utf-8") if isinstance(data, bytes) else str(data),
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("the Redis broadcast connection failed: %s", exc)
            self._failed = exc
            self._fail(BroadcastError(f"the Redis connection failed: {exc}"))
