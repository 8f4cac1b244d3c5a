"""Concurrency against the real servers: gathers of creates and updates inside and
outside transactions, get_or_create races (Django's get_or_create semantics)."""

from __future__ import annotations

import asyncio

import pytest

from vivace.db import Database
from vivace.orm import F

from .models import Author, Slot

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_gathered_creates_and_updates(live_db: Database) -> None:
    created = await asyncio.gather(*(Author.objects.create(name=f"g{i}", age=0) for i in range(20)))
    assert len({a.pk for a in created}) == 20
    await asyncio.gather(
        *(Author.objects.filter(pk=a.pk).update(age=F("age") + 1) for a in created)
    )
    await asyncio.gather(
        *(Author.objects.filter(name__startswith="g").update(age=F("age") + 1) for _ in range(5))
    )
    assert set(await Author.objects.values_list("age", flat=True)) == {6}


async def test_gathers_inside_one_transaction(live_db: Database) -> None:
    async with live_db.transaction():
        made = await asyncio.gather(*(Author.objects.create(name=f"t{i}") for i in range(10)))
        counts = await asyncio.gather(
            *(Author.objects.filter(name__startswith="t").count() for _ in range(5))
        )
        assert counts == [10] * 5
        await asyncio.gather(*(a.save() for a in made))
    assert await Author.objects.count() == 10
    with pytest.raises(RuntimeError):
        async with live_db.transaction():
            await asyncio.gather(*(Author.objects.create(name=f"r{i}") for i in range(10)))
            raise RuntimeError("roll back")
    assert await Author.objects.filter(name__startswith="r").count() == 0


async def test_get_or_create_race(live_db: Database) -> None:
    results = await asyncio.gather(
        *(Slot.objects.get_or_create(code="race", defaults={"count": i}) for i in range(8))
    )
    assert sum(created for _, created in results) == 1
    assert len({obj.pk for obj, _ in results}) == 1
    assert await Slot.objects.filter(code="race").count() == 1


async def test_get_or_create_race_inside_transactions(live_db: Database) -> None:
    # Under MySQL's default REPEATABLE READ a transaction cannot see a row another one
    # committed after it began, so get_or_create there needs READ COMMITTED (as with
    # Django); PostgreSQL reads committed rows by default, SQLite runs writers in turn.
    isolation = "read_committed" if live_db.url.backend == "mysql" else None

    async def one(i: int) -> tuple[Slot, bool]:
        async with live_db.transaction(isolation=isolation):
            return await Slot.objects.get_or_create(
                code="inner", defaults={"count": i, "label": f"l{i}"}
            )

    results = await asyncio.gather(*(one(i) for i in range(6)))
    assert sum(created for _, created in results) == 1
    assert await Slot.objects.filter(code="inner").count() == 1


async def test_update_or_create_race(live_db: Database) -> None:
    results = await asyncio.gather(
        *(
            Slot.objects.update_or_create(code="u", defaults={"count": i, "label": f"u{i}"})
            for i in range(6)
        )
    )
    assert sum(created for _, created in results) == 1
    final = await Slot.objects.get(code="u")
    assert final.label == f"u{final.count}"
