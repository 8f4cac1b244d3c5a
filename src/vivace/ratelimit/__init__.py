"""vivace.ratelimit: rate limits by client address, user or key, on a store.

Fixed window, sliding window and token bucket, exact across processes and hosts when
the store is shared (Redis or a database); 429 answers carry ``Retry-After`` and the
IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11).

>>> import asyncio
>>> from vivace.stores import MemoryStore
>>> limiter = RateLimiter(MemoryStore(), "3/second", algorithm="fixed_window")
>>> async def main():
...     return [(await limiter.hit("addr:1.2.3.4")).allowed for _ in range(4)]
>>> asyncio.run(main())
[True, True, True, False]

Layer: above ``vivace.web`` and ``vivace.stores`` (see docs/batteries.md).
"""

from vivace.ratelimit._algorithms import ALGORITHMS, Decision, Rate
from vivace.ratelimit._limiter import RateLimiter, RateLimitExceeded, RateLimitResult
from vivace.ratelimit._middleware import (
    KeyFunction,
    RateLimitMiddleware,
    by_address,
    by_header,
    by_user,
)

__all__ = [
    "ALGORITHMS",
    "Decision",
    "KeyFunction",
    "Rate",
    "RateLimitExceeded",
    "RateLimitMiddleware",
    "RateLimitResult",
    "RateLimiter",
    "by_address",
    "by_header",
    "by_user",
]
