"""SQLAlchemy 2 async ORM, Piccolo and the Django ORM (sync) for bench/orm.py, written
the way tortoise/orm-benchmarks writes each of them (a session per task for SQLAlchemy,
``objects()`` / ``select()`` for Piccolo, the plain synchronous ORM for Django)."""

from __future__ import annotations

import contextlib
import decimal
import os
from collections.abc import AsyncIterator
from typing import Any

from orm_contenders import PID, URLS, WIDE_DEFAULTS, Contender, table_name, wide_columns

# -- SQLAlchemy async ORM ------------------------------------------------------------------------


class SQLAlchemy(Contender):
    name = "SQLAlchemy async ORM"

    async def setup(self, backend: str, test: int, sqlite_path: str) -> None:
        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
        from sqlalchemy.orm import DeclarativeBase

        class Base(DeclarativeBase):
            pass

        urls = {
            "postgresql": URLS["postgresql"].replace("postgresql://", "postgresql+asyncpg://"),
            "mysql": URLS["mysql"].replace("mysql://", "mysql+asyncmy://"),
        }
        self.engine = (
            create_async_engine(
                urls.get(backend) or f"sqlite+aiosqlite:///{sqlite_path}", pool_size=10
            )
            if backend != "sqlite"
            # 10 sessions write to one file: room for SQLite's busy handler to wait.
            else create_async_engine(
                f"sqlite+aiosqlite:///{sqlite_path}", connect_args={"timeout": 60}
            )
        )
        name = table_name("sa", test)
        columns: dict[str, Any] = {
            "__tablename__": name,
            "id": sa.Column(sa.Integer, primary_key=True),
            "timestamp": sa.Column(sa.DateTime, server_default=sa.func.now()),
            "level": sa.Column(sa.SmallInteger, index=True),
            "text": sa.Column(sa.String(255), index=True),
        }
        if test == 2:
            columns["parent_id"] = sa.Column(
                sa.Integer, sa.ForeignKey(f"{name}.id", ondelete="CASCADE"), nullable=True
            )
            sa.Table(
                f"{name}_related",
                Base.metadata,
                sa.Column("a", sa.Integer, sa.ForeignKey(f"{name}.id", ondelete="CASCADE")),
                sa.Column("b", sa.Integer, sa.ForeignKey(f"{name}.id", ondelete="CASCADE")),
            )
        if test == 3:
            types = {
                "float": sa.Float,
                "smallint": sa.SmallInteger,
                "int": sa.Integer,
                "bigint": sa.BigInteger,
                "char": lambda: sa.String(255),
                "text": sa.Text,
                "decimal": lambda: sa.Numeric(12, 8),
                "json": sa.JSON,
            }
            for column, kind, nullable in wide_columns():
                default = None if nullable else WIDE_DEFAULTS[kind]
                columns[column] = sa.Column(types[kind](), nullable=nullable, default=default)
        self.model = type(f"SAJournal{test}", (Base,), columns)
        self.table = self.model.__table__
        self.metadata = Base.metadata
        async with self.engine.begin() as conn:
            await conn.run_sync(self.metadata.drop_all)
            await conn.run_sync(self.metadata.create_all)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def teardown(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.metadata.drop_all)
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def task(self, transaction: bool) -> AsyncIterator[Any]:
        async with self.sessions() as session:
            yield session
            if transaction:
                await session.commit()

    @contextlib.asynccontextmanager
    async def _session(self, ctx: Any) -> AsyncIterator[Any]:
        if ctx is not None:
            yield ctx
        else:
            async with self.sessions() as session:
                yield session

    async def create(self, ctx: Any, level: int, text: str) -> None:
        async with self._session(ctx) as session:
            session.add(self.model(level=level, text=text))
            await session.commit()

    async def bulk(self, ctx: Any, rows: list[tuple[int, str]]) -> None:
        async with self._session(ctx) as session:
            session.add_all([self.model(level=level, text=text) for level, text in rows])
            await session.commit()

    async def objects(self, ctx: Any, level: int) -> list[Any]:
        import sqlalchemy as sa

        async with self._session(ctx) as session:
            result = await session.execute(sa.select(self.model).where(self.model.level == level))
            return list(result.scalars().all())

    async def page(self, ctx: Any, level: int, offset: int) -> list[Any]:
        import sqlalchemy as sa

        query = sa.select(self.model).where(self.model.level == level).limit(20).offset(offset)
        async with self._session(ctx) as session:
            return list((await session.execute(query)).scalars().all())

    async def get(self, ctx: Any, pk: int) -> Any:
        async with self._session(ctx) as session:
            return await session.get(self.model, pk)

    async def dicts(self, ctx: Any, level: int) -> list[Any]:
        import sqlalchemy as sa

        query = sa.select(*self.table.columns).where(self.table.c.level == level)
        async with self._session(ctx) as session:
            return [row._asdict() for row in (await session.execute(query)).all()]

    async def tuples(self, ctx: Any, level: int) -> list[Any]:
        import sqlalchemy as sa

        query = sa.select(*self.table.columns).where(self.table.c.level == level)
        async with self._session(ctx) as session:
            return [tuple(row) for row in (await session.execute(query)).all()]

    async def all(self) -> list[Any]:
        import sqlalchemy as sa

        async with self.sessions() as session:
            return list((await session.execute(sa.select(self.model))).scalars().all())

    async def update_whole(self, ctx: Any, obj: Any, level: int) -> None:
        merged = await ctx.merge(obj)
        merged.level = level
        merged.text = f"{merged.text} Update"

    async def update_partial(self, ctx: Any, obj: Any, level: int) -> None:
        merged = await ctx.merge(obj)
        merged.level = level

    async def delete(self, ctx: Any, obj: Any) -> None:
        merged = await ctx.merge(obj)
        await ctx.delete(merged)


# -- Piccolo ----------------------------------------------------------------------------------


class Piccolo(Contender):
    name = "Piccolo"

    async def setup(self, backend: str, test: int, sqlite_path: str) -> None:
        from piccolo.columns import (
            JSON,
            BigInt,
            DoublePrecision,
            ForeignKey,
            Integer,
            Numeric,
            SmallInt,
            Text,
            Timestamp,
            Varchar,
        )
        from piccolo.columns.defaults.timestamp import TimestampNow
        from piccolo.table import Table

        if backend == "postgresql":
            from piccolo.engine.postgres import PostgresEngine

            self.engine = PostgresEngine(
                config={"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres"}
            )
            await self.engine.start_connection_pool(min_size=10, max_size=10)
        else:
            from piccolo.engine.sqlite import SQLiteEngine

            self.engine = SQLiteEngine(path=sqlite_path)
        self.backend = backend
        attrs: dict[str, Any] = {
            "timestamp": Timestamp(default=TimestampNow()),
            "level": SmallInt(index=True),
            "text": Varchar(length=255, index=True),
        }
        if test == 2:
            attrs["parent"] = ForeignKey("self", null=True)
        if test == 3:
            kinds = {
                "float": lambda d, n: DoublePrecision(default=d, null=n),
                "smallint": lambda d, n: SmallInt(default=d, null=n),
                "int": lambda d, n: Integer(default=d, null=n),
                "bigint": lambda d, n: BigInt(default=d, null=n),
                "char": lambda d, n: Varchar(length=255, default=d, null=n),
                "text": lambda d, n: Text(default=d, null=n),
                "decimal": lambda d, n: Numeric(digits=(12, 8), default=d, null=n),
                "json": lambda d, n: JSON(default=d, null=n),
            }
            for column, kind, nullable in wide_columns():
                default = None if nullable else WIDE_DEFAULTS[kind]
                if isinstance(default, decimal.Decimal):
                    default = decimal.Decimal(default)
                attrs[column] = kinds[kind](default, nullable)
        self.model = type(
            f"PJournal{test}_{PID}",
            (Table,),
            attrs,
            tablename=table_name("piccolo", test),
            db=self.engine,
        )
        await self.model.create_table(if_not_exists=True)

    async def teardown(self) -> None:
        await self.model.alter().drop_table(if_exists=True)
        if self.backend == "postgresql":
            await self.engine.close_connection_pool()

    @contextlib.asynccontextmanager
    async def task(self, transaction: bool) -> AsyncIterator[Any]:
        if transaction:
            async with self.engine.transaction():
                yield None
        else:
            yield None

    async def create(self, ctx: Any, level: int, text: str) -> None:
        await self.model.objects().create(level=level, text=text)

    async def bulk(self, ctx: Any, rows: list[tuple[int, str]]) -> None:
        await self.model.insert(*[self.model(level=level, text=text) for level, text in rows])

    async def objects(self, ctx: Any, level: int) -> list[Any]:
        return await self.model.objects().where(self.model.level == level)  # type: ignore[no-any-return]

    async def page(self, ctx: Any, level: int, offset: int) -> list[Any]:
        query = self.model.objects().where(self.model.level == level).limit(20).offset(offset)
        return await query  # type: ignore[no-any-return]

    async def get(self, ctx: Any, pk: int) -> Any:
        return await self.model.objects().get(self.model.id == pk)

    async def dicts(self, ctx: Any, level: int) -> list[Any]:
        return await self.model.select().where(self.model.level == level)  # type: ignore[no-any-return]

    async def tuples(self, ctx: Any, level: int) -> list[Any]:
        rows = await self.model.select().where(self.model.level == level)
        return [tuple(row.values()) for row in rows]

    async def all(self) -> list[Any]:
        return await self.model.objects()  # type: ignore[no-any-return]

    async def update_whole(self, ctx: Any, obj: Any, level: int) -> None:
        obj.level = level
        obj.text = f"{obj.text} Update"
        await obj.save()

    async def update_partial(self, ctx: Any, obj: Any, level: int) -> None:
        obj.level = level
        await obj.save([self.model.level])

    async def delete(self, ctx: Any, obj: Any) -> None:
        await obj.remove()


# -- Django (sync) ------------------------------------------------------------------------------


class Django(Contender):
    """The Django ORM, synchronous, as that suite runs it: one thread, no concurrency."""

    name = "Django ORM (sync)"
    sync = True

    def setup_sync(self, backend: str, test: int, sqlite_path: str) -> None:
        import django
        from django.conf import settings

        if not settings.configured:
            settings.configure(
                DATABASES={
                    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path},
                    "postgresql": {
                        "ENGINE": "django.db.backends.postgresql",
                        "NAME": "test",
                        "USER": "postgres",
                        "HOST": "127.0.0.1",
                        "PORT": "5432",
                    },
                    "mysql": {
                        "ENGINE": "django.db.backends.mysql",
                        "NAME": "test",
                        "USER": "root",
                        "HOST": "127.0.0.1",
                        "PORT": "3306",
                    },
                },
                INSTALLED_APPS=[],
                USE_TZ=False,
                DEFAULT_AUTO_FIELD="django.db.models.AutoField",
            )
            django.setup()
        from django.db import connections

        self.alias = "default" if backend == "sqlite" else backend
        if backend == "sqlite":
            connections["default"].settings_dict["NAME"] = sqlite_path
            connections["default"].close()
        self.model = django_model(test)
        with connections[self.alias].schema_editor() as editor:
            editor.create_model(self.model)
        self.manager = self.model.objects.db_manager(self.alias)

    def teardown_sync(self) -> None:
        from django.db import connections

        with connections[self.alias].schema_editor() as editor:
            editor.delete_model(self.model)
        connections[self.alias].close()


def django_model(test: int) -> Any:
    from django.apps import apps
    from django.db import models

    name = f"DJournal{test}_{PID}"
    with contextlib.suppress(LookupError):
        apps.get_model("bench", name)
        apps.all_models["bench"].pop(name.lower(), None)
        apps.clear_cache()
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "timestamp": models.DateTimeField(auto_now_add=True),
        "level": models.SmallIntegerField(db_index=True),
        "text": models.CharField(max_length=255, db_index=True),
        "Meta": type("Meta", (), {"app_label": "bench", "db_table": table_name("django", test)}),
    }
    if test == 2:
        attrs["parent"] = models.ForeignKey(
            "self", null=True, on_delete=models.CASCADE, related_name="children"
        )
        attrs["related"] = models.ManyToManyField(
            "self", related_name="related_from", symmetrical=False
        )
    if test == 3:
        kinds = {
            "float": lambda o: models.FloatField(**o),
            "smallint": lambda o: models.SmallIntegerField(**o),
            "int": lambda o: models.IntegerField(**o),
            "bigint": lambda o: models.BigIntegerField(**o),
            "char": lambda o: models.CharField(max_length=255, **o),
            "text": lambda o: models.TextField(**o),
            "decimal": lambda o: models.DecimalField(max_digits=12, decimal_places=8, **o),
            "json": lambda o: models.JSONField(**o),
        }
        for column, kind, nullable in wide_columns():
            options: dict[str, Any] = (
                {"null": True} if nullable else {"default": WIDE_DEFAULTS[kind]}
            )
            attrs[column] = kinds[kind](options)
    return type(name, (models.Model,), attrs)


__all__ = ["Django", "Piccolo", "SQLAlchemy", "os"]
