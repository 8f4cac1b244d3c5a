"""vivace.stores: one async key-value API with memory, database and Redis backends.

The base of vivace's batteries (server-side sessions, cache, rate limits): anything that
keeps state across requests keeps it in a store, so an app goes from one process to
many hosts by changing a URL.

>>> import asyncio
>>> from vivace.stores import open_store
>>> async def main():
...     async with open_store("memory://") as store:
...         await store.set("k", b"v", ttl=60)
...         return await store.get("k"), await store.incr("n", 5)
>>> asyncio.run(main())
(b'v', 5)

See docs/batteries.md. Backends: ``MemoryStore`` (this process), ``RedisStore``
(``pip install 'vivace[redis]'``), ``DatabaseStore`` (PostgreSQL, MySQL/MariaDB, SQLite
through vivace.db). Each is imported only when used.
"""

import importlib
import typing

from vivace.stores._base import (
    MAX_KEY_BYTES,
    Store,
    StoreConflict,
    StoreError,
    StoreUnavailable,
)
from vivace.stores._memory import MemoryStore

if typing.TYPE_CHECKING:
    from vivace.stores._database import DatabaseStore
    from vivace.stores._redis import RedisStore

__all__ = [
    "MAX_KEY_BYTES",
    "DatabaseStore",
    "MemoryStore",
    "RedisStore",
    "Store",
    "StoreConflict",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]

_REDIS = ("redis", "rediss", "unix")
_DATABASES = ("postgresql", "postgres", "mysql", "mariadb", "sqlite")
# The Redis and database backends import their optional dependencies: they are loaded
# when first named, so `import vivace.stores` needs neither.
_LAZY = {"RedisStore": "vivace.stores._redis", "DatabaseStore": "vivace.stores._database"}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vivace.stores' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def open_store(url: str, *, prefix: str = "", **options: typing.Any) -> Store:
    """The store a URL names (not yet opened: ``async with`` it, or ``await store.open()``).

    ``memory://``; ``redis://host:6379/0`` (``rediss://``, ``unix://``); a vivace.db URL
    (``postgresql://``, ``mysql://``, ``sqlite:///file.db``) for a ``DatabaseStore``
    whose ``options`` may name the ``table``.
    """
    scheme = url.partition("://")[0].lower()
    base = scheme.partition("+")[0]
    if scheme == "memory":
        return MemoryStore(prefix=prefix, **options)
    if base in _REDIS:
        from vivace.stores._redis import RedisStore

        return RedisStore(url, prefix=prefix, **options)
    if base in _DATABASES:
        from vivace.stores._database import DatabaseStore

        return DatabaseStore(url, prefix=prefix, **options)
    raise ValueError(
        f"unsupported store URL {url.partition('://')[0]!r}://...: use memory://, redis:// "
        "or a database URL (postgresql://, mysql://, sqlite://)"
    )
