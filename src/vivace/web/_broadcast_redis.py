"""The Redis backend of ``Broadcast``: Redis pub/sub between processes and hosts.

Needs the ``redis`` package (``pip install 'vivace[redis]'``), imported here only.

Theory of operation. One client publishes (``PUBLISH prefix+channel message``); a second
one holds the pub/sub connection, subscribed to the channels this process has
subscribers for (``_channels``, the wanted set, kept whatever the connection does). A
reader task owns that connection: it waits for messages and hands each one to
``Broadcast._deliver``. It reads only while something is subscribed: ``subscribe`` wakes
it, and it goes back to waiting when the last channel is gone.

The reader is UP or RECONNECTING (``_down`` holds the error that took the connection):

- UP: ``subscribe``/``unsubscribe`` send SUBSCRIBE/UNSUBSCRIBE on the connection.
- The connection fails (Redis restarted, the connection was killed, the network broke):
  the reader logs it once and goes RECONNECTING. Subscribers are not disturbed: their
  iteration simply waits, and goes on once the connection is back.
- RECONNECTING: one attempt at once (a killed connection to a healthy server comes back
  in one round trip), then attempts with exponential backoff and jitter between
  ``reconnect_initial`` and ``reconnect_max`` seconds. An attempt checks Redis with a
  PING, opens a new pub/sub connection and subscribes to every wanted channel;
  ``subscribe``/``unsubscribe`` meanwhile only change the wanted set, and what changed
  during the attempt is reconciled right after it. Then UP again.
- ``publish`` while RECONNECTING raises ``BroadcastError`` at once, naming the outage
  (the caller decides: tell the user, retry later); while UP a failed PUBLISH is tried
  once more on a new connection, then raises ``BroadcastError``.

Redis pub/sub does not keep messages: what was published while this process was
disconnected is not delivered to it (use a Redis stream if every message matters).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vivace.web._broadcast import BroadcastError, Deliver

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


def _safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class RedisBackend:
    """Publish and subscribe through a Redis server (see the module docstring).

    ``reconnect_initial`` and ``reconnect_max`` bound the wait between reconnection
    attempts (seconds; doubled after each failed attempt, with jitter).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "vivace:",
        reconnect_initial: float = 0.1,
        reconnect_max: float = 5.0,
    ) -> None:
        if reconnect_initial <= 0 or reconnect_max < reconnect_initial:
            raise ValueError("need 0 < reconnect_initial <= reconnect_max")
        self.url = url
        self.prefix = prefix
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self._client: Any = None  # publishes
        self._sub_client: Any = None  # makes the pub/sub connections
        self._pubsub: Any = None
        self._deliver: Deliver | None = None
        self._reader: asyncio.Task[None] | None = None
        self._channels: set[str] = set()
        self._wanted = asyncio.Event()
        self._down: BaseException | None = None
        self._down_since = 0.0
        self._lost: BaseException | None = None  # found by subscribe: reconnect now
        self._stopping = False
        self.reconnects = 0  # completed reconnections (for monitoring and tests)

    @property
    def is_up(self) -> bool:
        """Connected (False while reconnecting, and before ``connect``)."""
        return self._reader is not None and self._down is None

    def _make_client(self, retries: int) -> Any:
        redis = _redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # Options in the URL win over these defaults (redis-py's from_url).
        return redis.Redis.from_url(
            self.url,
            retry=Retry(NoBackoff(), retries),
            socket_connect_timeout=5.0,
            socket_keepalive=True,
        )

    async def connect(self, deliver: Deliver, fail: Callable[[BroadcastError], None]) -> None:
        self._deliver = deliver
        # One quick retry for a publish on a pooled connection that died while idle; the
        # pub/sub connection gets none: the reader reconnects it, with backoff.
        self._client = self._make_client(1)
        self._sub_client = self._make_client(0)
        try:
            await self._client.ping()
        except Exception as exc:
            await self._close_clients()
            raise BroadcastError(
                f"cannot connect to Redis at {_safe_url(self.url)}: {exc}"
            ) from exc
        self._down = None
        self._pubsub = self._sub_client.pubsub(ignore_subscribe_messages=True)
        self._reader = asyncio.get_running_loop().create_task(
            self._run(), name="vivace-broadcast-redis"
        )

    async def _close_clients(self) -> None:
        for client in (self._client, self._sub_client):
            if client is not None:
                await client.aclose()
        self._client = self._sub_client = None

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            self._stopping = True
            reader.cancel()
            await asyncio.wait({reader})
            self._stopping = False
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _close_quietly(pubsub)
        await self._close_clients()
        self._channels.clear()
        self._down = None

    async def subscribe(self, channel: str) -> None:
        if self._reader is None:
            raise BroadcastError("the broadcast is not connected")
        self._channels.add(channel)
        if self._down is None:
            try:
                await self._pubsub.subscribe(self.prefix + channel)
            except Exception as exc:
                if not _is_connection_error(exc):
                    self._channels.discard(channel)
                    raise BroadcastError(f"cannot subscribe to {channel!r}: {exc}") from exc
                # The connection is gone: the reader reconnects and resubscribes every
                # wanted channel, this one included.
                self._lost = exc
        self._wanted.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._down is None and self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(self.prefix + channel)
            except Exception as exc:
                if not _is_connection_error(exc):
                    raise BroadcastError(f"cannot unsubscribe from {channel!r}: {exc}") from exc
                # Gone with the connection anyway; a reconnection subscribes only
                # to the channels still wanted.

    async def publish(self, channel: str, message: str) -> None:
        down = self._down
        if down is not None:
            since = time.monotonic() - self._down_since
            raise BroadcastError(
                f"cannot publish to {channel!r}: the connection to Redis at "
                f"{_safe_url(self.url)} is down (reconnecting for {since:.1f} s): {down}"
            )
        try:
            await self._client.publish(self.prefix + channel, message)
        except Exception as exc:
            raise BroadcastError(
                f"cannot publish to {channel!r} on Redis at {_safe_url(self.url)}: {exc}"
            ) from exc

    # -- the reader ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._read(self._pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._check_stopping()
                self._down = exc
                self._down_since = time.monotonic()
                logger.warning(
                    "the Redis broadcast connection failed (%s); reconnecting, %d channel(s) "
                    "to resubscribe",
                    exc,
                    len(self._channels),
                )
            await self._reconnect()

    async def _read(self, pubsub: Any) -> None:
        skip = len(self.prefix)
        deliver = self._deliver
        assert deliver is not None
        while True:
            lost = self._lost
            if lost is not None:
                self._lost = None
                raise lost
            if not pubsub.subscribed:
                # Nothing to read until a subscribe went through on this connection (or
                # failed and asks for a reconnection).
                self._wanted.clear()
                await self._wanted.wait()
                continue
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            data = message["data"]
            deliver(
                channel[skip:].decode("utf-8") if isinstance(channel, bytes) else channel[skip:],
                data.decode("utf-8") if isinstance(data, bytes) else str(data),
                None,
            )

    async def _reconnect(self) -> None:
        delay = self.reconnect_initial
        attempt = 0
        while True:
            if attempt:
                # Equal jitter: many workers that lost Redis together do not come back
                # in lockstep.
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
                delay = min(delay * 2, self.reconnect_max)
            attempt += 1
            try:
                await self._resubscribe()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._check_stopping()
                self._down = exc
                logger.debug("Redis broadcast reconnection attempt %d failed: %s", attempt, exc)
                continue
            logger.warning(
                "the Redis broadcast reconnected after %.1f s (%d attempt(s)), %d channel(s) "
                "resubscribed",
                time.monotonic() - self._down_since,
                attempt,
                len(self._channels),
            )
            self.reconnects += 1
            return

    def _check_stopping(self) -> None:
        # redis-py can turn a cancellation that lands in its connect or disconnect into
        # a ConnectionError; never take that for a lost connection to retry.
        task = asyncio.current_task()
        if self._stopping or (task is not None and task.cancelling()):
            raise asyncio.CancelledError

    async def _resubscribe(self) -> None:
        self._lost = None
        await self._client.ping()
        pubsub = self._sub_client.pubsub(ignore_subscribe_messages=True)
        wanted = set(self._channels)
        try:
            if wanted:
                await pubsub.subscribe(*(self.prefix + c for c in wanted))
        except BaseException:
            await _close_quietly(pubsub)
            raise
        old, self._pubsub = self._pubsub, pubsub
        self._down = None
        if old is not None:
            await _close_quietly(old)
        # What subscribe/unsubscribe changed while this attempt ran.
        added = self._channels - wanted
        if added:
            await pubsub.subscribe(*(self.prefix + c for c in added))
        removed = wanted - self._channels
        if removed:
            await pubsub.unsubscribe(*(self.prefix + c for c in removed))


def _is_connection_error(exc: BaseException) -> bool:
    from redis.exceptions import ConnectionError, TimeoutError

    return isinstance(exc, ConnectionError | TimeoutError | OSError)


async def _close_quietly(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # its connection is already broken: nothing more to close
        pass
