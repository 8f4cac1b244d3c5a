"""Rates and the three limiting algorithms, as pure functions of a stored state.

``Rate("100/minute")``: ``limit`` units per ``window`` seconds. Each algorithm decides one
hit of ``cost`` units at time ``now`` (UNIX seconds) from the key's state and returns
the new state with a ``Decision``; ``RateLimiter`` runs it atomically in a store
(``incr`` for the fixed window, ``Store.transform`` for the others), so the decision is
exact across every process sharing the store.

- **Fixed window**: a counter per window (``floor(now / window)``), created with the
  window's TTL. Cheapest (one atomic increment); a client can spend ``limit`` at the end of
  one window and ``limit`` again at the start of the next. Refused hits count too.
- **Sliding window** (the weighted two-window counter): the estimate is
  ``previous * (1 - elapsed / window) + current``; a hit is allowed while
  ``estimate + cost <= limit``. Smooths the fixed window's edge burst at the price of a
  read-modify-write; refused hits do not count, so a client that keeps hammering gets
  through as soon as its rate falls under the limit.
- **Token bucket**: ``limit`` tokens at most, refilled continuously at
  ``limit / window`` per second; a hit takes ``cost`` tokens. Allows bursts up to
  ``limit`` and a steady ``limit / window`` rate.

States are ASCII numbers separated by commas; a state that does not parse (written by
something else) is treated as absent. Time is wall-clock (``time.time()``): hosts
sharing a store need synchronised clocks.
"""

from __future__ import annotations

import math
import re

__all__ = ["ALGORITHMS", "Decision", "Rate", "sliding_window", "token_bucket"]

ALGORITHMS = ("fixed_window", "sliding_window", "token_bucket")

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*")


class Rate:
    """``limit`` units per ``window`` seconds.

    >>> Rate("100/minute").limit, Rate("100/minute").window
    (100, 60.0)
    >>> Rate("5/10s").window, Rate("1000/hours").window, Rate(3, 1.5).window
    (10.0, 3600.0, 1.5)
    >>> str(Rate("5/10s"))
    '5/10s'
    """

    __slots__ = ("limit", "window")

    def __init__(self, limit: int | str, window: float | None = None) -> None:
        if isinstance(limit, str):
            if window is not None:
                raise TypeError("give a rate as '100/minute' or as (limit, window), not both")
            match = _RATE.fullmatch(limit.lower())
            if match is None or match.group(3) not in _UNITS:
                raise ValueError(
                    f"invalid rate {limit!r}: write N/unit or N/Munit with unit "
                    "second, minute, hour or day (or s, m, h, d)"
                )
            count, multiple, unit = match.groups()
            limit = int(count)
            window = (int(multiple) if multiple else 1) * _UNITS[unit]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"a rate limit is a positive integer, not {limit!r}")
        if window is None or not math.isfinite(window) or window <= 0:
            raise ValueError(f"a rate window is a positive number of seconds, not {window!r}")
        self.limit = limit
        self.window = float(window)

    def __str__(self) -> str:
        return f"{self.limit}/{self.window:g}s"

    def __repr__(self) -> str:
        return f"Rate({self.limit}, {self.window:g})"


class Decision:
    """One hit's outcome: allowed or not, ``remaining`` units, seconds until the window
    resets (``reset_after``) and, when refused, until a retry can succeed
    (``retry_after``; None when the cost is more than the limit: never)."""

    __slots__ = ("allowed", "remaining", "reset_after", "retry_after")

    def __init__(
        self, allowed: bool, remaining: int, reset_after: float, retry_after: float | None
    ) -> None:
        self.allowed = allowed
        self.remaining = remaining
        self.reset_after = reset_after
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"Decision(allowed={self.allowed}, remaining={self.remaining}, "
            f"reset_after={self.reset_after:.3f}, retry_after={self.retry_after})"
        )


def _numbers(state: bytes | None, count: int) -> list[float] | None:
    if state is None:
        return None
    try:
        values = [float(part) for part in state.split(b",")]
    except ValueError:
        return None
    if len(values) != count or not all(math.isfinite(v) for v in values):
        return None
    return values


def fixed_window(rate: Rate, count: int, now: float) -> Decision:
    """The decision for a fixed window whose counter reached ``count`` with this hit.

    >>> fixed_window(Rate(2, 60), 3, 90.0)
    Decision(allowed=False, remaining=0, reset_after=30.000, retry_after=30.0)
    """
    reset_after = rate.window - (now % rate.window)
    allowed = count <= rate.limit
    retry_after = None if allowed else reset_after
    return Decision(allowed, max(0, rate.limit - count), reset_after, retry_after)


def sliding_window(
    rate: Rate, state: bytes | None, now: float, cost: int
) -> tuple[bytes, Decision]:
    """The weighted two-window counter; state ``window_index,previous,current``.

    >>> state, decision = sliding_window(Rate(10, 60), None, 30.0, 4)
    >>> state, decision.allowed, decision.remaining
    (b'0,0,4', True, 6)
    >>> state, decision = sliding_window(Rate(10, 60), state, 90.0, 9)  # 4 * 0.5 + 9 > 10
    >>> state, decision.allowed, decision.retry_after
    (b'1,4,0', False, 15.0)
    """
    limit, window = rate.limit, rate.window
    index = math.floor(now / window)
    fraction = (now - index * window) / window
    previous = current = 0.0
    numbers = _numbers(state, 3)
    if numbers is not None:
        stored_index, stored_previous, stored_current = numbers
        if stored_index == index:
            previous, current = stored_previous, stored_current
        elif stored_index == index - 1:
            previous = stored_current
    estimate = previous * (1 - fraction) + current
    reset_after = window - (now - index * window)
    if estimate + cost <= limit:
        current += cost
        remaining = math.floor(limit - previous * (1 - fraction) - current)
        new = b"%d,%d,%d" % (index, previous, current)
        return new, Decision(True, max(0, remaining), reset_after, None)
    retry_after: float | None
    room = limit - cost
    if room < 0:
        retry_after = None
    elif previous > 0 and room - current >= 0:
        # Later in this window: previous * (1 - f) + current + cost <= limit.
        needed = 1 - (room - current) / previous
        retry_after = (needed - fraction) * window
    else:
        # In the next window the current count becomes the previous one.
        later = 1 - room / current if current > 0 else 0.0
        retry_after = reset_after + max(0.0, later) * window
    unchanged = b"%d,%d,%d" % (index, previous, current)
    return unchanged, Decision(
        False, max(0, math.floor(limit - estimate)), reset_after, retry_after
    )


def token_bucket(rate: Rate, state: bytes | None, now: float, cost: int) -> tuple[bytes, Decision]:
    """A bucket of ``limit`` tokens refilled at ``limit / window`` a second; state
    ``tokens,updated_at``.

    >>> state, decision = token_bucket(Rate(10, 10), None, 100.0, 10)
    >>> state, decision.allowed, decision.remaining
    (b'0.0,100.0', True, 0)
    >>> token_bucket(Rate(10, 10), state, 100.5, 2)[1].retry_after  # 1.5 tokens short
    1.5
    """
    capacity, per_second = rate.limit, rate.limit / rate.window
    tokens = float(capacity)
    numbers = _numbers(state, 2)
    if numbers is not None:
        stored_tokens, updated_at = numbers
        elapsed = max(0.0, now - updated_at)
        tokens = min(float(capacity), stored_tokens + elapsed * per_second)
    if tokens >= cost:
        tokens -= cost
        allowed = True
        retry_after: float | None = None
    else:
        allowed = False
        retry_after = None if cost > capacity else (cost - tokens) / per_second
    reset_after = (capacity - tokens) / per_second
    decision = Decision(allowed, math.floor(tokens), reset_after, retry_after)
    return f"{tokens!r},{now!r}".encode(), decision
