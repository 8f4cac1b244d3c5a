"""The PostgreSQL backend of ``Broadcast``: LISTEN/NOTIFY for delivery, a table for history.

Needs vivace.db with asyncpg (``pip install 'vivace[postgres]'``), imported here only:
the one place vivace.web uses the database layer (DESIGN.md's import rule).

Theory of operation.

- ``publish`` runs one transaction: take a per-channel advisory lock
  (``pg_advisory_xact_lock``), insert the message into the history table
  (``id BIGSERIAL``: the event id), ``pg_notify`` the channel with ``"<id>:<message>"``,
  commit. The lock makes ids of one channel commit in id order, so "everything after id
  N" is a well-defined replay (without it, a smaller id could commit after a larger one
  that a client has already seen). PostgreSQL delivers notifications at commit, in
  commit order, to every session that LISTENs to the channel.
- A NOTIFY payload holds at most 8000 bytes: a bigger message is announced as ``"<id>"``
  alone and the listener reads it from the table.
- One listener task per process holds a pinned connection (``db.connection()``) and
  LISTENs to the channels that have local subscribers. PostgreSQL channel names are
  identifiers (63 bytes at most), so a broadcast channel ``c`` is LISTENed to as
  ``vb_`` + the SHA-1 of ``prefix + c``; the payload's channel is known from that map.
  Notifications go through one queue, handled in order by the listener task.
- The last id delivered per channel is kept. If the listening connection is lost
  (server restart, ``pg_terminate_backend``, network), the task reconnects with backoff,
  LISTENs again and reads from the table what each channel got meanwhile: nothing is
  lost as long as the table holds it. Notifications that repeat an id already delivered
  are dropped.
- ``history(channel, after)`` reads the table; it keeps the last ``history`` messages of
  each channel (trimmed on publish, every ``trim_every`` publishes per process).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

from vivace.db import Database, DatabaseError, create_if_absent
from vivace.web._broadcast import BroadcastError, Deliver

__all__ = ["PostgresBackend"]

logger = logging.getLogger("vivace.web.broadcast")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# NOTIFY's payload limit is 8000 bytes; leave room for the id and the colon.
_MAX_PAYLOAD = 7900


class PostgresBackend:
    """Broadcast over PostgreSQL (see the module docstring).

    ``PostgresBackend("postgresql://...")`` (the backend opens its own small pool) or
    ``PostgresBackend(database=db)`` to share an app's ``vivace.db.Database``. ``table``
    holds the history (created if missing); ``history``: messages kept per channel;
    ``max_replay``: events replayed to one reconnecting subscriber at most.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        database: Database | None = None,
        prefix: str = "vivace:",
        table: str = "vivace_broadcast",
        history: int = 1000,
        max_replay: int = 1000,
        trim_every: int = 100,
        reconnect_initial: float = 0.1,
        reconnect_max: float = 5.0,
    ) -> None:
        if (url is None) == (database is None):
            raise ValueError("PostgresBackend takes either a URL or a database")
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"table must be a plain SQL identifier: {table!r}")
        if history < 1 or max_replay < 1 or trim_every < 1:
            raise ValueError("history, max_replay and trim_every must be at least 1")
        if reconnect_initial <= 0 or reconnect_max < reconnect_initial:
            raise ValueError("need 0 < reconnect_initial <= reconnect_max")
        self._db = database if database is not None else Database(url or "", max_size=4)
        if self._db.url.backend != "postgresql":
            raise ValueError("the PostgreSQL broadcast backend needs a PostgreSQL database")
        self.prefix = prefix
        self.table = table
        self.history_size = history
        self.max_replay = max_replay
        self.trim_every = trim_every
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self._deliver: Deliver | None = None
        self._listener: asyncio.Task[None] | None = None
        self._raw: Any = None  # the asyncpg connection that LISTENs, while up
        self._lock = asyncio.Lock()  # one user of the raw connection at a time
        self._channels: dict[str, str] = {}  # pg channel -> broadcast channel
        self._last: dict[str, int] = {}  # broadcast channel -> last id delivered
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._lost = asyncio.Event()
        self._publishes = 0
        self._down_since = 0.0
        self.reconnects = 0

    @property
    def database(self) -> Database:
        return self._db

    @property
    def is_up(self) -> bool:
        return self._raw is not None

    def _pg_channel(self, channel: str) -> str:
        return "vb_" + hashlib.sha1((self.prefix + channel).encode("utf-8")).hexdigest()

    def _lock_key(self, channel: str) -> int:
        digest = hashlib.sha1(b"vivace.broadcast:" + (self.prefix + channel).encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def event_key(self, event_id: str) -> tuple[int, ...] | None:
        if not (event_id.isascii() and event_id.isdigit()) or len(event_id) > 19:
            return None
        return (int(event_id),)

    # -- life cycle ------------------------------------------------------------------------

    async def connect(self, deliver: Deliver, fail: Callable[[BroadcastError], None]) -> None:
        self._deliver = deliver
        t = self.table
        try:
            await self._db.connect()
            # Two processes starting together may both run these (create_if_absent).
            await create_if_absent(
                self._db,
                (
                    f"CREATE TABLE IF NOT EXISTS {t} (id BIGSERIAL PRIMARY KEY, "
                    "channel TEXT NOT NULL, message TEXT NOT NULL, "
                    "created TIMESTAMPTZ NOT NULL DEFAULT now())",
                    f"CREATE INDEX IF NOT EXISTS {t}_channel ON {t} (channel, id)",
                ),
            )
        except DatabaseError as exc:
            raise BroadcastError(f"cannot connect to PostgreSQL at {self._db.url}: {exc}") from exc
        ready = asyncio.get_running_loop().create_future()
        self._listener = asyncio.get_running_loop().create_task(
            self._run(ready), name="vivace-broadcast-postgres"
        )
        await ready

    async def disconnect(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.wait({listener})
        self._channels.clear()
        self._last.clear()
        await self._db.disconnect()

    async def subscribe(self, channel: str) -> None:
        if self._listener is None:
            raise BroadcastError("the broadcast is not connected")
        pg_channel = self._pg_channel(channel)
        try:
            last = await self._db.fetch_val(
                f"SELECT coalesce(max(id), 0) FROM {self.table} WHERE channel = :c",
                {"c": channel},
            )
        except DatabaseError as exc:
            raise BroadcastError(f"cannot subscribe to {channel!r}: {exc}") from exc
        self._last[channel] = int(last)
        self._channels[pg_channel] = channel
        async with self._lock:
            raw = self._raw
            if raw is not None:
                try:
                    await raw.add_listener(pg_channel, self._notified)
                except Exception as exc:  # the connection broke: the reconnection LISTENs
                    logger.debug("LISTEN %s failed (%s); it is done on reconnection", channel, exc)

    async def unsubscribe(self, channel: str) -> None:
        pg_channel = self._pg_channel(channel)
        self._channels.pop(pg_channel, None)
        self._last.pop(channel, None)
        async with self._lock:
            raw = self._raw
            if raw is not None:
                try:
                    await raw.remove_listener(pg_channel, self._notified)
                except Exception:  # the connection broke: nothing is listened to anyway
                    pass

    async def publish(self, channel: str, message: str) -> str:
        t = self.table
        try:
            async with self._db.transaction():
                await self._db.execute(
                    "SELECT pg_advisory_xact_lock(:k)", {"k": self._lock_key(channel)}
                )
                event_id = await self._db.fetch_val(
                    f"INSERT INTO {t} (channel, message) VALUES (:c, :m) RETURNING id",
                    {"c": channel, "m": message},
                )
                payload = f"{event_id}:{message}"
                if len(payload.encode("utf-8")) > _MAX_PAYLOAD:
                    payload = str(event_id)  # the listeners read it from the table
                await self._db.execute(
                    "SELECT pg_notify(:n, :p)", {"n": self._pg_channel(channel), "p": payload}
                )
            self._publishes += 1
            if self._publishes % self.trim_every == 0:
                await self._trim(channel)
        except DatabaseError as exc:
            raise BroadcastError(f"cannot publish to {channel!r}: {exc}") from exc
        return str(event_id)

    async def _trim(self, channel: str) -> None:
        t = self.table
        await self._db.execute(
            f"DELETE FROM {t} WHERE channel = :c AND id <= (SELECT id FROM {t} "
            "WHERE channel = :c ORDER BY id DESC OFFSET :keep LIMIT 1)",
            {"c": channel, "keep": self.history_size},
        )

    async def history(self, channel: str, after: str) -> list[tuple[str, str]]:
        key = self.event_key(after)
        if key is None:
            return []
        return await self._since(channel, key[0], self.max_replay)

    async def _since(self, channel: str, after: int, limit: int) -> list[tuple[str, str]]:
        t = self.table
        try:
            rows = await self._db.fetch_all(
                f"SELECT id, message FROM (SELECT id, message FROM {t} WHERE channel = :c "
                "AND id > :after ORDER BY id DESC LIMIT :n) recent ORDER BY id",
                {"c": channel, "after": after, "n": limit},
            )
        except DatabaseError as exc:
            raise BroadcastError(f"cannot read the history of {channel!r}: {exc}") from exc
        return [(str(row[0]), str(row[1])) for row in rows]

    # -- the listener ----------------------------------------------------------------------

    def _notified(self, connection: Any, pid: int, pg_channel: str, payload: str) -> None:
        # asyncpg calls this on the loop for each notification: hand it to the task.
        self._queue.put_nowait((pg_channel, payload))

    def _terminated(self, connection: Any) -> None:
        self._lost.set()

    async def _run(self, ready: asyncio.Future[None]) -> None:
        delay = self.reconnect_initial
        attempt = 0
        while True:
            try:
                async with self._db.connection() as conn:
                    raw = conn.raw_connection
                    self._lost.clear()
                    raw.add_termination_listener(self._terminated)
                    async with self._lock:
                        for pg_channel in list(self._channels):
                            await raw.add_listener(pg_channel, self._notified)
                        self._raw = raw
                    if attempt:
                        await self._catch_up()
                        logger.warning(
                            "the PostgreSQL broadcast reconnected after %.1f s, %d channel(s) "
                            "resumed",
                            time.monotonic() - self._down_since,
                            len(self._channels),
                        )
                        self.reconnects += 1
                    if not ready.done():
                        ready.set_result(None)
                    delay = self.reconnect_initial
                    await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not ready.done():
                    ready.set_exception(BroadcastError(f"cannot LISTEN on PostgreSQL: {exc}"))
                    return
                if self._raw is not None or attempt == 0:
                    self._down_since = time.monotonic()
                    logger.warning(
                        "the PostgreSQL broadcast connection failed (%s); reconnecting", exc
                    )
            finally:
                self._raw = None
            attempt += 1
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, self.reconnect_max)

    async def _listen(self) -> None:
        """Handle notifications in order until the connection is lost."""
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            while True:
                get = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait({get, lost}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    raise ConnectionError("the LISTEN connection was terminated")
                pg_channel, payload = get.result()
                await self._handle(pg_channel, payload)
        finally:
            lost.cancel()

    async def _handle(self, pg_channel: str, payload: str) -> None:
        channel = self._channels.get(pg_channel)
        if channel is None:
            return
        head, sep, message = payload.partition(":")
        if not (head.isascii() and head.isdigit()):
            return  # not ours
        event_id = int(head)
        last = self._last.get(channel, 0)
        if event_id <= last:
            return  # already delivered (by a catch-up after a reconnection)
        if not sep:
            # This task's queries run on the LISTEN connection (it is pinned to the task):
            # one user at a time, with subscribe's LISTEN.
            async with self._lock:
                rows = await self._db.fetch_all(
                    f"SELECT message FROM {self.table} WHERE id = :id", {"id": event_id}
                )
            if not rows:
                return  # trimmed already
            message = str(rows[0][0])
        self._last[channel] = event_id
        assert self._deliver is not None
        self._deliver(channel, message, str(event_id))

    async def _catch_up(self) -> None:
        """After a reconnection: deliver what each channel got while we were away."""
        assert self._deliver is not None
        for channel, last in list(self._last.items()):
            async with self._lock:  # on the LISTEN connection: see _handle
                missed = await self._since(channel, last, self.max_replay)
            for event_id, message in missed:
                if channel in self._last and int(event_id) > self._last[channel]:
                    self._last[channel] = int(event_id)
                    self._deliver(channel, message, event_id)
