"""Every field type round-trips on every backend; defaults, choices and conversions."""

from __future__ import annotations

import datetime
import decimal
import math
import uuid

import pytest

from vivace.db import Database, DataError
from vivace.orm import F, Max, Min, Q, ValidationError

from .models import Color, Everything, Level, Slot

pytestmark = pytest.mark.asyncio(loop_scope="package")

VALUES = {
    "small": -(2**15),
    "integer": 2**31 - 1,
    "big": 2**53 + 1,
    "positive": 7,
    "ratio": 0.1 + 0.2,
    "price": decimal.Decimal("1234567890.12"),
    "name": "héllo ✓ 'quote' \"dq\" %_\\",
    "body": "x" * 70_000,
    "flag": True,
    "day": datetime.date(2024, 2, 29),
    "moment": datetime.datetime(2024, 2, 29, 23, 59, 58, 123456),
    "clock": datetime.time(12, 30, 15, 500001),
    "span": datetime.timedelta(days=3, seconds=7, microseconds=11),
    "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "doc": {"name": "Ada", "tags": ["x", 1, 2.5, None, True], "nested": {"k": {"deep": "v"}}},
    "blob": bytes(range(256)) * 3,
    "color": Color.GREEN,
    "level": Level.HIGH,
}


async def test_every_type_round_trips(db: Database) -> None:
    created = await Everything.objects.create(**VALUES)
    loaded = await Everything.objects.get(pk=created.pk)
    for name, value in VALUES.items():
        got = getattr(loaded, name)
        assert got == value, name
        assert type(got) is type(value) or isinstance(got, type(value)), name
    row = await Everything.objects.values(*VALUES).get(pk=created.pk)
    assert row == VALUES
    # The values also compare equal in filters (bound, converted for the backend).
    for name, value in VALUES.items():
        if name in ("doc", "blob", "body", "ratio"):
            continue
        assert await Everything.objects.filter(**{name: value}).count() == 1, name


async def test_float_field_reads_back_floats(db: Database) -> None:
    """A FloatField reads back as float on every backend, an integral value and an
    int written to it included, through every read path: SQLite's DOUBLE column (REAL
    affinity) stores them as REAL, so the loaders convert nothing there."""
    made = await Everything.objects.create(ratio=2.0)
    await Everything.objects.create(ratio=-0.5)
    await Everything.objects.filter(pk=made.pk).update(ratio=3)  # an int, bound as one
    loaded = await Everything.objects.get(pk=made.pk)
    rows = Everything.objects.filter(pk=made.pk)
    [listed] = await rows.values_list("ratio", flat=True)
    [as_dict] = await rows.values("ratio")
    [as_tuple] = await rows.values_list()
    extremes = await Everything.objects.aggregate(low=Min("ratio"), high=Max("ratio"))
    got = [loaded.ratio, listed, as_dict["ratio"], extremes["high"], extremes["low"]]
    assert got == [3.0, 3.0, 3.0, 3.0, -0.5]
    assert [type(value) for value in [*got, as_tuple[5]]] == [float] * 6


async def test_every_type_round_trips_through_every_write(db: Database) -> None:
    """save (insert and update), bulk_create and bulk_update bind positionally and, on
    PostgreSQL, without a cast per value (the column gives the type): every type
    arrives intact, NULLs included, whichever path wrote it."""
    empty = {name: None for name in VALUES if Everything._meta.get_field(name).null}
    made = await Everything.objects.bulk_create([Everything(**VALUES), Everything(**empty)])
    first, second = made
    for obj, wanted in ((first, VALUES), (second, empty)):
        row = await Everything.objects.values(*wanted).get(pk=obj.pk)
        assert row == wanted
    for name, value in VALUES.items():  # update: every column to the other object's value
        setattr(second, name, value)
        if name in empty:
            setattr(first, name, None)
    await second.save()
    await Everything.objects.bulk_update([first], fields=list(empty))
    assert await Everything.objects.values(*VALUES).get(pk=second.pk) == VALUES
    assert await Everything.objects.values(*empty).get(pk=first.pk) == empty
    await first.save(update_fields=["name", "doc"])
    assert (await Everything.objects.get(pk=first.pk)).name == VALUES["name"]


async def test_a_nan_float_is_stored_or_refused_never_turned_into_null(
    db: Database, backend: str
) -> None:
    """PostgreSQL stores NaN; MySQL and SQLite cannot, and refuse it with a DataError
    (SQLite used to bind it as NULL: "NOT NULL constraint failed" here, the value lost in
    a nullable column). Nothing is written."""
    before = await Everything.objects.count()
    if backend == "postgresql":
        made = await Everything.objects.create(ratio=math.nan)
        assert math.isnan((await Everything.objects.get(pk=made.pk)).ratio)
        return
    saved = await Everything.objects.create(ratio=1.5)
    saved.ratio = math.nan
    writes = [
        lambda: Everything.objects.create(ratio=math.nan),
        lambda: saved.save(update_fields=["ratio"]),
        lambda: Everything.objects.filter(pk=saved.pk).update(ratio=math.nan),
        lambda: Everything.objects.bulk_create([Everything(), Everything(ratio=math.nan)]),
    ]
    for write in writes:
        with pytest.raises(DataError, match="cannot store the float nan"):
            await write()
    assert await Everything.objects.count() == before + 1
    assert (await Everything.objects.get(pk=saved.pk)).ratio == 1.5


async def test_wrong_values_on_the_write_paths(db: Database, backend: str) -> None:
    """A value the column cannot take fails with vivace.db's error on each write path
    (bound positionally, no cast on PostgreSQL) and writes nothing."""
    if backend == "sqlite":
        pytest.skip("SQLite keeps any value in any column")
    before = await Everything.objects.count()
    writes = [
        lambda: Everything.objects.create(small=2**20),
        lambda: Everything.objects.bulk_create([Everything(), Everything(integer=2**40)]),
    ]
    saved = await Everything.objects.create()
    saved.small = 2**20
    writes.append(lambda: saved.save(update_fields=["small"]))
    writes.append(lambda: Everything.objects.bulk_update([saved], fields=["small"]))
    for write in writes:
        with pytest.raises(DataError):
            async with db.transaction():
                await write()
    assert await Everything.objects.count() == before + 1
    assert (await Everything.objects.get(pk=saved.pk)).small == 0


async def test_nulls_and_defaults(db: Database) -> None:
    obj = await Everything.objects.create()
    loaded = await Everything.objects.get(pk=obj.pk)
    assert (loaded.small, loaded.name, loaded.flag, loaded.price) == (
        0,
        "",
        False,
        decimal.Decimal("0.00"),
    )
    for name in ("day", "moment", "clock", "span", "uid", "doc", "blob", "color", "level"):
        assert getattr(loaded, name) is None, name
    assert await Everything.objects.filter(doc__isnull=True, blob=None).count() == 1


async def test_json_values(db: Database) -> None:
    for doc in ("a string", 12, 1.5, True, [1, "two"], {"a": {"b": [1, 2]}}):
        obj = await Everything.objects.create(doc=doc)
        assert (await Everything.objects.get(pk=obj.pk)).doc == doc
    await Everything.objects.create(doc={"owner": {"name": "Ada", "age": 36, "admin": True}})
    await Everything.objects.create(doc={"owner": {"name": "Bob", "age": 20, "admin": False}})
    by = Everything.objects.filter
    assert await by(doc__owner__name="Ada").count() == 1
    assert await by(doc__owner__age__gt=30).count() == 1
    assert await by(doc__owner__age__lte=30).count() == 1
    assert await by(doc__owner__admin=False).count() == 1
    assert await by(doc__owner__name__startswith="B").count() == 1
    assert await by(doc__owner__name__in=["Ada", "Bob"]).count() == 2
    assert await by(doc__owner__missing__isnull=False).count() == 0
    assert await by(doc__a__b__1=2).count() == 1  # array index
    assert await by(doc={"a": {"b": [1, 2]}}).count() == 1


async def test_date_parts_take_text(db: Database) -> None:
    # published__year="2024" from a query string: SQLite and MySQL cast the text,
    # PostgreSQL refused it (a driver DataError). Parsed now, as a filter on the field.
    moment = datetime.datetime(2024, 12, 30, 13, 45)
    obj = await Everything.objects.create(moment=moment, day=moment.date())
    by = Everything.objects.filter
    assert await by(moment__year="2024", moment__month__in=["12", 11]).get() == obj
    assert await by(moment__date="2024-12-30", day__day=" 30 ").get() == obj
    assert await by(moment__date=moment, moment__hour__gte=13.0).get() == obj
    for bad in ({"moment__year": "next"}, {"moment__date": "soon"}, {"day__month": [12]}):
        with pytest.raises(ValidationError, match=r"Everything\.(moment|day): expected"):
            await by(**bad).count()


async def test_json_key_none_is_json_null(db: Database) -> None:
    # As in Django: data__key=None matches a key holding JSON null, __isnull=True a
    # missing key. It matched nothing on every backend.
    null = await Everything.objects.create(name="null", doc={"k": None, "n": 1})
    await Everything.objects.create(name="missing", doc={"n": 2})
    await Everything.objects.create(name="value", doc={"k": 0})
    await Everything.objects.create(name="no document")
    assert await Everything.objects.get(doc__k=None) == null
    assert await Everything.objects.filter(doc__k__isnull=False).count() == 2
    names = Everything.objects.exclude(doc__k=None).order_by("name").values_list("name", flat=True)
    assert await names == ["missing", "no document", "value"]
    missing = Everything.objects.filter(doc__k__isnull=True, doc__isnull=False)
    assert await missing.values_list("name", flat=True) == ["missing"]


async def test_uuid_default_primary_like_value(db: Database) -> None:
    slot = await Slot.objects.create(code="a")
    assert isinstance(slot.uid, uuid.UUID)
    assert (await Slot.objects.get(uid=slot.uid)).code == "a"


async def test_enum_fields_take_values_or_members(db: Database) -> None:
    obj = await Everything.objects.create(color="red", level=1)
    assert obj.color is Color.RED and obj.level is Level.LOW  # the object holds members
    loaded = await Everything.objects.get(pk=obj.pk)
    assert loaded.color is Color.RED and loaded.level is Level.LOW
    assert await Everything.objects.filter(color=Color.RED).count() == 1
    assert await Everything.objects.filter(level__in=[Level.LOW, 2]).count() == 1
    assert await Everything.objects.filter(color="red", level="1").count() == 1
    # A value that is no member's: a ValidationError naming the field (it was the
    # enum's bare ValueError), before any SQL, in a write and in a filter.
    for bad in ({"color": "blue"}, {"level": 3}, {"level": "x"}, {"color": ["red"]}):
        with pytest.raises(ValidationError, match=r"Everything\.(color|level): expected"):
            await Everything.objects.create(**bad)
        with pytest.raises(ValidationError, match="expected"):
            await Everything.objects.filter(**bad).count()


async def test_aware_datetimes_are_stored_as_utc(db: Database) -> None:
    zone = datetime.timezone(datetime.timedelta(hours=2))
    obj = await Everything.objects.create(moment=datetime.datetime(2024, 1, 1, 12, 0, tzinfo=zone))
    loaded = await Everything.objects.get(pk=obj.pk)
    assert loaded.moment == datetime.datetime(2024, 1, 1, 10, 0)


async def test_date_parts(db: Database) -> None:
    # 2024-12-30 is a Monday in ISO week 1 of 2025.
    moment = datetime.datetime(2024, 12, 30, 13, 45, 59, 999999)
    obj = await Everything.objects.create(moment=moment, day=moment.date())
    parts = {
        "year": 2024,
        "iso_year": 2025,
        "quarter": 4,
        "month": 12,
        "week": 1,
        "day": 30,
        "week_day": 2,  # Sunday = 1
        "iso_week_day": 1,  # Monday = 1
        "hour": 13,
        "minute": 45,
        "second": 59,
    }
    for part, value in parts.items():
        found = await Everything.objects.filter(**{f"moment__{part}": value}).values_list(
            "pk", flat=True
        )
        assert list(found) == [obj.pk], part
        if part not in ("hour", "minute", "second"):
            found = await Everything.objects.filter(**{f"day__{part}": value}).values_list(
                "pk", flat=True
            )
            assert list(found) == [obj.pk], f"day__{part}"
    assert await Everything.objects.filter(moment__date=moment.date()).count() == 1
    assert (
        await Everything.objects.filter(moment__year__gte=2024, moment__month__lt=12).count() == 0
    )
    assert (
        await Everything.objects.filter(moment__date__gt=datetime.date(2024, 12, 29)).count() == 1
    )


async def test_decimal_and_duration_arithmetic(db: Database) -> None:
    obj = await Everything.objects.create(price=decimal.Decimal("10.50"), integer=3)
    await Everything.objects.filter(pk=obj.pk).update(integer=F("integer") * 2 + 1)
    loaded = await Everything.objects.get(pk=obj.pk)
    assert loaded.integer == 7
    assert (
        await Everything.objects.filter(
            Q(price__gt=decimal.Decimal("10.49")) & Q(price__lt=11)
        ).count()
        == 1
    )


async def test_partial_unique_constraint_and_db_column(db: Database, backend: str) -> None:
    from vivace.db import UniqueViolation

    from .models import Reservation

    first = await Reservation.objects.create(room=1)
    await Reservation.objects.create(room=1, active=False)  # inactive: allowed
    await Reservation.objects.create(room=1, active=False)
    column = await db.fetch_val(
        f"SELECT room_no FROM {Reservation._meta.table_name} WHERE id = :i", {"i": first.pk}
    )
    assert column == 1  # db_column names the column, the attribute stays "room"
    assert await Reservation.objects.filter(room=1).count() == 3
    if backend == "mysql":
        return  # MySQL has no partial indexes: the constraint is not created there
    with pytest.raises(UniqueViolation):
        async with db.transaction():
            await Reservation.objects.create(room=1)
