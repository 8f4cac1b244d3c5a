"""The Redis Streams backend of ``Broadcast``: messages kept, replayed, never lost in a
reconnection.

Needs the ``redis`` package (``pip install 'vivace[redis]'``), imported here only.

Theory of operation. Each channel is a stream (``prefix + channel``); ``publish`` is
``XADD ... MAXLEN ~ history`` (Redis trims to about ``history`` entries) and returns the
entry id (``<ms>-<seq>``), which is the event id. Unlike pub/sub, a stream keeps what
was published, so:

- one reader task per process runs ``XREAD BLOCK`` over the streams of the subscribed
  channels, each from the last id it delivered (``_positions``). A channel subscribed
  anew starts at the stream's last id at that moment (``XREVRANGE + - COUNT 1``), so
  nothing published after ``subscribe`` returns is missed;
- a lost connection is retried with backoff (``reconnect_initial`` to ``reconnect_max``
  seconds, jittered); the next ``XREAD`` resumes from the same positions, so what was
  published meanwhile is delivered then (as long as the stream still holds it);
- ``history(channel, after)`` is ``XREVRANGE key + (after COUNT max_replay``, reversed:
  the most recent events after ``after``, oldest first.

A subscription must interrupt a blocking ``XREAD`` to add its stream: each process has a
private wake-up stream (``prefix + "~wake:" + a random id``, expiring after an hour
without use) that the reader always reads, and ``subscribe`` adds an entry to it. The
reader tracks the wake-up stream's position like the others, so a wake-up sent just
before the ``XREAD`` is not missed.

Event ids order by time across channels (they are Redis' own clock), so one
``last_event_id`` replays several channels consistently; two channels can hold the same
id, so an event is identified by its channel and id together.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from vivace.web._broadcast import BroadcastError, Deliver
from vivace.web._broadcast_redis import _is_connection_error, _redis, _safe_url

__all__ = ["StreamsBackend"]

logger = logging.getLogger("vivace.web.broadcast")

_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_WAKE_TTL = 3600


class StreamsBackend:
    """Broadcast over Redis Streams (see the module docstring).

    ``history``: entries kept per channel (approximately: Redis trims in whole nodes);
    ``max_replay``: events replayed to one reconnecting subscriber at most; ``block``:
    seconds one ``XREAD`` waits before it is sent again (a liveness check).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "vivace:",
        history: int = 1000,
        max_replay: int = 1000,
        block: float = 5.0,
        reconnect_initial: float = 0.1,
        reconnect_max: float = 5.0,
    ) -> None:
        if history < 1 or max_replay < 1:
            raise ValueError("history and max_replay must be at least 1")
        if reconnect_initial <= 0 or reconnect_max < reconnect_initial:
            raise ValueError("need 0 < reconnect_initial <= reconnect_max")
        self.url = url
        self.prefix = prefix
        self.history_size = history
        self.max_replay = max_replay
        self.block = block
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self._client: Any = None  # publish, history, wake-ups
        self._reader_client: Any = None  # the blocking XREAD
        self._deliver: Deliver | None = None
        self._reader: asyncio.Task[None] | None = None
        self._positions: dict[str, bytes] = {}
        self._wake_key = ""
        self._wake_position = b"0-0"
        self._down: BaseException | None = None
        self._down_since = 0.0
        self._delay = reconnect_initial
        self._stopping = False
        self.reconnects = 0

    @property
    def is_up(self) -> bool:
        return self._reader is not None and self._down is None

    @property
    def reader_name(self) -> str:
        """The Redis client name of this process' reading connection."""
        return "vivace-broadcast-" + self._wake_key.rpartition(":")[2]

    def event_key(self, event_id: str) -> tuple[int, ...] | None:
        match = _ID.fullmatch(event_id)
        return None if match is None else (int(match.group(1)), int(match.group(2)))

    async def connect(self, deliver: Deliver, fail: Callable[[BroadcastError], None]) -> None:
        redis = _redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._deliver = deliver
        self._client = redis.Redis.from_url(
            self.url, socket_connect_timeout=5.0, retry=Retry(NoBackoff(), 1)
        )
        # The reader retries by itself, with backoff: redis-py must not (its retry would
        # also re-send an XREAD interrupted by cancellation, and never stop). Reads time
        # out after 5 s by default: longer than a blocking XREAD here.
        self._wake_key = f"{self.prefix}~wake:{uuid.uuid4().hex}"
        self._reader_client = redis.Redis.from_url(
            self.url,
            socket_connect_timeout=5.0,
            socket_timeout=self.block + 10.0,
            retry=Retry(NoBackoff(), 0),
            client_name=self.reader_name,  # CLIENT LIST shows which connection reads
        )
        try:
            await self._client.ping()
        except Exception as exc:
            await self._close_clients()
            raise BroadcastError(
                f"cannot connect to Redis at {_safe_url(self.url)}: {exc}"
            ) from exc
        self._wake_position = b"0-0"
        self._down = None
        self._reader = asyncio.get_running_loop().create_task(
            self._run(), name="vivace-broadcast-streams"
        )

    async def _close_clients(self) -> None:
        for client in (self._client, self._reader_client):
            if client is not None:
                await client.aclose()
        self._client = self._reader_client = None

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            # Stop the reader by waking it, not by cancelling it: a cancellation that
            # lands inside redis-py's blocking read is not reliably propagated (the read
            # can be sent again). Cancel only a reader that does not come back.
            self._stopping = True
            await self._wake()
            done, _ = await asyncio.wait({reader}, timeout=self.block + 1)
            if not done:  # pragma: no cover - a reader stuck on a dead connection
                reader.cancel()
                await asyncio.wait({reader}, timeout=5)
            self._stopping = False
        if self._client is not None:
            try:
                await self._client.delete(self._wake_key)
            except Exception:  # the server is gone: the key expires by itself
                pass
        await self._close_clients()
        self._positions.clear()
        self._down = None

    async def subscribe(self, channel: str) -> None:
        if self._reader is None:
            raise BroadcastError("the broadcast is not connected")
        key = self.prefix + channel
        try:
            last = await self._client.xrevrange(key, "+", "-", count=1)
        except Exception as exc:
            raise BroadcastError(f"cannot subscribe to {channel!r}: {exc}") from exc
        self._positions[channel] = last[0][0] if last else b"0-0"
        await self._wake()

    async def unsubscribe(self, channel: str) -> None:
        # The reader drops the stream from its next XREAD; what it already read for the
        # channel finds no local subscriber and is discarded.
        self._positions.pop(channel, None)

    async def _wake(self) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": "1"}, maxlen=16, approximate=False)
                pipe.expire(self._wake_key, _WAKE_TTL)
                await pipe.execute()
        except Exception as exc:
            if not _is_connection_error(exc):
                raise BroadcastError(f"cannot reach Redis: {exc}") from exc
            # Down: the reader's own retry reads every position anyway.

    async def publish(self, channel: str, message: str) -> str:
        try:
            entry_id = await self._client.xadd(
                self.prefix + channel, {"m": message}, maxlen=self.history_size, approximate=True
            )
        except Exception as exc:
            raise BroadcastError(
                f"cannot publish to {channel!r} on Redis at {_safe_url(self.url)}: {exc}"
            ) from exc
        return str(entry_id.decode("ascii"))

    async def history(self, channel: str, after: str) -> list[tuple[str, str]]:
        if self.event_key(after) is None:
            return []
        try:
            entries = await self._client.xrevrange(
                self.prefix + channel, "+", "(" + after, count=self.max_replay
            )
        except Exception as exc:
            raise BroadcastError(f"cannot read the history of {channel!r}: {exc}") from exc
        out = []
        for entry_id, fields in reversed(entries):
            message = fields.get(b"m")
            if message is not None:
                out.append((entry_id.decode("ascii"), message.decode("utf-8")))
        return out

    # -- the reader ------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopped():
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopped():
                    return
                if self._down is None:
                    self._down_since = time.monotonic()
                    logger.warning(
                        "the Redis Streams broadcast connection failed (%s); reconnecting, "
                        "%d channel(s) to resume",
                        exc,
                        len(self._positions),
                    )
                self._down = exc
                # Equal jitter, so workers that lost Redis together do not retry in step.
                await asyncio.sleep(self._delay * (0.5 + random.random() / 2))
                self._delay = min(self._delay * 2, self.reconnect_max)

    async def _read(self) -> None:
        deliver = self._deliver
        assert deliver is not None
        skip = len(self.prefix)
        block = max(1, int(self.block * 1000))
        while True:
            streams: dict[str, bytes] = {self._wake_key: self._wake_position}
            for channel, position in self._positions.items():
                streams[self.prefix + channel] = position
            result = await self._reader_client.xread(streams, block=block)
            if self._stopped():
                return
            if self._down is not None:
                logger.warning(
                    "the Redis Streams broadcast reconnected after %.1f s, %d channel(s) resumed",
                    time.monotonic() - self._down_since,
                    len(self._positions),
                )
                self._down = None
                self._delay = self.reconnect_initial
                self.reconnects += 1
            for stream, entries in result or ():
                name = stream.decode("utf-8")
                if name == self._wake_key:
                    self._wake_position = entries[-1][0]
                    continue
                channel = name[skip:]
                for entry_id, fields in entries:
                    if channel not in self._positions:
                        break  # unsubscribed meanwhile
                    self._positions[channel] = entry_id
                    message = fields.get(b"m")
                    if message is not None:
                        deliver(channel, message.decode("utf-8"), entry_id.decode("ascii"))

    def _stopped(self) -> bool:
        # A method, not the attribute: another task sets it while this one awaits.
        return self._stopping
