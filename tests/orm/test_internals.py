"""How the ORM works inside: SQL compiled once per shape, the no-RETURNING insert path,
the database binding, table creation."""

from __future__ import annotations

import uuid

import pytest

from vivace import orm
from vivace.db import Database, DatabaseNotConnected
from vivace.orm import F, ModelDefinitionError, ORMError, Q
from vivace.orm._queryset import _ByKey
from vivace.orm._registry import connection_for

from .models import Author, Base, Book, Slot, Tag, Ticket

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_sql_is_compiled_once_per_shape(db: Database) -> None:
    connection = connection_for(db)
    await Author.objects.filter(name="a", age__gt=1).order_by("-age")[2:5]
    size = len(connection.cache)
    for name in ("b", "c", "d"):
        for age in (1, 2):
            await Author.objects.filter(name=name, age__gt=age).order_by("-age")[age : age + 9]
    assert len(connection.cache) == size  # same shape: no new compiled statement
    await Author.objects.filter(name=None, age__gt=1).order_by("-age")[2:5]
    assert len(connection.cache) == size + 1  # None is IS NULL: another shape
    await Author.objects.filter(Q(name="a") | Q(name="b")).count()
    await Author.objects.filter(Q(name="x") | Q(name="y")).count()
    assert len(connection.cache) == size + 2


async def test_multi_row_insert_sql_is_sqlalchemys(db: Database) -> None:
    """bulk_create's multi-row INSERT, made by repeating the one-row statement's VALUES
    group, is the SQL SQLAlchemy renders for those rows, for every model here (every
    field type) and conflict mode."""
    import sqlalchemy as sa

    from vivace.orm import _writes

    from .models import ALL

    connection = connection_for(db)
    for model in ALL:
        meta = model._meta
        attnames = tuple(f.attname for f in meta.concrete if not f.auto_increment)
        for ignore in (False, True):
            for rows in (2, 7):
                made = _writes._insert_statement(connection, model, attnames, rows, ignore)
                columns: list[tuple[str, str, object]] = []
                table = meta.table
                statement = (
                    _writes._insert_ignoring(connection, table) if ignore else sa.insert(table)
                )
                statement = statement.values(
                    [
                        _writes._parameters(model, attnames, connection.backend, columns)
                        for _ in range(rows)
                    ]
                )
                wanted = [f for f in meta.concrete if f.attname not in attnames]
                if connection.returning and not ignore and wanted:
                    statement = statement.returning(*[table.c[f.attname] for f in wanted])
                assert made.sql == _writes._render(connection, statement), model
                # Converters are made per call (closures): compare where there is one.
                assert [(n, a, t is None) for n, a, t in made.columns] == [
                    (n, a, t is None) for n, a, t in columns
                ]


async def test_insert_without_returning(db: Database) -> None:
    connection = connection_for(db)
    saved = connection.returning
    connection.returning = False  # as on MySQL without RETURNING (MariaDB has it)
    try:
        if db.url.backend != "mysql":
            pytest.skip("a key reported with the INSERT (execute_insert) is MySQL's")
        tag = await Tag.objects.create(name="no-returning")
        assert isinstance(tag.pk, int)
        assert (await Tag.objects.get(pk=tag.pk)).name == "no-returning"
        slot = Slot(code="c", label="l")
        await Slot.objects.bulk_create([slot])
        assert await Slot.objects.filter(code="c").exists()
    finally:
        connection.returning = saved
        connection.cache.clear()


async def test_single_insert_takes_the_key_from_the_insert(db: Database) -> None:
    """MySQL and MariaDB report an AUTO_INCREMENT key with the INSERT: save() asks no
    RETURNING for it (MariaDB's would send a result set to read), but does for other
    columns the database fills in, and bulk_create keeps RETURNING for every row's key."""
    from vivace.orm import _writes

    connection = connection_for(db)
    mysql = db.url.backend == "mysql"
    single = _writes._insert_statement(connection, Tag, ("name",), 1, False, single=True)
    bulk = _writes._insert_statement(connection, Tag, ("name",), 1, False)
    assert ("RETURNING" in single.sql) is (not mysql)
    assert ("RETURNING" in bulk.sql) is connection.returning
    tags = [await Tag.objects.create(name=f"key {n}") for n in range(3)]
    keys = [tag.pk for tag in tags]
    assert all(isinstance(key, int) for key in keys) and keys == sorted(set(keys))
    for tag in tags:
        assert (await Tag.objects.get(pk=tag.pk)).name == tag.name

    class Counter(orm.Model):
        label = orm.CharField(max_length=10)
        hits = orm.IntegerField(db_default=0)

    counted = _writes._insert_statement(connection, Counter, ("label",), 1, False, single=True)
    assert ("RETURNING" in counted.sql) is connection.returning
    assert [attname for attname, _ in counted.returning] == (
        ["id", "hits"] if connection.returning else []
    )


async def test_database_binding(db: Database, orm_database: Database) -> None:
    orm.unbind()
    try:
        with pytest.raises(ORMError, match="bind"):
            await Tag.objects.count()
        assert await Tag.objects.using(db).count() == 0
    finally:
        orm.bind(db)
    lonely = Database("sqlite://")
    with pytest.raises(DatabaseNotConnected):
        await Tag.objects.using(lonely).count()


async def test_tables_helpers(db: Database) -> None:
    with pytest.raises(ModelDefinitionError, match="abstract"):
        await orm.create_tables(Base)

    class Later(orm.Model):
        other = orm.ForeignKey("NeverDefined", on_delete=orm.CASCADE)

    with pytest.raises(ModelDefinitionError, match="NeverDefined"):
        await orm.create_tables(Later)


async def test_refresh_and_misc(db: Database) -> None:
    author = await Author.objects.create(name="r", age=1)
    await Author.objects.filter(pk=author.pk).update(age=F("age") + 1)
    await author.refresh_from_db()
    assert author.age == 2
    await author.save(update_fields=["age"])
    assert repr(Author.objects) == "<Manager Author>"
    assert repr(Author.objects.all()) == "<QuerySet Author>"
    book = await Book.objects.create(title="t", author=author)
    assert repr(author.books).startswith("<ReverseManager Author.books")
    assert repr(book.tags).startswith("<ManyToManyManager Book.tags")
    assert await Author.objects.filter(books__in=Book.objects.filter(title="t")).count() == 1
    assert await Author.objects.exists() and await Author.objects.first() is not None
    assert (await Author.objects.last()) is not None
    assert (await Author.objects.earliest("age")).age == 2
    assert (await Author.objects.latest("age")).age == 2
    assert [a.name async for a in Author.objects.iterator(chunk_size=1)] == ["r"]
    assert await Author.objects.in_bulk() == {author.pk: author}
    assert await Author.objects.aggregate(n=orm.Count("id")) == {"n": 1}
    assert len(await Author.objects.only("name").defer("age").distinct()) == 1


async def test_get_by_primary_key_fast_path(db: Database) -> None:
    tag = await Tag.objects.create(name="fast")
    assert (await Tag.objects.get(pk=tag.pk)).name == "fast"
    assert (await Tag.objects.get(id=tag.pk)).name == "fast"
    assert (await Tag.objects.using(db).get(pk=tag.pk)).name == "fast"
    with pytest.raises(Tag.DoesNotExist):
        await Tag.objects.get(pk=tag.pk + 1000)
    # Not the fast path: a filtered queryset keeps its conditions.
    with pytest.raises(Tag.DoesNotExist):
        await Tag.objects.filter(name="other").get(pk=tag.pk)
    # A key the backend stores converted (a UUID as text on SQLite and MySQL), given as
    # a list of values (PostgreSQL, MySQL) or a mapping (SQLite: SQLAlchemy's OFFSET).
    ticket = await Ticket.objects.create(seat=4)
    assert (await Ticket.objects.get(pk=ticket.code)).seat == 4
    assert (await Ticket.objects.get(code=ticket.code)).code == ticket.code
    with pytest.raises(Ticket.DoesNotExist):
        await Ticket.objects.get(pk=uuid.uuid4())
    by_key = connection_for(db).cache[(_ByKey, Ticket)]
    assert by_key.positional is (db.url.backend != "sqlite")


async def test_update_and_delete_sql_is_sqlalchemys(db: Database) -> None:
    """save()'s UPDATE by key and delete()'s DELETE by key, written out by the ORM, are
    the SQL SQLAlchemy renders for them, for every model here and several column sets
    (in the table's order, as save() sends them; SQLAlchemy orders SET so)."""
    import sqlalchemy as sa

    from vivace.orm import _deletion, _writes

    from .models import ALL

    connection = connection_for(db)
    for model in ALL:
        meta = model._meta
        table = meta.table
        key = table.c[meta.pk.attname]
        settable = tuple(f.attname for f in meta.concrete if not f.primary_key)
        for attnames in {settable, settable[:1], settable[-2:]}:
            if not attnames:
                continue
            made = _writes._update_statement(connection, model, attnames)
            columns: list[tuple[str, str, object]] = []
            values = _writes._parameters(model, attnames, connection.backend, columns)
            statement = (
                sa.update(table).values(values).where(key == sa.literal_column(f":p{len(columns)}"))
            )
            assert made.sql == _writes._render(connection, statement), model
            assert [a for _, a, _ in made.columns] == [*attnames, meta.pk.attname]
        sql = _deletion.delete_statement(connection, model)[0]
        wanted = sa.delete(table).where(key == sa.literal_column(":pk"))
        assert sql == _writes._render(connection, wanted), model
