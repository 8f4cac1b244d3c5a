"""``RateLimiter``: an algorithm and a rate applied to keys, in a store; the result's headers.

Headers follow draft-ietf-httpapi-ratelimit-headers-11 (May 2026), sections 3 and 4:

    RateLimit-Policy: "default";q=100;w=60      the policy: quota q per window w seconds
    RateLimit: "default";r=42;t=17              now: r units left, for the next t seconds

and a refused request also gets ``Retry-After`` (RFC 9110 section 10.2.3) in whole
seconds, rounded up, never earlier than the end of the effective window when the draft's
section 6 asks for that (a refused fixed window: both are the window's end). The partition
key (``pk``) is left out: it would echo the client's address or user id to the client.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable

from vivace.ratelimit._algorithms import (
    ALGORITHMS,
    Decision,
    Rate,
    fixed_window,
    sliding_window,
    token_bucket,
)
from vivace.stores import Store
from vivace.web import HTTPException

__all__ = ["RateLimitExceeded", "RateLimitResult", "RateLimiter"]

# An sf-string (RFC 9651 section 3.3.3) holding a token-like name: printable, no quotes.
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class RateLimitResult:
    """The outcome of ``RateLimiter.hit``: a ``Decision`` plus the policy it came from."""

    __slots__ = ("allowed", "limit", "policy", "remaining", "reset_after", "retry_after", "window")

    def __init__(self, limiter: RateLimiter, decision: Decision) -> None:
        self.allowed = decision.allowed
        self.remaining = decision.remaining
        self.reset_after = decision.reset_after
        self.retry_after = decision.retry_after
        self.limit = limiter.rate.limit
        self.window = limiter.rate.window
        self.policy = limiter.name

    def headers(self) -> list[tuple[str, str]]:
        """The RateLimit-Policy and RateLimit fields (and Retry-After when refused)."""
        window = max(1, math.ceil(self.window))
        reset = max(0, math.ceil(self.reset_after))
        out = [
            ("ratelimit-policy", f'"{self.policy}";q={self.limit};w={window}'),
            ("ratelimit", f'"{self.policy}";r={self.remaining};t={reset}'),
        ]
        if not self.allowed:
            wait = self.retry_after if self.retry_after is not None else self.window
            out.append(("retry-after", str(max(1, math.ceil(wait)))))
        return out

    def __repr__(self) -> str:
        return (
            f"RateLimitResult(policy={self.policy!r}, allowed={self.allowed}, "
            f"remaining={self.remaining}, retry_after={self.retry_after})"
        )


class RateLimitExceeded(HTTPException):
    """429 Too Many Requests, with the RateLimit and Retry-After headers."""

    def __init__(self, result: RateLimitResult) -> None:
        super().__init__(429, "Too Many Requests", headers=dict(result.headers()))
        self.result = result


class RateLimiter:
    """Limit hits per key to ``rate`` with one of the algorithms, in ``store``.

    >>> import asyncio
    >>> from vivace.stores import MemoryStore
    >>> limiter = RateLimiter(MemoryStore(), "2/minute", algorithm="token_bucket")
    >>> async def main():
    ...     return [(await limiter.hit("client-1")).allowed for _ in range(3)]
    >>> asyncio.run(main())
    [True, True, False]

    ``name`` names the policy in the headers and the keys in the store (two limiters
    on one store need different names). ``clock`` is the time source (``time.time``).
    """

    __slots__ = ("algorithm", "clock", "name", "rate", "store")

    def __init__(
        self,
        store: Store,
        rate: Rate | str,
        *,
        algorithm: str = "sliding_window",
        name: str = "default",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}: {algorithm!r}")
        if not _NAME.fullmatch(name):
            raise ValueError(f"a policy name is 1-64 letters, digits, '_.:-': {name!r}")
        self.rate = rate if isinstance(rate, Rate) else Rate(rate)
        self.algorithm = algorithm
        self.name = name
        self.store = store.namespace(f"ratelimit:{name}:")
        self.clock = clock

    async def hit(self, key: str, cost: int = 1) -> RateLimitResult:
        """Count one hit of ``cost`` units for ``key``; the result says if it is allowed."""
        if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
            raise ValueError(f"cost must be a positive integer, not {cost!r}")
        rate = self.rate
        now = self.clock()
        if self.algorithm == "fixed_window":
            index = math.floor(now / rate.window)
            # The counter lives one window (plus a second of slack for clock skew).
            count = await self.store.incr(f"{key}:{index}", cost, ttl=rate.window + 1)
            return RateLimitResult(self, fixed_window(rate, count, now))
        step = sliding_window if self.algorithm == "sliding_window" else token_bucket
        ttl = 2 * rate.window if self.algorithm == "sliding_window" else rate.window + 1

        def update(state: bytes | None) -> tuple[bytes | None, Decision]:
            return step(rate, state, now, cost)

        decision = await self.store.transform(key, update, ttl=ttl)
        return RateLimitResult(self, decision)

    async def check(self, key: str, cost: int = 1) -> RateLimitResult:
        """``hit``, raising ``RateLimitExceeded`` (a 429) when refused."""
        result = await self.hit(key, cost)
        if not result.allowed:
            raise RateLimitExceeded(result)
        return result

    async def reset(self, key: str) -> None:
        """Forget the hits of ``key`` (an admin unblocking a client)."""
        if self.algorithm == "fixed_window":
            index = math.floor(self.clock() / self.rate.window)
            await self.store.delete_many([f"{key}:{index}", f"{key}:{index - 1}"])
        else:
            await self.store.delete(key)
