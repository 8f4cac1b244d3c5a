"""vivace.cache: a cache on a ``vivace.stores`` store, and whole-response caching.

``Cache`` holds values (``get``, ``set``, ``get_or_set`` with stampede protection
across processes, ``delete_many``, ``incr``, ``touch``); ``CacheMiddleware`` and
``cache_page`` keep whole responses, honouring ``Cache-Control`` and ``Vary`` and never
storing ``Set-Cookie`` or authenticated answers.

>>> import asyncio
>>> from vivace.stores import MemoryStore
>>> cache = Cache(MemoryStore())
>>> asyncio.run(cache.set("k", [1, 2])); asyncio.run(cache.get("k"))
[1, 2]

Layer: above ``vivace.web`` and ``vivace.stores`` (see docs/batteries.md).
"""

from vivace.cache._cache import Cache
from vivace.cache._response import CacheMiddleware, ResponseCache, cache_page

__all__ = ["Cache", "CacheMiddleware", "ResponseCache", "cache_page"]
