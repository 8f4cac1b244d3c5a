"""Deletion and on_delete (Django's delete tests): CASCADE and SET_NULL by the
database, PROTECT, RESTRICT and SET_DEFAULT by the ORM, DO_NOTHING left to the
database, CASCADE of a foreign key without a database constraint done by the ORM."""

from __future__ import annotations

import pytest

from vivace.db import Database, ForeignKeyViolation
from vivace.orm import ProtectedError, QueryError, RestrictedError

from .library import make_library
from .models import Author, Book, Owner, Pet, Tag, Ticket, Toy

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_delete_object_and_queryset(db: Database) -> None:
    lib = await make_library()
    assert await lib.books["zen"].delete() == 1
    assert not await Book.objects.filter(title="zen").exists()
    # CASCADE (database): an author's books go; SET_NULL: edited books stay.
    assert await lib.ada.delete() == 1
    assert await Book.objects.filter(author_id=lib.ada.pk).count() == 0
    assert (await Book.objects.get(title="Bits")).editor_id is None
    # Join rows of the many-to-many go with the book.
    through = Book._meta.fields["tags"].through  # type: ignore[attr-defined]
    assert await through.objects.count() == 2  # only Bits' links are left
    assert await Tag.objects.filter(name="code").exists()
    assert await Book.objects.filter(pages__lt=100).delete() == 1
    assert await Book.objects.none().delete() == 0
    with pytest.raises(QueryError, match="sliced"):
        await Book.objects.all()[:1].delete()
    with pytest.raises(ValueError, match="primary key is None"):
        await Author(name="x").delete()
    # Deleting through a filter across a relation.
    assert await Book.objects.filter(author__name="Bob").delete() == 1
    assert await Book.objects.count() == 0


async def test_delete_one_object(db: Database) -> None:
    """One object of a model nothing collects for: one DELETE by its key, whatever the
    key's type; a second delete finds nothing."""
    tag = await Tag.objects.create(name="once")
    keep = await Tag.objects.create(name="kept")
    assert await tag.delete() == 1
    assert await tag.delete() == 0
    assert [t.name for t in await Tag.objects.all()] == ["kept"] and keep.pk is not None
    tickets = [await Ticket.objects.create(seat=n) for n in range(3)]
    assert await tickets[1].delete() == 1
    assert sorted(t.seat for t in await Ticket.objects.all()) == [0, 2]
    assert await tickets[1].delete() == 0


async def test_protect(db: Database) -> None:
    owner = await Owner.objects.create(name="o")
    pet = await Pet.objects.create(name="p", protect=owner)
    with pytest.raises(ProtectedError, match="PROTECT") as caught:
        await owner.delete()
    assert caught.value.protected_objects == [pet]
    assert await Owner.objects.filter(pk=owner.pk).exists() and await Pet.objects.count() == 1
    await pet.delete()
    assert await owner.delete() == 1


async def test_protect_reached_through_a_cascade(db: Database) -> None:
    owner = await Owner.objects.create(name="o")
    guard = await Owner.objects.create(name="guard")
    pet = await Pet.objects.create(name="p", cascade=owner, protect=guard)
    del pet
    # Deleting owner cascades to pet; nothing protects pet itself: fine.
    assert await owner.delete() == 1
    assert await Pet.objects.count() == 0


async def test_restrict(db: Database) -> None:
    owner = await Owner.objects.create(name="o")
    other = await Owner.objects.create(name="other")
    pet = await Pet.objects.create(name="p", restrict=owner)
    with pytest.raises(RestrictedError, match="RESTRICT") as caught:
        await owner.delete()
    assert caught.value.restricted_objects == [pet]
    # A restricting row deleted by the same deletion's cascade does not refuse it.
    carrier = await Pet.objects.create(name="carrier", cascade=other)
    await Toy.objects.create(pet=carrier, keeper=other)
    assert await other.delete() == 1
    assert await Toy.objects.count() == 0
    # But one outside the cascade does.
    third = await Owner.objects.create(name="third")
    loose_toy = await Toy.objects.create(pet=pet, keeper=third)
    with pytest.raises(RestrictedError) as caught:
        await third.delete()
    assert caught.value.restricted_objects == [loose_toy]


async def test_set_default_set_null_and_orm_cascade(db: Database) -> None:
    owner = await Owner.objects.create(name="o")
    pets = await Pet.objects.bulk_create(
        [
            Pet(name="d", set_default=owner),
            Pet(name="n", set_null=owner),
            Pet(name="l", loose=owner),  # CASCADE without a database constraint
        ]
    )
    assert await owner.delete() == 1
    remaining = {p.name: p for p in await Pet.objects.all()}
    assert set(remaining) == {"d", "n"}
    assert remaining["d"].set_default_id is None and remaining["n"].set_null_id is None
    del pets


async def test_do_nothing_leaves_it_to_the_database(db: Database) -> None:
    owner = await Owner.objects.create(name="o")
    await Pet.objects.create(name="x", nothing=owner)  # db_constraint=False: no check
    assert await owner.delete() == 1
    assert (await Pet.objects.get(name="x")).nothing_id == owner.pk  # dangling, as asked


async def test_database_errors_surface_as_vivace_db_errors(db: Database) -> None:
    with pytest.raises(ForeignKeyViolation):
        async with db.transaction():
            await Book.objects.create(title="orphan", author_id=999_999)
