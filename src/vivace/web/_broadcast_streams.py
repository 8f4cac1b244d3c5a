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
- a lost connection is retried as the pub/sub backend's is (``_broadcast_reader.Reader``:
  at once, then with backoff from ``reconnect_initial`` to ``reconnect_max`` seconds,
  jittered); the next ``XREAD`` resumes from the same positions, so what was published
  meanwhile is delivered then (as long as the stream still holds it);
- ``history(channel, after)`` is ``XREVRANGE key + (after COUNT max_replay``, reversed:
  the most recent events after ``after``, oldest first.

A subscription must interrupt a blocking ``XREAD`` to add its stream: each process has a
private wake-up stream (``prefix + "~wake:" + a random id``, expiring after an hour
without use) that the reader always reads, and ``subscribe`` adds an entry to it. The
reader tracks the wake-up stream's position like the others, so a wake-up sent just
before the ``XREAD`` is not missed. ``disconnect`` stops the reader as the pub/sub
backend does: by closing its connection under the blocked ``XREAD``, not by cancelling it.

Event ids are unique and increase across all channels of one prefix, so one
``last_event_id`` replays several channels consistently. Redis' own ids (``XADD *``) would
not do: each stream counts its own sequence within a millisecond, so a first event on
channel b could get the id of the event on channel a that a subscriber last saw, and a
replay "after" that id would skip it. ``publish`` therefore runs ``_PUBLISH`` (one Lua
script, atomic in Redis): the id is Redis' clock in milliseconds, or, when that is not
ahead of the last id given out under the prefix (``prefix + "~last-id"``) or of the
stream's own last entry, that millisecond with the next sequence number. Channel names
starting with "~" are refused: the backend's own keys live there. The script touches two
keys, so on Redis Cluster the prefix needs a hash tag (``"{vivace}:"``) to keep them in
one slot.
"""

from __future__ import annotations

import re
import uuid
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

__all__ = ["StreamsBackend"]

_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_WAKE_TTL = 3600
# KEYS[1]: the channel's stream; KEYS[2]: the last id given out under the prefix.
# ARGV[1]: history (MAXLEN ~); ARGV[2]: the message. Returns the new entry's id.
_PUBLISH = """
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = 0
local function after(last)
  if not last then return end
  local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
  lms, lseq = tonumber(lms), tonumber(lseq)
  if lms > ms or (lms == ms and lseq >= seq) then ms, seq = lms, lseq + 1 end
end
after(redis.call('GET', KEYS[2]))
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] then after(top[1][1]) end
local id = string.format('%d-%d', ms, seq)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id, 'm', ARGV[2])
redis.call('SET', KEYS[2], id)
return id
"""


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
        self.url = url
        self.prefix = prefix
        self.history_size = history
        self.max_replay = max_replay
        self.block = block
        self._reader = Reader(
            name="vivace-broadcast-streams",
            what="Redis Streams broadcast",
            read=self._read,
            recover=self._recover,
            interrupt=self._interrupt,
            count=lambda: len(self._positions),
            reconnect_initial=reconnect_initial,
            reconnect_max=reconnect_max,
        )
        self._client: Any = None  # publish, history, wake-ups
        self._publish: Any = None  # _PUBLISH registered on _client
        self._reader_client: Any = None  # the blocking XREAD
        self._deliver: Deliver | None = None
        self._positions: dict[str, bytes] = {}
        self._wake_key = ""
        self._wake_position = b"0-0"

    @property
    def is_up(self) -> bool:
        return self._reader.is_up

    @property
    def reconnects(self) -> int:
        """Completed reconnections (for monitoring and tests)."""
        return self._reader.reconnects

    @property
    def reader_name(self) -> str:
        """The Redis client name of this process' reading connection."""
        return "vivace-broadcast-" + self._wake_key.rpartition(":")[2]

    def event_key(self, event_id: str) -> tuple[int, ...] | None:
        match = _ID.fullmatch(event_id)
        return None if match is None else (int(match.group(1)), int(match.group(2)))

    async def connect(self, deliver: Deliver, fail: Callable[[BroadcastError], None]) -> None:
        self._deliver = deliver
        self._client = make_client(self.url, 1)
        self._publish = self._client.register_script(_PUBLISH)
        self._wake_key = f"{self.prefix}~wake:{uuid.uuid4().hex}"
        # A read waits up to ``block`` seconds for entries: its timeout is longer.
        self._reader_client = make_client(
            self.url,
            0,
            socket_timeout=self.block + 10.0,
            client_name=self.reader_name,  # CLIENT LIST shows which connection reads
        )
        try:
            await self._client.ping()
        except Exception as exc:
            await self._close_clients()
            raise BroadcastError(f"cannot connect to Redis at {safe_url(self.url)}: {exc}") from exc
        self._wake_position = b"0-0"
        self._reader.start()

    async def _close_clients(self) -> None:
        await close_clients(self._client, self._reader_client)
        self._client = self._reader_client = None

    async def disconnect(self) -> None:
        await self._reader.stop(timeout=self.block + 10.0)
        if self._client is not None:
            try:
                await self._client.delete(self._wake_key)
            except Exception:  # the server is gone: the key expires by itself
                pass
        await self._close_clients()
        self._positions.clear()

    async def subscribe(self, channel: str) -> None:
        if self._reader.task is None:
            raise BroadcastError("the broadcast is not connected")
        _check_channel(channel)
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
            if not is_connection_error(exc):
                raise BroadcastError(f"cannot reach Redis: {exc}") from exc
            # Down: the reader's own retry reads every position anyway.

    async def publish(self, channel: str, message: str) -> str:
        _check_channel(channel)
        try:
            entry_id = await self._publish(
                keys=[self.prefix + channel, self.prefix + "~last-id"],
                args=[self.history_size, message],
                client=self._client,
            )
        except Exception as exc:
            raise BroadcastError(
                f"cannot publish to {channel!r} on Redis at {safe_url(self.url)}: {exc}"
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

    # -- the reader's steps (_broadcast_reader.Reader runs them) ----------------------------

    async def _read(self) -> None:
        deliver = self._deliver
        assert deliver is not None
        skip = len(self.prefix)
        block = max(1, int(self.block * 1000))
        reader = self._reader
        while not reader.stopping:
            streams: dict[str, bytes] = {self._wake_key: self._wake_position}
            for channel, position in self._positions.items():
                streams[self.prefix + channel] = position
            result = await self._reader_client.xread(streams, block=block)
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

    async def _recover(self) -> None:
        # The reading connection is new once this PING went through; the next XREAD
        # resumes from the positions kept.
        await self._reader_client.ping()

    async def _interrupt(self) -> None:
        # Ends a blocked XREAD at once, Redis reachable or not (no retry re-sends it).
        await self._reader_client.connection_pool.disconnect()


def _check_channel(channel: str) -> None:
    # The backend's own keys (the wake-up streams, the last id) live beside the channels'
    # streams under the prefix, behind a "~".
    if channel.startswith("~"):
        raise BroadcastError(
            f"channel {channel!r}: names starting with '~' are the Redis Streams backend's own keys"
        )
