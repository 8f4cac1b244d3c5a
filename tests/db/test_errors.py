"""Hostile and failure cases: injection, bad parameters, closed database, exhausted
pool, integrity errors, connections killed mid-query and mid-transaction."""

from __future__ import annotations

import asyncio
import decimal
import math
from typing import Any

import pytest

from vivace.db import (
    CheckViolation,
    ConnectionLost,
    Database,
    DatabaseError,
    DatabaseNotConnected,
    DataError,
    ForeignKeyViolation,
    IntegrityError,
    NotNullViolation,
    ParameterError,
    PoolTimeout,
    ProgrammingError,
    UniqueViolation,
)

from .conftest import TableFactory, open_database, unique_name, wait_for_session

INJECTIONS = [
    "'; DROP TABLE {t}; --",
    "x' OR '1'='1",
    "\\'; DELETE FROM {t}; -- ",
    "1); DELETE FROM {t}; --",
    ":name",
    "%s %(name)s ? $1",
    "\x00nul",
    "\\",
]


async def test_values_are_never_sql(db: Database, items: str) -> None:
    for i, attack in enumerate(INJECTIONS):
        value = attack.format(t=items)
        if "\x00" in value and db.url.backend == "postgresql":
            continue  # PostgreSQL text cannot hold NUL (refused: tested below)
        await db.execute(
            f"INSERT INTO {items} (id, name) VALUES (:id, :name)", {"id": i, "name": value}
        )
        assert await db.fetch_val(f"SELECT name FROM {items} WHERE id = :id", {"id": i}) == value
        assert (
            await db.fetch_val(f"SELECT count(*) FROM {items} WHERE name = :name", {"name": value})
            == 1
        )
    assert (
        await db.fetch_val(f"SELECT count(*) FROM {items} WHERE name = :n", {"n": "x' OR '1'='1"})
        == 1
    )
    if db.url.backend == "postgresql":
        with pytest.raises(DatabaseError):
            await db.execute(
                f"INSERT INTO {items} (id, name) VALUES (:id, :name)", {"id": 99, "name": "a\x00b"}
            )


async def test_parameter_names_are_checked(db: Database) -> None:
    with pytest.raises(ParameterError, match=r"missing :b") as info:
        await db.fetch_one("SELECT :a, :b", {"a": 1})
    assert info.value.missing == ("b",) and info.value.extra == ()
    with pytest.raises(ParameterError, match=r"unexpected 'c'") as info:
        await db.fetch_one("SELECT :a", {"a": 1, "c": 2})
    assert info.value.extra == ("c",)
    with pytest.raises(ParameterError, match="missing :a; unexpected 'A'"):
        await db.execute("SELECT :a", {"A": 1})
    with pytest.raises(ParameterError, match="missing :a"):
        await db.fetch_val("SELECT :a")
    with pytest.raises(ParameterError, match="takes none"):
        await db.fetch_val("SELECT 1", {"x": 1})
    with pytest.raises(ParameterError, match="mapping"):
        await db.fetch_val("SELECT :a", 1)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="row"):
        await db.execute_many("SELECT :a", [{"a": 1}, {"b": 2}])
    assert isinstance(ParameterError("x"), ValueError)


async def test_syntax_and_unknown_table_errors(db: Database) -> None:
    with pytest.raises(ProgrammingError) as info:
        await db.fetch_all("SELEC 1")
    assert info.value.sql == "SELEC 1"
    with pytest.raises(ProgrammingError, match=r"vt_missing|no such table"):
        await db.fetch_all("SELECT * FROM vt_missing_table_xyz")
    # The connection that saw the error is fine for the next statement.
    assert await db.fetch_val("SELECT 1") == 1


async def test_integrity_errors(db: Database, make_table: TableFactory) -> None:
    parent = await make_table("(id INTEGER PRIMARY KEY)")
    child = await make_table(
        f"(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES {parent}(id),"
        " qty INTEGER CHECK (qty > 0), code VARCHAR(10) UNIQUE)"
    )
    await db.execute(f"INSERT INTO {parent} (id) VALUES (1)")
    insert = f"INSERT INTO {child} (id, parent_id, qty, code) VALUES (:id, :p, :q, :c)"
    await db.execute(insert, {"id": 1, "p": 1, "q": 1, "c": "a"})
    cases = [
        (UniqueViolation, {"id": 1, "p": 1, "q": 1, "c": "b"}),
        (UniqueViolation, {"id": 2, "p": 1, "q": 1, "c": "a"}),
        (ForeignKeyViolation, {"id": 3, "p": 42, "q": 1, "c": "c"}),
        (NotNullViolation, {"id": 4, "p": None, "q": 1, "c": "d"}),
        (CheckViolation, {"id": 5, "p": 1, "q": -1, "c": "e"}),
    ]
    for error, values in cases:
        with pytest.raises(error) as info:
            await db.execute(insert, values)
        assert isinstance(info.value, IntegrityError)
        assert info.value.sql is not None and "INSERT" in info.value.sql
        if db.url.backend != "sqlite":
            assert info.value.sqlstate is not None and info.value.sqlstate.startswith("23")
    with pytest.raises(ForeignKeyViolation):
        await db.execute(f"DELETE FROM {parent} WHERE id = 1")


async def test_closed_database(url: str) -> None:
    db = Database(url)
    with pytest.raises(DatabaseNotConnected, match="not connected"):
        await db.fetch_one("SELECT 1")
    with pytest.raises(DatabaseNotConnected):
        await db.transaction().start()
    with pytest.raises(DatabaseNotConnected):
        async with db.connection():
            pass
    await db.connect()
    assert await db.fetch_val("SELECT 1") == 1
    await db.disconnect()
    await db.disconnect()  # harmless
    with pytest.raises(DatabaseNotConnected):
        await db.execute("SELECT 1")
    assert "disconnected" in repr(db)


async def test_connect_and_disconnect_nest(url: str) -> None:
    db = Database(url)
    async with db.lifespan(object()):
        async with db:  # a fixture and the app's lifespan may both connect
            assert db.is_connected
        assert db.is_connected
        assert await db.fetch_val("SELECT 1") == 1
    assert not db.is_connected


async def test_exhausted_pool_times_out(url: str) -> None:
    db = await open_database(url, max_size=1, acquire_timeout=0.2)
    try:
        async with db.transaction():  # holds the only connection
            task = asyncio.create_task(db.fetch_val("SELECT 1"))
            await asyncio.sleep(0)
            # A statement from a context outside the transaction needs another connection.
            outside = asyncio.get_running_loop().create_task(
                db.fetch_val("SELECT 1"), context=__import__("contextvars").Context()
            )
            with pytest.raises(PoolTimeout, match="max_size=1") as info:
                await outside
            assert isinstance(info.value, TimeoutError)
            assert await task == 1  # the child of the transaction shares its connection
        assert await db.fetch_val("SELECT 1") == 1
    finally:
        await db.disconnect()


async def test_pool_options_are_validated(url: str) -> None:
    with pytest.raises(ValueError, match="max_size"):
        Database(url, max_size=0)
    with pytest.raises(ValueError, match="min_size"):
        Database(url, min_size=5, max_size=2)
    with pytest.raises(ValueError, match="acquire_timeout"):
        Database(url, acquire_timeout=0)


async def test_unreachable_server_fails_clearly(server_backend: str) -> None:
    port = {"postgresql": 1, "mysql": 1}[server_backend]
    db = Database(f"{server_backend}://u@127.0.0.1:{port}/x")
    with pytest.raises(DatabaseError, match="cannot connect"):
        await db.connect()
    assert not db.is_connected


# -- killed connections ---------------------------------------------------------------

SESSION = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
KILL = {"postgresql": "SELECT pg_terminate_backend(:id)", "mysql": "KILL :id"}
SLEEP = {"postgresql": "SELECT pg_sleep(30)", "mysql": "SELECT SLEEP(30)"}


async def kill(url: str, backend: str, session: int) -> None:
    """Kill a session and wait until the server has really dropped it."""
    killer = await open_database(url)
    try:
        await killer.execute(KILL[backend], {"id": session})
    finally:
        await killer.disconnect()
    await wait_for_session(url, backend, session, lambda state: state in (None, "Killed"))


@pytest.fixture
async def server_db(server_backend: str, tmp_path: object) -> Database:
    from .conftest import backend_url

    url = backend_url(server_backend, tmp_path)  # type: ignore[arg-type]
    database = await open_database(url, max_size=3, acquire_timeout=10)
    yield database
    await database.disconnect()


async def test_killed_mid_query_raises_and_pool_recovers(
    server_db: Database, server_backend: str
) -> None:
    db = server_db
    async with db.connection() as conn:
        session = await conn.fetch_val(SESSION[server_backend])
        query = asyncio.create_task(conn.fetch_val(SLEEP[server_backend]))
        # Wait until the server runs the statement, so the kill lands mid-query.
        await wait_for_session(
            str(db.url._text), server_backend, session, lambda state: state in ("active", "Query")
        )
        await kill(str(db.url._text), server_backend, session)
        with pytest.raises(ConnectionLost) as info:
            await asyncio.wait_for(query, 20)
        assert info.value.sql is not None
    # The dead connection was discarded; the pool serves fresh ones.
    for _ in range(5):
        assert await db.fetch_val("SELECT 1") == 1
    assert await db.fetch_val(SESSION[server_backend]) != session


async def test_killed_mid_query_positional(server_db: Database, server_backend: str) -> None:
    """Positional values (the ORM's writes) on a connection killed mid-statement: the
    same ConnectionLost with the SQL, and the pool recovers."""
    db = server_db
    sleep = {"postgresql": "SELECT pg_sleep(:s)", "mysql": "SELECT SLEEP(:s)"}[server_backend]
    async with db.connection() as conn:
        session = await conn.fetch_val(SESSION[server_backend])
        query = asyncio.create_task(conn.fetch_val(sleep, [30]))
        await wait_for_session(
            str(db.url._text), server_backend, session, lambda state: state in ("active", "Query")
        )
        await kill(str(db.url._text), server_backend, session)
        with pytest.raises(ConnectionLost) as info:
            await asyncio.wait_for(query, 20)
        assert info.value.sql is not None and "SLEEP" in info.value.sql.upper()
    assert await db.fetch_val("SELECT :a", ["x"]) == "x"
    assert await db.fetch_val(SESSION[server_backend]) != session


async def test_killed_idle_connections_are_replaced(
    server_db: Database, server_backend: str
) -> None:
    db = server_db
    sessions = set()
    async with db.connection() as a, db.connection() as b:
        sessions = {
            await a.fetch_val(SESSION[server_backend]),
            await b.fetch_val(SESSION[server_backend]),
        }
    for session in sessions:
        await kill(str(db.url._text), server_backend, session)
    await asyncio.sleep(0.1)
    failures = 0
    for _ in range(4):
        try:
            assert await db.fetch_val("SELECT 1") == 1
        except ConnectionLost:
            failures += 1  # at most once per killed connection, never afterwards
    assert failures <= len(sessions)
    assert await db.fetch_val("SELECT 1") == 1


async def test_killed_during_transaction_commits_nothing(
    server_db: Database, server_backend: str, make_table_server: str
) -> None:
    db = server_db
    table = make_table_server
    with pytest.raises(ConnectionLost):
        async with db.transaction():
            await db.execute(f"INSERT INTO {table} (id) VALUES (1)")
            session = await db.fetch_val(SESSION[server_backend])
            await kill(str(db.url._text), server_backend, session)
            await asyncio.sleep(0.1)
            # Every later statement of the transaction fails: never run elsewhere.
            with pytest.raises(ConnectionLost):
                await db.execute(f"INSERT INTO {table} (id) VALUES (2)")
            await db.execute(f"INSERT INTO {table} (id) VALUES (3)")
    assert await db.fetch_val(f"SELECT count(*) FROM {table}") == 0


async def test_killed_before_commit_commits_nothing(
    server_db: Database, server_backend: str, make_table_server: str
) -> None:
    db = server_db
    table = make_table_server
    with pytest.raises(ConnectionLost, match=r"COMMIT|lost"):
        async with db.transaction():
            await db.execute(f"INSERT INTO {table} (id) VALUES (1)")
            session = await db.fetch_val(SESSION[server_backend])
            await kill(str(db.url._text), server_backend, session)
            await asyncio.sleep(0.1)
    assert await db.fetch_val(f"SELECT count(*) FROM {table}") == 0
    async with db.transaction():  # and transactions work again
        await db.execute(f"INSERT INTO {table} (id) VALUES (9)")
    assert await db.fetch_val(f"SELECT count(*) FROM {table}") == 1


async def test_cancelled_query_does_not_poison_the_pool(
    server_db: Database, server_backend: str
) -> None:
    db = server_db
    task = asyncio.create_task(db.fetch_val(SLEEP[server_backend]))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(5):
        assert await db.fetch_val("SELECT 1") == 1
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            async with db.transaction():
                await db.fetch_val(SLEEP[server_backend])
    assert await db.fetch_val("SELECT 1") == 1
    assert db.pool_stats()["in_use"] == 0


@pytest.fixture
async def make_table_server(server_db: Database) -> str:
    from .conftest import unique_name

    name = unique_name()
    await server_db.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)")
    yield name
    cleanup = await open_database(str(server_db.url._text))
    try:
        await cleanup.execute(f"DROP TABLE IF EXISTS {name}")
    finally:
        await cleanup.disconnect()


async def test_sqlite_cancelled_job_keeps_connection_usable(tmp_path: object) -> None:
    db = await open_database(f"sqlite:///{tmp_path}/c.sqlite3")  # type: ignore[str-bytes-safe]
    try:
        slow = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000)"
            " SELECT count(*) FROM c"
        )
        task = asyncio.create_task(db.fetch_val(slow))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await db.fetch_val("SELECT 2") == 2
    finally:
        await db.disconnect()


TOO_BIG = [2**63, -(2**63) - 1, 2**64, 10**23]


async def test_out_of_range_integers_are_data_errors(
    db: Database, make_table: TableFactory
) -> None:
    # Issue 19: an int beyond 64 bits reached sqlite3 and came out as a bare
    # OverflowError (a 500 for GET /todos/99999999999999999999999).  Every backend
    # raises DataError, in a query, an INSERT and an execute_many batch, and the value
    # never appears in the message (it may be a secret).
    table = await make_table("(id BIGINT PRIMARY KEY, n INTEGER)")
    await db.execute(f"INSERT INTO {table} (id, n) VALUES (1, 1)")
    backend = db.url.backend
    for value in TOO_BIG:
        if backend != "mysql":  # MySQL compares a huge key as a DECIMAL: no row matches
            with pytest.raises(DataError) as caught:
                await db.fetch_all(f"SELECT * FROM {table} WHERE id = :v", {"v": value})
            assert str(value) not in str(caught.value)
            assert caught.value.sqlstate == "22003"
        with pytest.raises(DataError) as caught:
            await db.execute(f"INSERT INTO {table} (id, n) VALUES (2, :v)", {"v": value})
        assert str(value) not in str(caught.value)
        assert caught.value.sqlstate == "22003"
        with pytest.raises(DataError):
            await db.execute_many(
                f"INSERT INTO {table} (id, n) VALUES (:id, :n)",
                [{"id": 3, "n": 3}, {"id": 4, "n": value}],
            )
    # The batch was all-or-nothing and the connection is still good.
    assert await db.fetch_val(f"SELECT count(*) FROM {table}") == 1
    if backend == "mysql":
        assert await db.fetch_all(f"SELECT * FROM {table} WHERE id = :v", {"v": 2**64}) == []


async def test_values_the_drivers_refuse_differently(
    db: Database, make_table: TableFactory
) -> None:
    table = await make_table("(id INTEGER PRIMARY KEY, n INTEGER, x DOUBLE PRECISION)")
    backend = db.url.backend
    insert = f"INSERT INTO {table} (id, n, x) VALUES (:id, :n, :x)"
    if backend == "postgresql":
        # asyncpg encodes parameters itself: an int32 column refuses 2**31 before the
        # server sees it, and a wrong type is a DataError without the value.
        with pytest.raises(DataError, match=r"argument \$2: value out of int32") as caught:
            await db.execute(insert, {"id": 1, "n": 2**31, "x": 0.0})
        assert caught.value.sqlstate == "22003"
        with pytest.raises(DataError, match=r"argument \$2: .*str") as caught:
            await db.execute(insert, {"id": 1, "n": "secret-value", "x": 0.0})
        assert "secret-value" not in str(caught.value) and caught.value.sqlstate == "22000"
        with pytest.raises(DataError, match=r"\$2 in element #1 of executemany"):
            await db.execute_many(
                insert, [{"id": 1, "n": 1, "x": 0.0}, {"id": 2, "n": 2**40, "x": 0.0}]
            )
    if backend == "mysql":
        # The server refuses 2**31 for INTEGER (strict mode); asyncmy would refuse inf
        # and nan but write -inf (and a NaN Decimal) into the SQL text.
        with pytest.raises(DataError):
            await db.execute(insert, {"id": 1, "n": 2**31, "x": 0.0})
        for bad in (float("inf"), float("-inf"), float("nan")):
            with pytest.raises(DataError, match="MySQL cannot store the float") as caught:
                await db.execute(insert, {"id": 1, "n": 1, "x": bad})
            assert caught.value.sqlstate == "22003"
        for bad_decimal in (decimal.Decimal("NaN"), decimal.Decimal("-Infinity")):
            with pytest.raises(DataError, match="MySQL cannot store the Decimal"):
                await db.fetch_val("SELECT :v", {"v": bad_decimal})
        with pytest.raises(DataError):
            await db.execute_many(
                insert, [{"id": 1, "n": 1, "x": 0.5}, {"id": 2, "n": 1, "x": float("-inf")}]
            )
        # Finite floats and Decimals still go through the driver's own escaping.
        assert await db.fetch_val("SELECT :v", {"v": decimal.Decimal("1.25")}) == decimal.Decimal(
            "1.25"
        )
    if backend == "sqlite":
        # SQLite keeps any 64-bit integer in an INTEGER column.
        await db.execute(insert, {"id": 1, "n": 2**62, "x": 0.0})
        assert await db.fetch_val(f"SELECT n FROM {table}") == 2**62
        # It binds a NaN as NULL: refused before the driver, in execute and
        # execute_many alike, nothing written; the infinities are stored as they are.
        with pytest.raises(DataError, match="SQLite cannot store the float nan") as caught:
            await db.execute(insert, {"id": 2, "n": 1, "x": float("nan")})
        assert caught.value.sqlstate == "22003"
        with pytest.raises(DataError, match="SQLite cannot store the float nan"):
            await db.execute_many(
                insert, [{"id": 3, "n": 1, "x": 0.5}, {"id": 4, "n": 1, "x": float("nan")}]
            )
        assert await db.fetch_val(f"SELECT count(*) FROM {table} WHERE id IN (2, 3, 4)") == 0
        for infinite in (float("inf"), float("-inf")):
            assert await db.fetch_val("SELECT :v", {"v": infinite}) == infinite
        # It has no decimal type: a Decimal is bound as a double. One the double would
        # change (more than 15 significant digits it does not hold), and NaN, are refused;
        # 15 digits always go through, and more when the double holds them exactly.
        money = await make_table("(id INTEGER PRIMARY KEY, d NUMERIC(20, 2))")
        put = f"INSERT INTO {money} (id, d) VALUES (:id, :d)"
        for exact in ("1234567890123.45", "2.50", "1E+20", "Infinity"):
            value = decimal.Decimal(exact)  # read back as the double it was bound as
            assert decimal.Decimal(repr(await db.fetch_val("SELECT :v", {"v": value}))) == value
        await db.execute(put, {"id": 1, "d": decimal.Decimal("9999999999999.99")})
        for lossy in ("123456789012345678.91", "1234567890123456.7"):
            with pytest.raises(DataError, match=r"SQLite cannot store Decimal\('") as caught:
                await db.execute(put, {"id": 2, "d": decimal.Decimal(lossy)})
            assert caught.value.sqlstate == "22003"
        with pytest.raises(DataError, match="SQLite cannot store the Decimal NaN"):
            await db.execute(put, {"id": 2, "d": decimal.Decimal("NaN")})
        rows = await db.fetch_all(f"SELECT id, d FROM {money}")
        assert [(r[0], str(r[1])) for r in rows] == [(1, "9999999999999.99")]
    if backend == "postgresql":
        # PostgreSQL's double precision holds NaN and the infinities.
        await db.execute(insert, {"id": 2, "n": 1, "x": float("nan")})
        assert math.isnan(await db.fetch_val(f"SELECT x FROM {table} WHERE id = 2"))
    await db.execute(insert, {"id": 9, "n": 1, "x": 1.5})
    assert await db.fetch_val(f"SELECT x FROM {table} WHERE id = 9") == 1.5


async def test_integrity_errors_name_the_constraint(db: Database, make_table: TableFactory) -> None:
    # PostgreSQL reports the constraint in a field; MySQL only in its message, where it
    # was left (constraint None). A duplicate value that looks like a message changes
    # nothing. SQLite names a CHECK constraint and, for UNIQUE and NOT NULL, the
    # columns (it keeps no name for those); it was None there too.
    backend = db.url.backend
    parent = await make_table("(id INTEGER PRIMARY KEY)")
    name = unique_name("cn")
    child = await make_table(
        "(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, qty INTEGER, code VARCHAR(80),"
        " a INTEGER, b INTEGER,"
        f" CONSTRAINT {name}_uq UNIQUE (code),"
        f" CONSTRAINT {name}_ab UNIQUE (a, b),"
        f" CONSTRAINT {name}_fk FOREIGN KEY (parent_id) REFERENCES {parent}(id),"
        f" CONSTRAINT {name}_ck CHECK (qty > 0))"
    )
    await db.execute(f"INSERT INTO {parent} (id) VALUES (1)")
    insert = (
        f"INSERT INTO {child} (id, parent_id, qty, code, a, b) VALUES (:id, :p, :q, :c, :a, :b)"
    )
    spoof = "x' for key 'evil"
    await db.execute(insert, {"id": 1, "p": 1, "q": 1, "c": spoof, "a": 1, "b": 2})
    sqlite = backend == "sqlite"
    primary = {"sqlite": f"{child}.id", "postgresql": f"{child}_pkey", "mysql": "PRIMARY"}
    cases: list[tuple[type[IntegrityError], str | None, dict[str, Any]]] = [
        (UniqueViolation, f"{child}.code" if sqlite else f"{name}_uq", {"c": spoof}),
        (UniqueViolation, f"{child}.a, {child}.b" if sqlite else f"{name}_ab", {"a": 1, "b": 2}),
        (UniqueViolation, primary[backend], {"id": 1}),
        (ForeignKeyViolation, None if sqlite else f"{name}_fk", {"p": 42, "c": "f"}),
        (CheckViolation, f"{name}_ck", {"q": -1, "c": "g"}),
        (NotNullViolation, f"{child}.parent_id" if sqlite else None, {"p": None, "c": "h"}),
    ]
    for error, constraint, changes in cases:
        with pytest.raises(error) as info:
            await db.execute(insert, {"id": 2, "p": 1, "q": 1, "c": "d", "a": 2, "b": 2, **changes})
        assert info.value.constraint == constraint, info.value.message
    if sqlite:  # a unique index on an expression is named; its message has its name
        await db.execute(f"CREATE UNIQUE INDEX {name}_lower ON {child} (lower(code))")
        with pytest.raises(UniqueViolation) as info:
            await db.execute(insert, {"id": 3, "p": 1, "q": 1, "c": spoof.upper(), "a": 3, "b": 3})
        assert info.value.constraint == f"{name}_lower"
