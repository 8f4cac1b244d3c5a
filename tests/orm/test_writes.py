"""Writes: save (insert/update, update_fields), create, update(), bulk_create,
bulk_update, get_or_create, update_or_create, select_for_update, and transactions
shared with raw SQL (Django's get_or_create, bulk_create and update tests)."""

from __future__ import annotations

import datetime

import pytest

from vivace.db import Database, IntegrityError, UniqueViolation
from vivace.orm import F, FieldError, ORMError, QueryError

from .models import Author, Book, Country, Slot, Stamped, Tag, Ticket

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_save_inserts_then_updates(db: Database) -> None:
    author = Author(name="Ada")
    assert (
        author.pk is None and repr(author) == "Author(id=None, name='Ada', age=30, country_id=None)"
    )
    await author.save()
    assert isinstance(author.pk, int)
    author.age = 37
    await author.save()
    assert (await Author.objects.get(pk=author.pk)).age == 37
    author.name, author.age = "Ada L.", 40
    await author.save(update_fields=["age"])
    fresh = await Author.objects.get(pk=author.pk)
    assert (fresh.name, fresh.age) == ("Ada", 40)
    await author.save(update_fields=[])  # nothing to do
    with pytest.raises(FieldError, match="choices"):
        await author.save(update_fields=["nope"])
    with pytest.raises(FieldError, match="cannot be updated"):
        await author.save(update_fields=["id"])


async def test_update_fields_and_partly_loaded_saves(db: Database) -> None:
    """update_fields are checked on every save (the checked list is kept per model and
    list, a refused one never is); a whole save of a partly loaded object sets only the
    columns it loaded."""
    author = await Author.objects.create(name="Ada", age=30)
    for _ in range(2):
        with pytest.raises(FieldError, match="choices"):
            await author.save(update_fields=["nope"])
        with pytest.raises(FieldError, match="cannot be updated"):
            await author.save(update_fields=("age", "id"))
    author.name, author.age = "B", 31
    await author.save(update_fields=(name for name in ["age"]))  # any iterable
    await author.save(update_fields=("age",))
    fresh = await Author.objects.get(pk=author.pk)
    assert (fresh.name, fresh.age) == ("Ada", 31)
    await author.save(update_fields=["name", "age"])
    assert (await Author.objects.get(pk=author.pk)).name == "B"
    part = await Author.objects.only("name").get(pk=author.pk)
    part.name = "C"
    await part.save()
    fresh = await Author.objects.get(pk=author.pk)
    assert (fresh.name, fresh.age) == ("C", 31)
    ticket = await Ticket.objects.create(seat=1)
    ticket.seat = 2
    await ticket.save()
    assert (await Ticket.objects.get(pk=ticket.pk)).seat == 2
    with pytest.raises(ORMError, match="did not affect"):
        await Ticket(seat=3).save(force_update=True)


async def test_save_with_explicit_key_updates_or_inserts(db: Database) -> None:
    first = await Author.objects.create(name="first")
    again = Author(id=first.pk, name="replaced")
    await again.save()  # an existing key: UPDATE (as Django)
    assert (await Author.objects.get(pk=first.pk)).name == "replaced"
    fresh = Author(id=first.pk + 1000, name="new")
    await fresh.save()  # no such row: INSERT with that key
    assert (await Author.objects.get(pk=first.pk + 1000)).name == "new"
    with pytest.raises(ORMError, match="did not affect"):
        await Author(id=first.pk + 2000, name="x").save(force_update=True)
    with pytest.raises(UniqueViolation):
        async with db.transaction():
            await Author(id=first.pk, name="dup").save(force_insert=True)
    with pytest.raises(QueryError):
        await first.save(force_insert=True, force_update=True)


async def test_insert_of_a_partly_loaded_object(db: Database) -> None:
    """Columns only()/defer() left out are left out of the INSERT too (column default)."""
    fr = await Country.objects.create(name="France")
    first = await Author.objects.create(name="a", age=3, country=fr)
    copy = await Author.objects.only("name", "age").get(pk=first.pk)
    copy.pk = None
    await copy.save(force_insert=True)
    assert copy.pk != first.pk
    fresh = await Author.objects.get(pk=copy.pk)
    assert (fresh.name, fresh.age, fresh.country_id) == ("a", 3, None)


async def test_auto_now_fields(db: Database) -> None:
    before = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    obj = await Stamped.objects.create(note="a")
    assert before <= obj.created <= obj.modified
    assert obj.day == obj.created.date()
    first_modified = obj.modified
    obj.note = "b"
    await obj.save()
    assert obj.modified > first_modified and obj.created <= first_modified
    loaded = await Stamped.objects.get(pk=obj.pk)
    assert (loaded.created, loaded.modified) == (obj.created, obj.modified)
    obj.note = "c"
    await obj.save(update_fields=["note"])  # auto_now is not in update_fields: unchanged
    assert (await Stamped.objects.get(pk=obj.pk)).modified == obj.modified
    given = datetime.datetime(2000, 1, 1)
    explicit = await Stamped.objects.create(created=given)
    assert explicit.created == given


async def test_queryset_update(db: Database) -> None:
    fr = await Country.objects.create(name="France")
    await Author.objects.bulk_create([Author(name=f"a{i}", age=i) for i in range(5)])
    assert await Author.objects.filter(age__lt=2).update(country=fr) == 2
    assert await Author.objects.filter(country=fr).count() == 2
    assert await Author.objects.filter(country__name="France").update(age=F("age") + 100) == 2
    assert sorted(await Author.objects.values_list("age", flat=True)) == [2, 3, 4, 100, 101]
    assert await Author.objects.filter(age__gt=1000).update(age=0) == 0
    assert await Author.objects.none().update(age=0) == 0
    assert await Author.objects.update(country=None) == 5
    with pytest.raises(QueryError, match="sliced"):
        await Author.objects.all()[:2].update(age=1)
    with pytest.raises(QueryError):
        await Author.objects.update()
    with pytest.raises(FieldError, match="choices"):
        await Author.objects.update(nope=1)
    with pytest.raises(FieldError, match="many-to-many"):
        await Book.objects.update(tags=None)


async def test_bulk_create_sets_keys(db: Database, backend: str) -> None:
    tags = await Tag.objects.bulk_create([Tag(name=f"t{i}") for i in range(25)], batch_size=10)
    assert all(isinstance(t.pk, int) for t in tags)
    assert len({t.pk for t in tags}) == 25
    names = await Tag.objects.in_bulk([t.pk for t in tags])
    assert all(names[t.pk].name == t.name for t in tags)
    assert await Tag.objects.bulk_create([]) == []
    # Conflicts: refused, or skipped with ignore_conflicts.
    with pytest.raises(IntegrityError):
        async with db.transaction():
            await Tag.objects.bulk_create([Tag(name="t0"), Tag(name="fresh")])
    assert not await Tag.objects.filter(name="fresh").exists()  # all or nothing
    await Tag.objects.bulk_create([Tag(name="t0"), Tag(name="fresh")], ignore_conflicts=True)
    assert await Tag.objects.filter(name__in=["t0", "fresh"]).count() == 2
    with pytest.raises(TypeError):
        await Tag.objects.bulk_create([Author(name="x")])  # type: ignore[list-item]
    with pytest.raises(QueryError):
        await Tag.objects.bulk_create([Tag(name="y")], batch_size=0)


async def test_bulk_create_transactions(live_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """One statement runs alone (atomic by itself, no BEGIN/COMMIT around it); several
    run in one transaction, a savepoint inside the caller's; all or nothing either way."""
    opened: list[bool] = []
    transaction = Database.transaction

    def counting(self: Database, *args: object, **kwargs: object) -> object:
        opened.append(self.in_transaction())
        return transaction(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Database, "transaction", counting)
    await Tag.objects.bulk_create([Tag(name="a"), Tag(name="b")])
    assert opened == []
    with pytest.raises(IntegrityError):  # a duplicate after a fresh row: neither written
        await Tag.objects.bulk_create([Tag(name="fresh"), Tag(name="a")])
    assert opened == [] and not await Tag.objects.filter(name="fresh").exists()
    with pytest.raises(IntegrityError):  # two statements: the first one is rolled back
        await Tag.objects.bulk_create([Tag(name="fresh"), Tag(name="b")], batch_size=1)
    assert opened == [False] and not await Tag.objects.filter(name="fresh").exists()
    async with live_db.transaction():  # inside a transaction: a savepoint, kept usable
        opened.clear()
        await Tag.objects.bulk_create([Tag(name="c")])
        with pytest.raises(IntegrityError):
            await Tag.objects.bulk_create([Tag(name="d"), Tag(name="c")])
        await Tag.objects.bulk_create([Tag(name="e")])
    assert opened == [True, True, True]  # each bulk_create in a savepoint
    names = await Tag.objects.order_by("name").values_list("name", flat=True)
    assert names == ["a", "b", "c", "e"]


async def test_bulk_update(db: Database) -> None:
    authors = await Author.objects.bulk_create([Author(name=f"a{i}", age=i) for i in range(6)])
    for author in authors:
        author.age += 10
        author.name = author.name.upper()
    assert await Author.objects.bulk_update(authors, ["age"], batch_size=4) == 6
    rows = await Author.objects.order_by("age").values_list("name", "age")
    assert rows == [(f"a{i}", i + 10) for i in range(6)]
    assert await Author.objects.bulk_update([], ["age"]) == 0
    with pytest.raises(QueryError):
        await Author.objects.bulk_update(authors, [])
    with pytest.raises(FieldError):
        await Author.objects.bulk_update(authors, ["id"])
    with pytest.raises(QueryError):
        await Author.objects.bulk_update([Author(name="unsaved")], ["age"])


async def test_get_or_create_and_update_or_create(db: Database) -> None:
    slot, created = await Slot.objects.get_or_create(code="a", defaults={"count": 5})
    assert created and slot.count == 5
    again, created = await Slot.objects.get_or_create(code="a", defaults={"count": 9})
    assert not created and again.pk == slot.pk and again.count == 5
    lazy, created = await Slot.objects.get_or_create(code="b", defaults={"count": lambda: 7})
    assert created and lazy.count == 7
    updated, created = await Slot.objects.update_or_create(code="a", defaults={"count": 6})
    assert not created and updated.count == 6
    assert (await Slot.objects.get(code="a")).count == 6
    made, created = await Slot.objects.update_or_create(
        code="c", defaults={"count": 1}, create_defaults={"count": 2, "label": "new"}
    )
    assert created and (made.count, made.label) == (2, "new")
    # Lookups with __ are used to find, not to create.
    found, created = await Slot.objects.get_or_create(code__startswith="a")
    assert not created and found.code == "a"
    with pytest.raises(Slot.MultipleObjectsReturned):
        await Slot.objects.get_or_create(count__gte=0)


async def test_select_for_update(db: Database, backend: str) -> None:
    await Slot.objects.bulk_create([Slot(code=f"s{i}", label=f"s{i}") for i in range(3)])
    async with db.transaction():
        locked = await Slot.objects.select_for_update().filter(code="s1")
        assert [s.code for s in locked] == ["s1"]
        nowait = await Slot.objects.select_for_update(nowait=True).order_by("code")
        assert len(nowait) == 3
        skipped = await Slot.objects.select_for_update(skip_locked=True).select_related().count()
        assert skipped == 3
    with pytest.raises(QueryError):
        Slot.objects.select_for_update(nowait=True, skip_locked=True)


async def test_orm_and_raw_sql_share_a_transaction(db: Database) -> None:
    table = Author._meta.table_name
    with pytest.raises(RuntimeError):
        async with db.transaction():
            author = await Author.objects.create(name="tx")
            await db.execute(
                f"UPDATE {table} SET age = :age WHERE id = :id", {"age": 99, "id": author.pk}
            )
            assert (await Author.objects.get(pk=author.pk)).age == 99
            raise RuntimeError("roll back")
    assert not await Author.objects.filter(name="tx").exists()
    async with db.transaction():
        author = await Author.objects.create(name="kept")
        count = await db.fetch_val(f"SELECT count(*) FROM {table} WHERE name = :n", {"n": "kept"})
        assert count == 1
    assert await Author.objects.filter(name="kept").exists()


async def test_integrity_error_inside_a_transaction_leaves_nothing(db: Database) -> None:
    await Tag.objects.create(name="taken")
    with pytest.raises(UniqueViolation):
        async with db.transaction():
            await Tag.objects.create(name="first")
            await Tag.objects.bulk_create([Tag(name="second")])
            await Tag.objects.create(name="taken")
    assert await Tag.objects.filter(name__in=["first", "second"]).count() == 0
    assert await Tag.objects.count() == 1
