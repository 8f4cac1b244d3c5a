"""Client configuration values: ``Timeout`` (one value per phase) and ``Limits`` (the pool).

Both are immutable and hashable, so a client builds them once and every request reuses
them; a per-request ``timeout=`` that is a number or a tuple is turned into a ``Timeout``
once per call.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["DEFAULT_LIMITS", "DEFAULT_TIMEOUT", "Limits", "Timeout", "TimeoutTypes"]

_UNSET: Final = object()
_Tuple4 = tuple[float | None, float | None, float | None, float | None]


class Timeout:
    """How long each phase of an exchange may take, in seconds (``None``: no limit).

    - ``connect``: making the TCP connection and the TLS handshake;
    - ``read``: the longest gap between two pieces of the response (head or body);
    - ``write``: the longest wait to hand request bytes to the socket;
    - ``pool``: the longest wait for a free connection in the pool.

    ``Timeout(5.0)`` sets all four; keywords override one phase::

        >>> Timeout(5.0, connect=1.0)
        Timeout(connect=1.0, read=5.0, write=5.0, pool=5.0)
        >>> Timeout(None).read is None
        True
    """

    __slots__ = ("connect", "pool", "read", "write")

    connect: float | None
    read: float | None
    write: float | None
    pool: float | None

    def __init__(
        self,
        timeout: Timeout | float | _Tuple4 | object | None = _UNSET,
        *,
        connect: float | object | None = _UNSET,
        read: float | object | None = _UNSET,
        write: float | object | None = _UNSET,
        pool: float | object | None = _UNSET,
    ) -> None:
        base: tuple[Any, Any, Any, Any]
        if isinstance(timeout, Timeout):
            base = (timeout.connect, timeout.read, timeout.write, timeout.pool)
        elif isinstance(timeout, tuple):
            if len(timeout) != 4:
                raise ValueError("a timeout tuple is (connect, read, write, pool)")
            base = timeout
        elif timeout is _UNSET:
            if _UNSET in (connect, read, write, pool):
                raise ValueError(
                    "Timeout() needs a default value, or all four of connect, read, write, pool"
                )
            base = (None, None, None, None)
        else:
            base = (timeout, timeout, timeout, timeout)
        values = [
            b if v is _UNSET else v for b, v in zip(base, (connect, read, write, pool), strict=True)
        ]
        for name, value in zip(("connect", "read", "write", "pool"), values, strict=True):
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise ValueError(f"timeout {name} must be a non-negative number or None")
            object.__setattr__(self, name, None if value is None else float(value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Timeout is immutable; build a new one")

    def as_tuple(self) -> tuple[float | None, float | None, float | None, float | None]:
        return (self.connect, self.read, self.write, self.pool)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeout) and self.as_tuple() == other.as_tuple()

    def __hash__(self) -> int:
        return hash(self.as_tuple())

    def __repr__(self) -> str:
        c, r, w, p = self.as_tuple()
        return f"Timeout(connect={c}, read={r}, write={w}, pool={p})"


class Limits:
    """Connection pool limits.

    - ``max_connections``: open connections in total (``None``: no limit);
    - ``max_connections_per_host``: open connections to one origin (``None``: no limit
      other than the total);
    - ``max_keepalive_connections``: idle connections kept for reuse (``None``: as many as
      ``max_connections``);
    - ``keepalive_expiry``: seconds an idle connection is kept before it is closed.

    >>> Limits(max_connections=10, max_connections_per_host=4)  # doctest: +NORMALIZE_WHITESPACE
    Limits(max_connections=10, max_connections_per_host=4, max_keepalive_connections=None,
           keepalive_expiry=5.0)
    """

    __slots__ = (
        "keepalive_expiry",
        "max_connections",
        "max_connections_per_host",
        "max_keepalive_connections",
    )

    def __init__(
        self,
        *,
        max_connections: int | None = 100,
        max_connections_per_host: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = 5.0,
    ) -> None:
        for name, value in (
            ("max_connections", max_connections),
            ("max_connections_per_host", max_connections_per_host),
        ):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 or None")
        if max_keepalive_connections is not None and max_keepalive_connections < 0:
            raise ValueError("max_keepalive_connections must be >= 0 or None")
        if keepalive_expiry is not None and keepalive_expiry < 0:
            raise ValueError("keepalive_expiry must be >= 0 or None")
        self.max_connections = max_connections
        self.max_connections_per_host = max_connections_per_host
        self.max_keepalive_connections = max_keepalive_connections
        self.keepalive_expiry = keepalive_expiry

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return (
            f"Limits(max_connections={self.max_connections}, "
            f"max_connections_per_host={self.max_connections_per_host}, "
            f"max_keepalive_connections={self.max_keepalive_connections}, "
            f"keepalive_expiry={self.keepalive_expiry})"
        )


#: What a ``timeout=`` argument accepts.
TimeoutTypes = (
    Timeout | float | None | tuple[float | None, float | None, float | None, float | None]
)

#: Like httpx: five seconds for every phase.
DEFAULT_TIMEOUT: Final = Timeout(5.0)
DEFAULT_LIMITS: Final = Limits()
