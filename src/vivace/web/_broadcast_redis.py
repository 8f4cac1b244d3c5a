"""The Redis backend of ``Broadcast``: Redis pub/sub between processes and hosts.

Needs the ``redis`` package (``pip install 'vivace[redis]'``), imported here only.

Theory of operation. One client publishes (``PUBLISH prefix+channel message``); a second
one holds the pub/sub connection, subscribed to the channels this process has
subscribers for (``_channels``, the wanted set, kept whatever the connection does). A
reader task owns that connection: it waits for messages and hands each one to
``Broadcast._deliver``. It reads only while something is subscribed: ``subscribe`` wakes
it, and it goes back to waiting when the last channel is gone.

The reader's life (UP, RECONNECTING, stopped) is the one both Redis backends share
(``_broadcast_reader.Reader``); here is what it means for pub/sub:

- UP: ``subscribe``/``unsubscribe`` send SUBSCRIBE/UNSUBSCRIBE on the connection.
- The connection fails (Redis restarted, the connection was killed, the network broke):
  the reader logs it once and goes RECONNECTING. Subscribers are not disturbed: their
  iteration simply waits, and goes on once the connection is back.
- RECONNECTING: attempts at once, then with backoff (``reconnect_initial`` to
  ``reconnect_max`` seconds, jittered). An attempt checks Redis with a PING, opens a new
  pub/sub connection and subscribes to every wanted channel;
  ``subscribe``/``unsubscribe`` meanwhile only change the wanted set, and what changed
  during the attempt is reconciled right after it. Then UP again.
- ``publish`` while RECONNECTING raises ``BroadcastError`` at once, naming the outage
  (the caller decides: tell the user, retry later); while UP a failed PUBLISH is tried
  once more on a new connection, then raises ``BroadcastError``.
- ``disconnect`` stops the reader by closing its pub/sub connection under it (the
  blocked read raises, the reader sees it is stopping), not by cancelling it.

Redis pub/sub does not keep messages: what was published while this process was
disconnected is not delivered to it (use a Redis stream if every message matters).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from vivace.web._broadcast import BroadcastError, Deliver
from vivace.web._broadcast_reader import (
    Reader,
    close_clients,
    is_connection_error,
    make_client,
    safe_url,
)

__all__ = ["RedisBackend"]


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
        self.url = url
        self.prefix = prefix
        self._reader = Reader(
            name="vivace-broadcast-redis",
            what="Redis broadcast",
            read=self._read,
            recover=self._resubscribe,
            interrupt=self._interrupt,
            count=lambda: len(self._channels),
            reconnect_initial=reconnect_initial,
            reconnect_max=reconnect_max,
        )
        self._client: Any = None  # publishes
        self._sub_client: Any = None  # makes the pub/sub connections
        self._pubsub: Any = None
        self._deliver: Deliver | None = None
        self._channels: set[str] = set()
        self._wanted = asyncio.Event()
        self._lost: BaseException | None = None  # found by subscribe: reconnect now

    @property
    def is_up(self) -> bool:
        """Connected (False while reconnecting, and before ``connect``)."""
        return self._reader.is_up

    @property
    def reconnects(self) -> int:
        """Completed reconnections (for monitoring and tests)."""
        return self._reader.reconnects

    async def connect(self, deliver: Deliver, fail: Callable[[BroadcastError], None]) -> None:
        self._deliver = deliver
        # One quick retry for a publish on a pooled connection that died while idle; the
        # pub/sub connection gets none: the reader reconnects it, with backoff.
        self._client = make_client(self.url, 1)
        self._sub_client = make_client(self.url, 0)
        try:
            await self._client.ping()
        except Exception as exc:
            await self._close_clients()
            raise BroadcastError(f"cannot connect to Redis at {safe_url(self.url)}: {exc}") from exc
        self._pubsub = self._sub_client.pubsub(ignore_subscribe_messages=True)
        self._reader.start()

    async def _close_clients(self) -> None:
        await close_clients(self._client, self._sub_client)
        self._client = self._sub_client = None

    async def disconnect(self) -> None:
        await self._reader.stop(timeout=15.0)
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _close_quietly(pubsub)
        await self._close_clients()
        self._channels.clear()

    async def subscribe(self, channel: str) -> None:
        if self._reader.task is None:
            raise BroadcastError("the broadcast is not connected")
        self._channels.add(channel)
        if self._reader.down is None:
            try:
                await self._pubsub.subscribe(self.prefix + channel)
            except Exception as exc:
                if not is_connection_error(exc):
                    self._channels.discard(channel)
                    raise BroadcastError(f"cannot subscribe to {channel!r}: {exc}") from exc
                # The connection is gone: the reader reconnects and resubscribes every
                # wanted channel, this one included.
                self._lost = exc
        self._wanted.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._reader.down is None and self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(self.prefix + channel)
            except Exception as exc:
                if not is_connection_error(exc):
                    raise BroadcastError(f"cannot unsubscribe from {channel!r}: {exc}") from exc
                # Gone with the connection anyway; a reconnection subscribes only
                # to the channels still wanted.

    async def publish(self, channel: str, message: str) -> None:
        down = self._reader.down
        if down is not None:
            since = time.monotonic() - self._reader.down_since
            raise BroadcastError(
                f"cannot publish to {channel!r}: the connection to Redis at "
                f"{safe_url(self.url)} is down (reconnecting for {since:.1f} s): {down}"
            )
        try:
            await self._client.publish(self.prefix + channel, message)
        except Exception as exc:
            raise BroadcastError(
                f"cannot publish to {channel!r} on Redis at {safe_url(self.url)}: {exc}"
            ) from exc

    # -- the reader's steps (_broadcast_reader.Reader runs them) ----------------------------

    async def _read(self) -> None:
        pubsub = self._pubsub
        skip = len(self.prefix)
        deliver = self._deliver
        assert deliver is not None
        reader = self._reader
        while not reader.stopping:
            lost = self._lost
            if lost is not None:
                self._lost = None
                raise lost
            if not pubsub.subscribed:
                # Nothing to read until a subscribe went through on this connection (or
                # failed and asks for a reconnection, or the reader is stopping).
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

    async def _interrupt(self) -> None:
        # An idle reader waits for a subscription; a reading one is blocked in redis-py
        # until the server sends something: closing the connection under it ends that
        # read at once, whether Redis is reachable or not.
        self._wanted.set()
        pubsub = self._pubsub
        if pubsub is not None and pubsub.connection is not None:
            await pubsub.connection.disconnect()

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
        # From here subscribe/unsubscribe use the new connection themselves.
        self._reader.mark_up()
        if old is not None:
            await _close_quietly(old)
        # What subscribe/unsubscribe changed while this attempt ran.
        added = self._channels - wanted
        if added:
            await pubsub.subscribe(*(self.prefix + c for c in added))
        removed = wanted - self._channels
        if removed:
            await pubsub.unsubscribe(*(self.prefix + c for c in removed))


async def _close_quietly(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # its connection is already broken: nothing more to close
        pass
