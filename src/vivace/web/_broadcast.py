"""``Broadcast``: publish/subscribe on named channels, in one process or across many.

::

    broadcast = Broadcast("redis://127.0.0.1:6379")    # or "memory://"
    async with broadcast:                               # connect (in the app's lifespan)
        async with broadcast.subscribe("room:1") as subscriber:
            await broadcast.publish("room:1", "hello")
            async for event in subscriber:              # event.channel, event.message
                ...

Theory of operation
-------------------
``Broadcast`` keeps the local subscribers, per channel, whatever the backend; a backend
only moves ``(channel, message)`` pairs between processes and hands each one back to
``Broadcast._deliver``, which puts it in every local subscriber's queue:

- ``memory://``: ``publish`` delivers at once, in this process only;
- ``redis://``: ``publish`` is a Redis ``PUBLISH``; one Redis connection per process
  subscribes to the channels that have local subscribers (``SUBSCRIBE`` on the first,
  ``UNSUBSCRIBE`` after the last) and a reader task delivers what comes in. A message
  published in one worker process or host reaches the subscribers of every other.

Delivery never waits for a subscriber: each has a queue of ``max_queue`` events. One
that falls that far behind (a client that stopped reading) is cut off: its iteration
raises ``SubscriberLagged``, and the others go on. The Redis backend rides out a lost
connection by itself (it reconnects with backoff and resubscribes: subscribers just wait;
``publish`` meanwhile raises ``BroadcastError``); a backend that fails for good, and
``disconnect()``, end every subscriber's iteration with ``BroadcastError``.

Messages are ``str`` (JSON text, typically). Channel names are strings; a ``prefix`` (for
Redis: default ``"vivace:"``) keeps one application's channels apart from another's on
a shared server.

History and replay: the backends that keep messages (``redis+streams://``: Redis
Streams; ``postgresql://``: a table and LISTEN/NOTIFY) give every event an ``id`` and
``publish`` returns it. ``subscribe(channel, last_event_id=id)`` first delivers what
was published after ``id`` (as far back as the backend keeps), then the live events,
none twice: live events that arrive while the history is read wait behind it. This is
what a server-sent events client reconnecting with ``Last-Event-ID`` needs. An id that
the backend cannot read (a hand-made header) replays nothing. Those backends also
resume from where they were after losing their connection, so a subscriber misses
nothing the backend still holds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from vivace.web._exceptions import WebError

__all__ = [
    "Broadcast",
    "BroadcastBackend",
    "BroadcastError",
    "BroadcastEvent",
    "Deliver",
    "MemoryBackend",
    "ReplayBackend",
    "Subscriber",
    "SubscriberLagged",
]


class BroadcastError(WebError):
    """The broadcast backend failed (or the broadcast is not connected)."""


class SubscriberLagged(BroadcastError):
    """This subscriber fell ``max_queue`` events behind and was cut off."""


class BroadcastEvent:
    """A message received on a channel; ``id`` is the backend's event id (None for the
    backends that keep no history)."""

    __slots__ = ("channel", "id", "message")

    def __init__(self, channel: str, message: str, id: str | None = None) -> None:
        self.channel = channel
        self.message = message
        self.id = id

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BroadcastEvent)
            and other.channel == self.channel
            and other.message == self.message
            and other.id == self.id
        )

    def __hash__(self) -> int:
        return hash((self.channel, self.message, self.id))

    def __repr__(self) -> str:
        extra = "" if self.id is None else f", id={self.id!r}"
        return f"BroadcastEvent(channel={self.channel!r}, message={self.message!r}{extra})"


class Subscriber:
    """What ``broadcast.subscribe(...)`` yields: iterate it for events.

    ``get()`` waits for one event; ``async for`` iterates until the subscription ends.
    """

    __slots__ = ("_error", "_held", "_max_queue", "_queue", "_waiter", "channels")

    def __init__(self, channels: tuple[str, ...], max_queue: int) -> None:
        self.channels = channels
        self._queue: deque[BroadcastEvent] = deque()
        self._max_queue = max_queue
        self._waiter: asyncio.Future[None] | None = None
        self._error: BroadcastError | None = None
        # Live events that arrive while the history is read (None: not replaying).
        self._held: list[BroadcastEvent] | None = None

    def _replay(
        self, history: list[BroadcastEvent], newer: Callable[[BroadcastEvent], bool]
    ) -> None:
        """Queue ``history``, then the live events held meanwhile that it does not hold
        and that ``newer`` accepts (the client saw the others)."""
        held, self._held = self._held or [], None
        # An id is unique within its channel (Redis Streams: per stream).
        seen = {(event.channel, event.id) for event in history}
        for event in history:
            self._put(event)
        for event in held:
            if (event.channel, event.id) not in seen and newer(event):
                self._put(event)

    def _put(self, event: BroadcastEvent) -> None:
        if self._error is not None:
            return
        held = self._held
        if held is not None:
            if len(held) >= self._max_queue:
                self._fail(SubscriberLagged(f"subscriber fell {self._max_queue} events behind"))
            else:
                held.append(event)
            return
        queue = self._queue
        if len(queue) >= self._max_queue:
            self._fail(SubscriberLagged(f"subscriber fell {self._max_queue} events behind"))
            return
        queue.append(event)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _fail(self, error: BroadcastError) -> None:
        if self._error is None:
            self._error = error
            self._queue.clear()
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def get(self) -> BroadcastEvent:
        """The next event (waits for one)."""
        queue = self._queue
        while not queue:
            if self._error is not None:
                raise self._error
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        return queue.popleft()

    def __aiter__(self) -> AsyncIterator[BroadcastEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BroadcastEvent]:
        while True:
            yield await self.get()


Deliver = Callable[[str, str, "str | None"], None]


class BroadcastBackend(Protocol):
    """What a backend does: move messages between processes (see the module docstring)."""

    async def connect(self, deliver: Deliver, fail: Callable[[BroadcastError], None]) -> None:
        """Start; call ``deliver(channel, message, event_id)`` for each message that comes
        in (``event_id`` None without history), and ``fail(error)`` if the backend breaks
        for good."""

    async def disconnect(self) -> None: ...

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    async def publish(self, channel: str, message: str) -> str | None:
        """Send; returns the event's id (None without history)."""


@runtime_checkable
class ReplayBackend(BroadcastBackend, Protocol):
    """A backend that keeps messages: events have ids, and what followed an id can be read."""

    def event_key(self, event_id: str) -> tuple[int, ...] | None:
        """The sort key of an id (ids of one channel order as their events); None when
        ``event_id`` is not one of this backend's ids."""

    async def history(self, channel: str, after: str) -> list[tuple[str, str]]:
        """``(id, message)`` of the events of ``channel`` published after ``after``, oldest
        first (at most the backend's replay limit: the most recent ones)."""


class MemoryBackend:
    """In-process delivery only (one worker, tests)."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def connect(self, deliver: Deliver, fail: Callable[[BroadcastError], None]) -> None:
        self._deliver = deliver

    async def disconnect(self) -> None:
        self._deliver = None

    async def subscribe(self, channel: str) -> None:
        pass

    async def unsubscribe(self, channel: str) -> None:
        pass

    async def publish(self, channel: str, message: str) -> None:
        assert self._deliver is not None, "Broadcast checks that it is connected"
        self._deliver(channel, message, None)


class Broadcast:
    """Publish and subscribe on channels (see the module docstring).

    >>> import asyncio
    >>> async def main():
    ...     async with Broadcast("memory://") as broadcast:
    ...         async with broadcast.subscribe("news") as subscriber:
    ...             await broadcast.publish("news", "vivace 1.0 is out")
    ...             event = await subscriber.get()
    ...             return event.channel, event.message
    >>> asyncio.run(main())
    ('news', 'vivace 1.0 is out')

    ``url`` is ``memory://``; ``redis://host:port/db`` (``rediss://`` for TLS; needs
    ``pip install 'vivace[redis]'``) for Redis pub/sub; ``redis+streams://host:port/db``
    (``rediss+streams://``) for Redis Streams with history; a PostgreSQL URL
    (``postgresql://user@host/db``; needs ``pip install 'vivace[postgres]'``) for
    LISTEN/NOTIFY with history in a table; or pass ``backend=``. ``max_queue`` bounds
    each subscriber's backlog.
    """

    def __init__(
        self,
        url: str = "memory://",
        *,
        backend: BroadcastBackend | None = None,
        prefix: str | None = None,
        max_queue: int = 1024,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        if backend is None:
            scheme, _, rest = url.partition("://")
            scheme = scheme.lower()
            chosen = "vivace:" if prefix is None else prefix
            if scheme == "memory":
                backend = MemoryBackend()
            elif scheme in ("redis", "rediss", "unix"):
                from vivace.web._broadcast_redis import RedisBackend

                backend = RedisBackend(url, prefix=chosen)
            elif scheme in ("redis+streams", "rediss+streams"):
                from vivace.web._broadcast_streams import StreamsBackend

                plain = scheme.partition("+")[0]
                backend = StreamsBackend(f"{plain}://{rest}", prefix=chosen)
            elif scheme.partition("+")[0] in ("postgresql", "postgres"):
                from vivace.web._broadcast_postgres import PostgresBackend

                backend = PostgresBackend(url, prefix=chosen)
            else:
                raise ValueError(
                    f"unsupported broadcast URL {scheme!r}://...: use memory://, redis://, "
                    "redis+streams:// or postgresql://"
                )
        self.backend = backend
        self.max_queue = max_queue
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._connected = False
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        """Connect the backend (in the app's lifespan start-up)."""
        if not self._connected:
            await self.backend.connect(self._deliver, self._fail_all)
            self._connected = True

    async def disconnect(self) -> None:
        """Disconnect; subscribers still iterating get ``BroadcastError``."""
        if self._connected:
            self._connected = False
            self._fail_all(BroadcastError("the broadcast was disconnected"))
            await self.backend.disconnect()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    def _check(self) -> None:
        if not self._connected:
            raise BroadcastError("the broadcast is not connected: use 'async with broadcast'")

    async def publish(self, channel: str, message: str) -> str | None:
        """Send ``message`` to every subscriber of ``channel``, in every process; returns
        the event's id (None for the backends without history)."""
        self._check()
        if not isinstance(message, str):
            raise TypeError(f"broadcast messages are str, not {type(message).__name__}")
        return await self.backend.publish(channel, message)

    @asynccontextmanager
    async def subscribe(
        self, *channels: str, last_event_id: str | None = None
    ) -> AsyncIterator[Subscriber]:
        """Subscribe to one or more channels for the duration of the block.

        With ``last_event_id`` (a backend with history), the events published after it
        come first (see the module docstring).
        """
        self._check()
        if not channels:
            raise ValueError("subscribe to at least one channel")
        subscriber = Subscriber(channels, self.max_queue)
        backend = self.backend
        after: tuple[int, ...] | None = None
        if last_event_id is not None and isinstance(backend, ReplayBackend):
            after = backend.event_key(last_event_id)
            if after is not None:
                subscriber._held = []
        added: list[str] = []
        try:
            for channel in channels:
                async with self._lock:
                    local = self._subscribers.get(channel)
                    if local is None:
                        await backend.subscribe(channel)
                        local = self._subscribers[channel] = set()
                    local.add(subscriber)
                    added.append(channel)
            if after is not None:
                assert last_event_id is not None
                await self._replay(subscriber, last_event_id, after)
            yield subscriber
        finally:
            for channel in added:
                await self._leave(channel, subscriber)

    async def _replay(
        self, subscriber: Subscriber, last_event_id: str, after: tuple[int, ...]
    ) -> None:
        backend = self.backend
        assert isinstance(backend, ReplayBackend)
        history: list[BroadcastEvent] = []
        for channel in subscriber.channels:
            for event_id, message in await backend.history(channel, last_event_id):
                history.append(BroadcastEvent(channel, message, event_id))
        if len(subscriber.channels) > 1:
            history.sort(key=lambda event: backend.event_key(event.id or "") or ())

        def newer(event: BroadcastEvent) -> bool:
            key = backend.event_key(event.id) if event.id is not None else None
            return key is None or key > after

        subscriber._replay(history, newer)

    async def _leave(self, channel: str, subscriber: Subscriber) -> None:
        async with self._lock:
            local = self._subscribers.get(channel)
            if local is None:
                return
            local.discard(subscriber)
            if not local:
                del self._subscribers[channel]
                if self._connected:
                    await self.backend.unsubscribe(channel)

    def _deliver(self, channel: str, message: str, event_id: str | None = None) -> None:
        """Called by the backend for each message: fan it out to local subscribers."""
        local = self._subscribers.get(channel)
        if local:
            event = BroadcastEvent(channel, message, event_id)
            for subscriber in tuple(local):
                subscriber._put(event)

    def _fail_all(self, error: BroadcastError) -> None:
        for local in self._subscribers.values():
            for subscriber in local:
                subscriber._fail(error)

    def subscriber_count(self, channel: str) -> int:
        """How many subscribers this process has on ``channel``."""
        return len(self._subscribers.get(channel, ()))
