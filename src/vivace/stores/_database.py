"""``DatabaseStore``: the store in one table of any vivace.db database.

PostgreSQL, MySQL/MariaDB and SQLite, through ``vivace.db`` (``pip install
'vivace[postgres]'``, ``'vivace[mysql]'`` or ``'vivace[sqlite]'``). The table::

    k        binary key (the UTF-8 bytes of the full key; at most 1024 bytes)  PRIMARY KEY
    v        binary value
    expires  UNIX time (seconds, float) after which the row is dead, or NULL

Keys are bytes, not text, on every backend: comparisons are byte-exact (MySQL's text
collations would make ``"A"`` equal ``"a"`` and ignore trailing spaces), and a prefix
scan is a range over the primary key (``prefix <= k < successor(prefix)``).

Atomicity comes from single statements, never from a read then a write: ``add`` is an
insert that does nothing on conflict; ``compare_and_set`` an ``UPDATE``/``DELETE`` whose
``WHERE`` holds the expected value; ``incr`` and ``transform`` loop over those (read,
compute, swap if unchanged). Each statement is atomic on all three servers, so the
store is exact across processes and hosts.

Time is the application's clock (``time.time()``): hosts sharing a store need
synchronised clocks (NTP), as for any expiry written by one host and read by another.
Dead rows are invisible at once and deleted by ``purge_expired()``, which a write also
runs at most once every ``purge_interval`` seconds per process.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, NoReturn

from vivace.db import (
    ConnectionLost,
    Database,
    DatabaseError,
    OperationalError,
    PoolTimeout,
    UniqueViolation,
    create_if_absent,
)
from vivace.stores._base import Store, StoreError, StoreUnavailable

__all__ = ["DatabaseStore"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_LIVE = "(expires IS NULL OR expires > :now)"

_DDL = {
    "postgresql": (
        "CREATE TABLE IF NOT EXISTS {t} (k BYTEA PRIMARY KEY, v BYTEA NOT NULL, "
        "expires DOUBLE PRECISION)",
        "CREATE INDEX IF NOT EXISTS {t}_expires ON {t} (expires)",
    ),
    "mysql": (
        "CREATE TABLE IF NOT EXISTS {t} (k VARBINARY(1024) NOT NULL PRIMARY KEY, "
        "v LONGBLOB NOT NULL, expires DOUBLE NULL, INDEX {t}_expires (expires))",
    ),
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS {t} (k BLOB PRIMARY KEY, v BLOB NOT NULL, expires REAL)",
        "CREATE INDEX IF NOT EXISTS {t}_expires ON {t} (expires)",
    ),
}
_UPSERT = {
    "postgresql": "INSERT INTO {t} (k, v, expires) VALUES (:k, :v, :e) "
    "ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires = excluded.expires",
    "sqlite": "INSERT INTO {t} (k, v, expires) VALUES (:k, :v, :e) "
    "ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires = excluded.expires",
    "mysql": "INSERT INTO {t} (k, v, expires) VALUES (:k, :v, :e) "
    "ON DUPLICATE KEY UPDATE v = VALUES(v), expires = VALUES(expires)",
}
_INSERT_IF_ABSENT = {
    "postgresql": "INSERT INTO {t} (k, v, expires) VALUES (:k, :v, :e) ON CONFLICT (k) DO NOTHING",
    "sqlite": "INSERT INTO {t} (k, v, expires) VALUES (:k, :v, :e) ON CONFLICT (k) DO NOTHING",
    # MySQL has no "do nothing on conflict" that reports it: INSERT IGNORE would also
    # swallow other errors, and ON DUPLICATE KEY UPDATE counts an unchanged row as found.
    # A plain INSERT whose duplicate-key error means "already there" (see _swap).
    "mysql": "INSERT INTO {t} (k, v, expires) VALUES (:k, :v, :e)",
}


def successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``
    (None: there is none, the prefix is all 0xFF bytes or empty).

    >>> successor(b"ab"), successor(b"a\\xff"), successor(b"\\xff")
    (b'ac', b'b', None)
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class DatabaseStore(Store):
    """A store in a table of a vivace.db database.

    ``DatabaseStore(Database("postgresql://..."), table="vivace_store")``, or a URL
    (``DatabaseStore("sqlite:///app.db")``: the store then owns the Database). ``open()``
    connects the database and creates the table when it is missing (``create=False``
    to leave the schema to your migrations: ``DatabaseStore.ddl(backend, table)`` gives
    the statements).
    """

    __slots__ = (
        "_backend",
        "_db",
        "_last_purge",
        "_owned",
        "_sql",
        "create",
        "purge_interval",
        "table",
    )

    def __init__(
        self,
        database: Database | str,
        *,
        table: str = "vivace_store",
        prefix: str = "",
        create: bool = True,
        purge_interval: float = 60.0,
    ) -> None:
        super().__init__(prefix)
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"table must be a plain SQL identifier {table!r}")
        self._owned = not isinstance(database, Database)
        self._db = Database(database) if isinstance(database, str) else database
        self._backend = self._db.url.backend
        self.table = table
        self.create = create
        self.purge_interval = purge_interval
        self._last_purge = time.monotonic()
        t = table
        self._sql = {
            "get": f"SELECT v FROM {t} WHERE k = :k AND {_LIVE}",
            "upsert": _UPSERT[self._backend].format(t=t),
            "insert": _INSERT_IF_ABSENT[self._backend].format(t=t),
            "drop_dead": f"DELETE FROM {t} WHERE k = :k AND expires <= :now",
            "swap": f"UPDATE {t} SET v = :v, expires = :e WHERE k = :k AND v = :old AND {_LIVE}",
            "swap_keep": f"UPDATE {t} SET v = :v WHERE k = :k AND v = :old AND {_LIVE}",
            "delete_if": f"DELETE FROM {t} WHERE k = :k AND v = :old AND {_LIVE}",
            "expire": f"UPDATE {t} SET expires = :e WHERE k = :k AND {_LIVE}",
            "ttl": f"SELECT expires FROM {t} WHERE k = :k AND {_LIVE}",
            "purge": f"DELETE FROM {t} WHERE expires <= :now",
        }

    @staticmethod
    def ddl(backend: str, table: str = "vivace_store") -> list[str]:
        """The statements that create the table on ``backend`` (postgresql, mysql, sqlite).

        >>> DatabaseStore.ddl("sqlite", "kv")[0]
        'CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, expires REAL)'
        """
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"table must be a plain SQL identifier: {table!r}")
        return [statement.format(t=table) for statement in _DDL[backend]]

    @property
    def database(self) -> Database:
        return self._db

    async def open(self) -> None:
        try:
            await self._db.connect()
            if self.create:
                await create_if_absent(self._db, self.ddl(self._backend, self.table))
        except DatabaseError as exc:
            _fail(exc)

    async def close(self) -> None:
        await self._db.disconnect()

    # -- statements -----------------------------------------------------------------------

    async def _run(self, method: str, name: str, values: dict[str, Any]) -> Any:
        try:
            return await getattr(self._db, method)(self._sql[name], values)
        except DatabaseError as exc:
            _fail(exc)

    async def _wrote(self) -> None:
        if time.monotonic() - self._last_purge >= self.purge_interval:
            await self.purge_expired()

    async def purge_expired(self) -> int:
        """Delete the rows that have expired; returns how many."""
        self._last_purge = time.monotonic()
        removed: int = await self._run("execute", "purge", {"now": time.time()})
        return removed

    @staticmethod
    def _expires(ttl: float | None) -> float | None:
        return None if ttl is None else time.time() + ttl

    async def _get(self, key: str) -> bytes | None:
        value = await self._run("fetch_val", "get", {"k": key.encode(), "now": time.time()})
        return None if value is None else bytes(value)

    async def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        values = {"k": key.encode(), "v": value, "e": self._expires(ttl)}
        await self._run("execute", "upsert", values)
        await self._wrote()

    async def _swap(
        self, key: str, expected: bytes | None, value: bytes | None, ttl: float | None, keep: bool
    ) -> bool:
        k = key.encode()
        now = time.time()
        if expected is None:
            assert value is not None, "compare_and_set(None, None) is a read"
            # A dead row would block the insert: drop it first (only if still dead).
            await self._run("execute", "drop_dead", {"k": k, "now": now})
            try:
                done = await self._db.execute(
                    self._sql["insert"], {"k": k, "v": value, "e": self._expires(ttl)}
                )
            except UniqueViolation:
                done = 0
            except DatabaseError as exc:
                _fail(exc)
        elif value is None:
            done = await self._run("execute", "delete_if", {"k": k, "old": expected, "now": now})
        elif keep:
            done = await self._run(
                "execute", "swap_keep", {"k": k, "v": value, "old": expected, "now": now}
            )
        else:
            done = await self._run(
                "execute",
                "swap",
                {"k": k, "v": value, "e": self._expires(ttl), "old": expected, "now": now},
            )
        if done and value is not None:
            await self._wrote()
        return bool(done)

    async def _delete(self, keys: Sequence[str]) -> int:
        removed = 0
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            names = ", ".join(f":k{i}" for i in range(len(chunk)))
            values: dict[str, Any] = {f"k{i}": key.encode() for i, key in enumerate(chunk)}
            values["now"] = time.time()
            sql = f"DELETE FROM {self.table} WHERE k IN ({names}) AND {_LIVE}"
            try:
                removed += await self._db.execute(sql, values)
            except DatabaseError as exc:
                _fail(exc)
        return removed

    async def _expire(self, key: str, ttl: float | None) -> bool:
        values = {"k": key.encode(), "e": self._expires(ttl), "now": time.time()}
        return bool(await self._run("execute", "expire", values))

    async def _ttl(self, key: str) -> float | None:
        k = key.encode()
        row = await self._run("fetch_one", "ttl", {"k": k, "now": time.time()})
        if row is None:
            return None
        expires = row[0]
        return math.inf if expires is None else max(0.0, float(expires) - time.time())

    async def _scan(self, prefix: str) -> AsyncIterator[str]:
        low = prefix.encode()
        high = successor(low)
        bound = "" if high is None else " AND k < :high"
        values: dict[str, Any] = {"now": time.time(), "after": low}
        if high is not None:
            values["high"] = high
        # Keyset pagination, no connection held between pages: the first page starts at
        # the prefix itself (>=), the next ones after the last key seen (>).
        compare = ">="
        while True:
            sql = (
                f"SELECT k FROM {self.table} WHERE k {compare} :after{bound} AND {_LIVE} "
                "ORDER BY k LIMIT 500"
            )
            try:
                rows = await self._db.fetch_all(sql, values)
            except DatabaseError as exc:
                _fail(exc)
            for row in rows:
                yield bytes(row[0]).decode("utf-8")
            if len(rows) < 500:
                return
            values["after"] = bytes(rows[-1][0])
            compare = ">"


def _fail(exc: DatabaseError) -> NoReturn:
    if isinstance(exc, ConnectionLost | PoolTimeout) or (
        isinstance(exc, OperationalError) and type(exc) is OperationalError
    ):
        raise StoreUnavailable(f"the store's database is unreachable: {exc}") from exc
    raise StoreError(f"the store's database failed the operation: {exc}") from exc
