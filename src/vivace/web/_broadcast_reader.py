"""What the two Redis backends of ``Broadcast`` (pub/sub and Streams) share: their clients
and the life of the one reader task each process runs.

Needs the ``redis`` package (``pip install 'vivace[redis]'``), imported here only.

Theory of operation
-------------------
A reader task is UP (reading), DOWN (its connection failed; ``down`` holds the error) or
STOPPED. The backend gives it three steps:

- ``read()``: read and deliver until ``stopping`` is set (then return), or raise when
  the connection fails;
- ``recover()``: one attempt to be UP again (a new connection, resubscribed); raises
  if it fails. It may call ``mark_up()`` itself at the moment the backend's own commands
  can use the new connection (pub/sub reconciles subscriptions after that);
- ``interrupt()``: make a blocked ``read()`` return or raise soon, without Redis' help
  if possible.

UP -> DOWN: ``read()`` raised. The error is logged once; subscribers are not disturbed.
DOWN -> UP: one attempt at once (a killed connection to a healthy server comes back in one
round trip), then attempts with exponential backoff and equal jitter between
``reconnect_initial`` and ``reconnect_max`` seconds, so workers that lost Redis together
do not come back in lockstep.

Stopping never relies on cancelling a task inside redis-py: a cancellation that lands in
its blocking read or in the reconnection redis-py's pub/sub runs inside that read is not
reliably propagated (the read can be sent again, or the cancellation turned into a
``ConnectionError``), and a reader hung there once kept ``disconnect()`` waiting forever.
So ``stop()`` sets ``stopping``, sets the event a backoff pause waits on, calls
``interrupt()``, and waits (bounded) for the task to return; only a reader that does not
come back in time is cancelled, and that wait is bounded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["Reader", "close_clients", "is_connection_error", "make_client", "safe_url"]

logger = logging.getLogger("vivace.web.broadcast")

#: Seconds a Redis command (not a blocking read) may take before its connection counts as
#: dead: bounds redis-py's own handshake on a new connection too.
COMMAND_TIMEOUT = 10.0


def _redis() -> Any:
    try:
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - the test suite installs redis
        raise ImportError(
            "the Redis broadcast backends need the redis package: pip install 'vivace[redis]'"
        ) from exc
    return redis.asyncio


def make_client(url: str, retries: int, **options: Any) -> Any:
    """A redis-py client for ``url`` that retries a failed command ``retries`` times at
    once; options in the URL win.

    With ``retries=0`` (a reader's client) redis-py neither retries nor reconnects by
    itself: its pub/sub would otherwise reconnect inside a failed read even with no
    retries, and its retry re-send an ``XREAD``. The reader does that, with backoff.
    """
    redis = _redis()
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    retry = Retry(NoBackoff(), retries) if retries else Retry(NoBackoff(), 0, supported_errors=())
    options.setdefault("socket_timeout", COMMAND_TIMEOUT)
    return redis.Redis.from_url(
        url,
        retry=retry,
        socket_connect_timeout=5.0,
        socket_keepalive=True,
        **options,
    )


async def close_clients(*clients: Any) -> None:
    """Close redis-py clients (``None`` skipped)."""
    for client in clients:
        if client is not None:
            await client.aclose()


def safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` from redis-py means the connection is gone (not a refused command)."""
    from redis.exceptions import ConnectionError, TimeoutError

    return isinstance(exc, ConnectionError | TimeoutError | OSError)


class Reader:
    """One backend's reader task (see the module docstring).

    ``what`` names the backend in log lines; ``count`` says how many channels it serves,
    for them.
    """

    def __init__(
        self,
        *,
        name: str,
        what: str,
        read: Callable[[], Awaitable[None]],
        recover: Callable[[], Awaitable[None]],
        interrupt: Callable[[], Awaitable[None]],
        count: Callable[[], int],
        reconnect_initial: float,
        reconnect_max: float,
    ) -> None:
        if reconnect_initial <= 0 or reconnect_max < reconnect_initial:
            raise ValueError("need 0 < reconnect_initial <= reconnect_max")
        self.name = name
        self.what = what
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self._read = read
        self._recover = recover
        self._interrupt = interrupt
        self._count = count
        self.task: asyncio.Task[None] | None = None
        self.down: BaseException | None = None
        self.down_since = 0.0
        self.stopping = False
        self._stop = asyncio.Event()
        self.reconnects = 0  # completed reconnections (for monitoring and tests)

    @property
    def is_up(self) -> bool:
        return self.task is not None and self.down is None

    def start(self) -> None:
        self.down = None
        self.stopping = False
        self._stop = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def mark_up(self) -> None:
        """The new connection is the one to use (called by ``recover`` or after it)."""
        self.down = None

    async def stop(self, timeout: float) -> None:
        """Stop the task: ask it, interrupt its read, wait up to ``timeout`` seconds; cancel
        it only if it has not returned by then."""
        task, self.task = self.task, None
        if task is None:
            return
        self.stopping = True
        self._stop.set()
        with contextlib.suppress(Exception):  # best effort: the read may be over already
            await self._interrupt()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:  # pragma: no cover - a reader stuck where no interrupt reaches it
            logger.warning(
                "the %s reader did not stop in %.1f s; cancelling it", self.what, timeout
            )
            task.cancel()
            await asyncio.wait({task}, timeout=5.0)
        self.down = None

    def _stopped(self) -> bool:
        # redis-py can turn a cancellation, or the interrupt, that lands in its connect or
        # read into a ConnectionError: never take that for a lost connection to retry.
        task = asyncio.current_task()
        return self.stopping or (task is not None and task.cancelling() > 0)

    async def _run(self) -> None:
        while not self.stopping:
            try:
                await self._read()
            except Exception as exc:
                if self._stopped():
                    return
                self.down = exc
                self.down_since = time.monotonic()
                logger.warning(
                    "the %s connection failed (%s); reconnecting, %d channel(s) to resume",
                    self.what,
                    exc,
                    self._count(),
                )
                await self._reconnect()

    async def _reconnect(self) -> None:
        delay = self.reconnect_initial
        attempt = 0
        while not self.stopping:
            if attempt:
                with contextlib.suppress(TimeoutError):  # the pause, or stop() ending it
                    await asyncio.wait_for(self._stop.wait(), delay * (0.5 + random.random() / 2))
                if self._stopped():  # a method: stop() sets the flag while this task waits
                    return
                delay = min(delay * 2, self.reconnect_max)
            attempt += 1
            try:
                await self._recover()
            except Exception as exc:
                if self._stopped():
                    return
                self.down = exc
                logger.debug("%s reconnection attempt %d failed: %s", self.what, attempt, exc)
                continue
            self.mark_up()
            self.reconnects += 1
            logger.warning(
                "the %s reconnected after %.1f s (%d attempt(s)), %d channel(s) resumed",
                self.what,
                time.monotonic() - self.down_since,
                attempt,
                self._count(),
            )
            return
