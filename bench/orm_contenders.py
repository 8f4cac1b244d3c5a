"""The contenders of bench/orm.py: one class per ORM (and the raw driver), each giving
the same primitives on the same three table layouts (tortoise/orm-benchmarks' tests
1-3: a 4-column Journal; the same with a self foreign key and a self many-to-many; the
same with 32 more typed columns).

Every contender gets tables of its own (names carry the process id), created through
the ORM itself where it can, and dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import decimal
import os
import sys
import types
from collections.abc import AsyncIterator
from typing import Any

import orjson

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

PID = os.getpid()
URLS = {
    "postgresql": os.environ.get(
        "VIVACE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("VIVACE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
}
JSON_DEFAULT = {"a": 1, "b": "b", "c": [2], "d": {"e": 3}, "f": True}
TEXT_DEFAULT = "Moo,Foo,Baa,Waa,Moo,Foo,Baa,Waa,Moo,Foo,Baa,Waa"
WIDE_KINDS = ("float", "smallint", "int", "bigint", "char", "text", "decimal", "json")
WIDE_DEFAULTS = {
    "float": 2.2,
    "smallint": 2,
    "int": 2000000,
    "bigint": 99999999,
    "char": "value1",
    "text": TEXT_DEFAULT,
    "decimal": decimal.Decimal("2.2"),
    "json": JSON_DEFAULT,
}


def _sqlite_decimal(value: Any) -> decimal.Decimal:
    return decimal.Decimal(repr(value))


def table_name(contender: str, test: int) -> str:
    return f"bo_{contender}_{test}_{PID}"


def wide_columns() -> list[tuple[str, str, bool]]:
    """(name, kind, nullable) of test 3's 32 extra columns: sets 1 and 3 have defaults."""
    return [
        (f"col_{kind}{group}", kind, group in (2, 4))
        for group in (1, 2, 3, 4)
        for kind in WIDE_KINDS
    ]


class Contender:
    """The primitives every contender implements; ``ctx`` is what ``task`` yields."""

    name = ""
    sync = False

    async def setup(self, backend: str, test: int, sqlite_path: str) -> None:
        raise NotImplementedError

    async def teardown(self) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def task(self, transaction: bool) -> AsyncIterator[Any]:
        yield None

    async def create(self, ctx: Any, level: int, text: str) -> None:
        raise NotImplementedError

    async def bulk(self, ctx: Any, rows: list[tuple[int, str]]) -> None:
        raise NotImplementedError

    async def objects(self, ctx: Any, level: int) -> list[Any]:
        raise NotImplementedError

    async def page(self, ctx: Any, level: int, offset: int) -> list[Any]:
        raise NotImplementedError

    async def get(self, ctx: Any, pk: int) -> Any:
        raise NotImplementedError

    async def dicts(self, ctx: Any, level: int) -> list[Any]:
        raise NotImplementedError

    async def tuples(self, ctx: Any, level: int) -> list[Any]:
        raise NotImplementedError

    async def all(self) -> list[Any]:
        raise NotImplementedError

    async def update_whole(self, ctx: Any, obj: Any, level: int) -> None:
        raise NotImplementedError

    async def update_partial(self, ctx: Any, obj: Any, level: int) -> None:
        raise NotImplementedError

    async def delete(self, ctx: Any, obj: Any) -> None:
        raise NotImplementedError


# -- vivace.orm ------------------------------------------------------------------------------


class Vivace(Contender):
    name = "vivace.orm"

    async def setup(self, backend: str, test: int, sqlite_path: str) -> None:
        from vivace import orm
        from vivace.db import Database

        url = URLS.get(backend) or f"sqlite:///{sqlite_path}"
        # Ten connections opened up front, as tortoise/orm-benchmarks opens Tortoise's
        # (minsize=maxsize=concurrency) and as Piccolo's pool here: operation A must
        # not time connection set-up.  SQLite keeps the Database's defaults (one
        # connection opened, more as tasks overlap): its connections are threads of
        # this process, and with ten opened F (get) fell from 14,394 rows/s (69cfd70) to
        # 7,789 (253e3c5) while the raw driver's, on its one connection, rose.
        pool = {"max_size": 10} if backend == "sqlite" else {"min_size": 10, "max_size": 10}
        self.db = Database(url, **pool)
        await self.db.connect()
        self.model = vivace_model(test)
        await orm.drop_tables(self.model, using=self.db)
        await orm.create_tables(self.model, using=self.db)
        self.qs = self.model.objects.using(self.db)

    async def teardown(self) -> None:
        from vivace import orm

        await orm.drop_tables(self.model, using=self.db)
        await self.db.disconnect()

    @contextlib.asynccontextmanager
    async def task(self, transaction: bool) -> AsyncIterator[Any]:
        # PostgreSQL and MySQL: the task's own connection, as the raw driver contender's
        # task() holds one of its pool's connections there for all of A's inserts and
        # F's gets: vivace.db's task-bound connection (``db.connection()``), through which
        # every statement of the task runs.  On SQLite the raw contender's tasks share its
        # one connection, and vivace's reads outside a transaction go to its reader
        # thread.  bench/orm_reads.py makes both contenders take a connection per query
        # instead (vivace.orm 2.3x-3.0x faster than asyncpg there, 2026-12-07).
        if transaction:
            async with self.db.transaction():
                yield None
        elif self.db.url.backend != "sqlite":
            async with self.db.connection():
                yield None
        else:
            yield None

    async def create(self, ctx: Any, level: int, text: str) -> None:
        await self.qs.create(level=level, text=text)

    async def bulk(self, ctx: Any, rows: list[tuple[int, str]]) -> None:
        model = self.model
        await self.qs.bulk_create([model(level=level, text=text) for level, text in rows])

    async def objects(self, ctx: Any, level: int) -> list[Any]:
        return await self.qs.filter(level=level)

    async def page(self, ctx: Any, level: int, offset: int) -> list[Any]:
        return await self.qs.filter(level=level)[offset : offset + 20]

    async def get(self, ctx: Any, pk: int) -> Any:
        return await self.qs.get(id=pk)

    async def dicts(self, ctx: Any, level: int) -> list[Any]:
        return await self.qs.filter(level=level).values()

    async def tuples(self, ctx: Any, level: int) -> list[Any]:
        return await self.qs.filter(level=level).values_list()

    async def all(self) -> list[Any]:
        return await self.qs.all()

    async def update_whole(self, ctx: Any, obj: Any, level: int) -> None:
        obj.level = level
        obj.text = f"{obj.text} Update"
        await obj.save(using=self.db)

    async def update_partial(self, ctx: Any, obj: Any, level: int) -> None:
        obj.level = level
        await obj.save(using=self.db, update_fields=["level"])

    async def delete(self, ctx: Any, obj: Any) -> None:
        await obj.delete(using=self.db)


def vivace_model(test: int, owner: str = "vivace") -> Any:
    import sqlalchemy as sa

    from vivace import orm

    fields: dict[str, Any] = {
        "timestamp": orm.DateTimeField(auto_now_add=True),
        "level": orm.SmallIntegerField(db_index=True),
        "text": orm.CharField(max_length=255, db_index=True),
    }
    if test == 2:
        fields["parent"] = orm.ForeignKey(
            "self", on_delete=orm.CASCADE, null=True, default=None, related_name="children"
        )
        fields["related"] = orm.ManyToManyField("self", related_name="related_from")
    if test == 3:
        for name, kind, nullable in wide_columns():
            options: dict[str, Any] = (
                {"null": True, "default": None} if nullable else {"default": WIDE_DEFAULTS[kind]}
            )
            fields[name] = {
                "float": lambda o: orm.FloatField(**o),
                "smallint": lambda o: orm.SmallIntegerField(**o),
                "int": lambda o: orm.IntegerField(**o),
                "bigint": lambda o: orm.BigIntegerField(**o),
                "char": lambda o: orm.CharField(max_length=255, **o),
                "text": lambda o: orm.TextField(**o),
                "decimal": lambda o: orm.DecimalField(max_digits=12, decimal_places=8, **o),
                "json": lambda o: orm.JSONField(**o),
            }[kind](options)
    meta = type("Meta", (), {"table": table_name(owner, test), "metadata": sa.MetaData()})
    qualname = f"{owner.capitalize()}Journal{test}"
    namespace = {"__module__": __name__, "__qualname__": qualname, "Meta": meta, **fields}
    return type(orm.Model)(f"VJournal{test}", (orm.Model,), namespace)


# -- the raw driver --------------------------------------------------------------------------


class Raw(Contender):
    """asyncpg / asyncmy pools / one aiosqlite connection, hand-written SQL, fetch + dict/tuple.

    It does the work an application on the bare driver does to get what the ORMs hand
    back: a new row's key (PostgreSQL: ``RETURNING id``; MySQL and SQLite report it with
    the write), JSON encoded per row, and rows read back as Python values -- JSON
    decoded (asyncpg: a type codec, as vivace.db sets; MySQL, SQLite: orjson), SQLite's
    timestamp text and NUMERIC parsed to datetime and Decimal.
    """

    name = "raw driver"

    async def setup(self, backend: str, test: int, sqlite_path: str) -> None:
        self.backend = backend
        self.table = table_name("raw", test)
        # The schema is the ORM's (vivace.orm's DDL), the SQL from here on is by hand.
        from vivace import orm
        from vivace.db import Database

        self.ddl_db = Database(URLS.get(backend) or f"sqlite:///{sqlite_path}")
        await self.ddl_db.connect()
        model = vivace_model(test, "raw")  # the same layout under this contender's name
        self.model = model
        await orm.drop_tables(model, using=self.ddl_db)
        await orm.create_tables(model, using=self.ddl_db)
        columns = [f.column_name for f in model._meta.concrete]
        self.columns = columns
        # Test 3: the wide columns without NULL get their defaults, as an app would send.
        self.extra_names = (
            [n for n, _, nullable in wide_columns() if not nullable] if test == 3 else []
        )
        self.extra_values = [
            WIDE_DEFAULTS[kind]
            for n, kind, nullable in (wide_columns() if test == 3 else [])
            if not nullable
        ]
        if backend == "sqlite":
            self.extra_values = [
                float(v) if isinstance(v, decimal.Decimal) else v for v in self.extra_values
            ]
        # Per row: the JSON parameters become text (asyncpg's codec does it on PostgreSQL).
        self.json_params = [
            i + 3
            for i, (n, kind, nullable) in enumerate(
                [w for w in (wide_columns() if test == 3 else []) if not w[2]]
            )
            if kind == "json" and backend != "postgresql"
        ]
        kinds = {n: kind for n, kind, _ in wide_columns()}
        self.decoders: list[tuple[int, Any]] = []
        for index, column in enumerate(columns):
            kind = kinds.get(column)
            if kind == "json" and backend != "postgresql":
                self.decoders.append((index, orjson.loads))
            elif backend == "sqlite" and column == "timestamp":
                self.decoders.append((index, datetime.datetime.fromisoformat))
            elif backend == "sqlite" and kind == "decimal":
                self.decoders.append((index, _sqlite_decimal))
        self.select = f"SELECT {', '.join(columns)} FROM {self.table}"
        if backend == "postgresql":
            import asyncpg

            async def codecs(conn: Any) -> None:
                for name in ("json", "jsonb"):
                    await conn.set_type_codec(
                        name,
                        encoder=lambda v: orjson.dumps(v).decode(),
                        decoder=orjson.loads,
                        schema="pg_catalog",
                    )

            self.pool = await asyncpg.create_pool(
                URLS[backend], min_size=10, max_size=10, init=codecs
            )
            self.p = ["$1", "$2", "$3"]
        elif backend == "mysql":
            import asyncmy

            self.pool = await asyncmy.create_pool(
                host="127.0.0.1",
                port=3306,
                user="root",
                password="",
                db="test",
                autocommit=True,
                minsize=10,
                maxsize=10,
            )
            self.p = ["%s", "%s", "%s"]
        else:
            import aiosqlite

            self.conn = await aiosqlite.connect(sqlite_path, isolation_level=None)
            self.lock = asyncio.Lock()
            self.p = ["?", "?", "?"]

    async def teardown(self) -> None:
        from vivace import orm

        if self.backend == "sqlite":
            await self.conn.close()
        elif self.backend == "mysql":
            self.pool.close()
            await self.pool.wait_closed()
        else:
            await self.pool.close()
        await orm.drop_tables(self.model, using=self.ddl_db)
        await self.ddl_db.disconnect()

    @contextlib.asynccontextmanager
    async def task(self, transaction: bool) -> AsyncIterator[Any]:
        if self.backend == "postgresql":
            async with self.pool.acquire() as conn:
                if transaction:
                    async with conn.transaction():
                        yield conn
                else:
                    yield conn
        elif self.backend == "mysql":
            async with self.pool.acquire() as conn:
                if transaction:
                    await conn.begin()
                    try:
                        yield conn
                    except BaseException:
                        await conn.rollback()
                        raise
                    await conn.commit()
                else:
                    yield conn
        elif transaction:
            # One aiosqlite connection: the tasks' transactions take turns on it.
            async with self.lock:
                await self.conn.execute("BEGIN")
                yield self.conn
                await self.conn.execute("COMMIT")
        else:
            yield self.conn

    def _insert(self, count: int) -> str:
        names = ["timestamp", "level", "text", *self.extra_names]
        width = len(names)
        if self.backend == "postgresql":
            rows = [
                "(" + ", ".join(f"${width * i + j + 1}" for j in range(width)) + ")"
                for i in range(count)
            ]
        else:
            rows = ["(" + ", ".join([self.p[0]] * width) + ")"] * count
        returning = " RETURNING id" if self.backend == "postgresql" else ""
        return f"INSERT INTO {self.table} ({', '.join(names)}) VALUES {', '.join(rows)}{returning}"

    def _row(self, level: int, text: str, now: Any) -> list[Any]:
        row = [now, level, text, *self.extra_values]
        for index in self.json_params:
            row[index] = orjson.dumps(row[index]).decode()
        return row

    async def _run(self, ctx: Any, sql: str, args: list[Any]) -> Any:
        if self.backend == "postgresql":
            return await ctx.execute(sql, *args)
        if self.backend == "mysql":
            async with ctx.cursor() as cursor:
                await cursor.execute(sql, args)
                return None
        await ctx.execute(sql, args)
        return None

    async def _fetch(self, ctx: Any, sql: str, args: list[Any]) -> list[Any]:
        if self.backend == "postgresql":
            return await ctx.fetch(sql, *args)  # type: ignore[no-any-return]
        if self.backend == "mysql":
            async with ctx.cursor() as cursor:
                await cursor.execute(sql, args)
                rows = await cursor.fetchall()
        else:
            async with ctx.execute(sql, args) as cursor:
                rows = await cursor.fetchall()
        if not self.decoders:
            return rows  # type: ignore[no-any-return]
        out = [list(row) for row in rows]
        for index, decode in self.decoders:  # column by column
            for values in out:
                if values[index] is not None:
                    values[index] = decode(values[index])
        return out

    @contextlib.asynccontextmanager
    async def _conn(self, ctx: Any) -> AsyncIterator[Any]:
        if ctx is not None:
            yield ctx
        else:
            async with self.task(False) as conn:
                yield conn

    def _now(self) -> Any:
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        return now.isoformat(" ") if self.backend == "sqlite" else now

    async def create(self, ctx: Any, level: int, text: str) -> None:
        async with self._conn(ctx) as conn:
            if self.backend == "postgresql":
                await conn.fetchval(self._insert(1), *self._row(level, text, self._now()))
            else:
                await self._run(conn, self._insert(1), self._row(level, text, self._now()))

    async def bulk(self, ctx: Any, rows: list[tuple[int, str]]) -> None:
        now = self._now()
        args = [a for level, text in rows for a in self._row(level, text, now)]
        async with self._conn(ctx) as conn:
            if self.backend == "postgresql":
                await conn.fetch(self._insert(len(rows)), *args)
            else:
                await self._run(conn, self._insert(len(rows)), args)

    def _where(self, column: str, index: int = 1) -> str:
        p = f"${index}" if self.backend == "postgresql" else self.p[0]
        return f"{column} = {p}"

    async def objects(self, ctx: Any, level: int) -> list[Any]:
        async with self._conn(ctx) as conn:
            return await self._fetch(conn, f"{self.select} WHERE {self._where('level')}", [level])

    async def page(self, ctx: Any, level: int, offset: int) -> list[Any]:
        p2 = "$2" if self.backend == "postgresql" else self.p[0]
        sql = f"{self.select} WHERE {self._where('level')} LIMIT 20 OFFSET {p2}"
        async with self._conn(ctx) as conn:
            return await self._fetch(conn, sql, [level, offset])

    async def get(self, ctx: Any, pk: int) -> Any:
        async with self._conn(ctx) as conn:
            rows = await self._fetch(conn, f"{self.select} WHERE {self._where('id')}", [pk])
            return rows[0]

    async def dicts(self, ctx: Any, level: int) -> list[Any]:
        rows = await self.objects(ctx, level)
        if self.backend == "postgresql":
            return [dict(r) for r in rows]
        columns = self.columns
        return [dict(zip(columns, r, strict=True)) for r in rows]

    async def tuples(self, ctx: Any, level: int) -> list[Any]:
        return [tuple(r) for r in await self.objects(ctx, level)]

    async def all(self) -> list[Any]:
        async with self.task(False) as conn:
            return [list(r) for r in await self._fetch(conn, self.select, [])]

    async def update_whole(self, ctx: Any, obj: Any, level: int) -> None:
        if self.backend == "postgresql":
            sql = f"UPDATE {self.table} SET level = $1, text = $2 WHERE id = $3"
        else:
            p = self.p[0]
            sql = f"UPDATE {self.table} SET level = {p}, text = {p} WHERE id = {p}"
        obj[3] = f"{obj[3]} Update"
        await self._run(ctx, sql, [level, obj[3], obj[0]])

    async def update_partial(self, ctx: Any, obj: Any, level: int) -> None:
        if self.backend == "postgresql":
            sql = f"UPDATE {self.table} SET level = $1 WHERE id = $2"
        else:
            sql = f"UPDATE {self.table} SET level = {self.p[0]} WHERE id = {self.p[0]}"
        await self._run(ctx, sql, [level, obj[0]])

    async def delete(self, ctx: Any, obj: Any) -> None:
        sql = f"DELETE FROM {self.table} WHERE {self._where('id')}"
        await self._run(ctx, sql, [obj[0]])


# -- Tortoise ORM ------------------------------------------------------------------------------


class Tortoise(Contender):
    name = "Tortoise ORM"
    runs = 0

    async def setup(self, backend: str, test: int, sqlite_path: str) -> None:
        from tortoise import Tortoise as T

        # A fresh class name per run: Tortoise caches executors (and their SQL) by
        # model name, so a class of an earlier run on another backend must not match.
        Tortoise.runs += 1
        name = f"Journal{backend}{test}x{Tortoise.runs}"
        module = types.ModuleType(f"bench_tortoise_{name}_{PID}")
        module.Journal = tortoise_model(  # type: ignore[attr-defined]
            test, name, module.__name__, table_name(f"tortoise{Tortoise.runs}", test)
        )
        sys.modules[module.__name__] = module
        self.module = module
        urls = {
            "postgresql": URLS["postgresql"].replace("postgresql://", "postgres://")
            + "?minsize=10&maxsize=10",
            "mysql": URLS["mysql"] + "?minsize=10&maxsize=10",
        }
        await T.init(
            db_url=urls.get(backend) or f"sqlite://{sqlite_path}",
            modules={"models": [module.__name__]},
        )
        await T.generate_schemas()
        self.model = module.Journal  # type: ignore[attr-defined]
        self.T = T

    async def teardown(self) -> None:
        from tortoise import connections

        conn = connections.get("default")
        names = [self.model._meta.db_table]
        related = self.model._meta.fields_map.get("related")
        if related is not None:
            names.insert(0, related.through)
        for name in names:
            await conn.execute_script(f"DROP TABLE IF EXISTS {name}")
        await self.T.close_connections()
        await self.T._reset_apps() if hasattr(self.T, "_reset_apps") else None
        sys.modules.pop(self.module.__name__, None)

    @contextlib.asynccontextmanager
    async def task(self, transaction: bool) -> AsyncIterator[Any]:
        if transaction:
            from tortoise.transactions import in_transaction

            async with in_transaction():
                yield None
        else:
            yield None

    async def create(self, ctx: Any, level: int, text: str) -> None:
        await self.model.create(level=level, text=text)

    async def bulk(self, ctx: Any, rows: list[tuple[int, str]]) -> None:
        await self.model.bulk_create([self.model(level=level, text=text) for level, text in rows])

    async def objects(self, ctx: Any, level: int) -> list[Any]:
        return list(await self.model.filter(level=level).all())

    async def page(self, ctx: Any, level: int, offset: int) -> list[Any]:
        return list(await self.model.filter(level=level).limit(20).offset(offset))

    async def get(self, ctx: Any, pk: int) -> Any:
        return await self.model.get(id=pk)

    async def dicts(self, ctx: Any, level: int) -> list[Any]:
        return list(await self.model.filter(level=level).all().values())

    async def tuples(self, ctx: Any, level: int) -> list[Any]:
        return list(await self.model.filter(level=level).all().values_list())

    async def all(self) -> list[Any]:
        return list(await self.model.all())

    async def update_whole(self, ctx: Any, obj: Any, level: int) -> None:
        obj.level = level
        obj.text = f"{obj.text} Update"
        await obj.save()

    async def update_partial(self, ctx: Any, obj: Any, level: int) -> None:
        obj.level = level
        await obj.save(update_fields=["level"])

    async def delete(self, ctx: Any, obj: Any) -> None:
        await obj.delete()


def tortoise_model(test: int, name: str, module: str, table: str) -> Any:
    from tortoise import fields
    from tortoise.models import Model

    attrs: dict[str, Any] = {
        "__module__": module,
        "timestamp": fields.DatetimeField(auto_now_add=True),
        "level": fields.SmallIntField(db_index=True),
        "text": fields.CharField(max_length=255, db_index=True),
        "Meta": type("Meta", (), {"table": table}),
    }
    if test == 2:
        attrs["parent"] = fields.ForeignKeyField(
            f"models.{name}", related_name="children", null=True
        )
        attrs["related"] = fields.ManyToManyField(f"models.{name}", related_name="related_from")
    if test == 3:
        for name, kind, nullable in wide_columns():
            options: dict[str, Any] = (
                {"null": True} if nullable else {"default": WIDE_DEFAULTS[kind]}
            )
            attrs[name] = {
                "float": lambda o: fields.FloatField(**o),
                "smallint": lambda o: fields.SmallIntField(**o),
                "int": lambda o: fields.IntField(**o),
                "bigint": lambda o: fields.BigIntField(**o),
                "char": lambda o: fields.CharField(max_length=255, **o),
                "text": lambda o: fields.TextField(**o),
                "decimal": lambda o: fields.DecimalField(12, 8, **o),
                "json": lambda o: fields.JSONField(**o),
            }[kind](options)
    return type(name, (Model,), attrs)
