"""Values written by every write path are parsed per field type, as Django's
``to_python`` / ``get_prep_value`` parse them: text of the right kind becomes the
field's type (and the object keeps the parsed value), anything else raises
vivace.orm.ValidationError naming model and field before any SQL.  DecimalField values
are rounded and checked alike on every backend."""

from __future__ import annotations

import datetime
import decimal
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from vivace.db import Database, NotNullViolation
from vivace.orm import F, ValidationError

from .models import Author, Book, Color, Everything, Level, Slot, Tag

pytestmark = pytest.mark.asyncio(loop_scope="package")

D = decimal.Decimal
MOMENT = datetime.datetime(2024, 5, 1, 12, 30)
UID = uuid.UUID(int=7)

#: Values Django accepts for each field, and what the object holds after the write.
GIVEN: dict[str, Any] = {
    "small": "3",
    "integer": 4.0,
    "big": D("5"),
    "positive": " 6 ",
    "ratio": "0.5",
    "price": "1.5",
    "name": 7,
    "flag": "true",
    "day": "2024-05-01",
    "moment": "2024-05-01T12:30:00",
    "clock": MOMENT,
    "uid": str(UID),
    "blob": bytearray(b"xy"),
    "color": "red",
    "level": "2",
    "span": "1 day, 2:03:04.5",
}
PARSED: dict[str, Any] = {
    "small": 3,
    "integer": 4,
    "big": 5,
    "positive": 6,
    "ratio": 0.5,
    "price": D("1.50"),
    "name": "7",
    "flag": True,
    "day": MOMENT.date(),
    "moment": MOMENT,
    "clock": MOMENT.time(),
    "uid": UID,
    "blob": b"xy",
    "color": Color.RED,
    "level": Level.HIGH,
    "span": datetime.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500_000),
}


def _check_parsed(obj: Everything, names: Any = PARSED) -> None:
    for name in names:
        value = getattr(obj, name)
        assert value == PARSED[name] and isinstance(value, type(PARSED[name])), (name, value)


async def test_values_django_accepts_are_parsed_on_every_write_path(db: Database) -> None:
    # Before, SQLite stored the text "3" in an INTEGER column and kept "true" as text;
    # PostgreSQL refused most of them with a driver DataError. The object now holds the
    # parsed values after the write (Django leaves the raw ones on it).
    created = await Everything.objects.create(**GIVEN)
    _check_parsed(created)
    _check_parsed(await Everything.objects.get(pk=created.pk))

    built = Everything(**GIVEN)
    await built.save()
    _check_parsed(built)

    for name, value in GIVEN.items():  # save() of a stored object: UPDATE
        setattr(built, name, value)
    await built.save()
    _check_parsed(built)
    _check_parsed(await Everything.objects.get(pk=built.pk))

    built.integer = "40"  # type: ignore[assignment]
    await built.save(update_fields=["integer"])
    assert built.integer == 40 and (await Everything.objects.get(pk=built.pk)).integer == 40

    bulk = [Everything(**GIVEN), Everything(**GIVEN)]
    await Everything.objects.bulk_create(bulk, batch_size=1)
    for obj in bulk:
        _check_parsed(obj)
    for obj in bulk:
        obj.integer, obj.day = "9", "2025-01-02"  # type: ignore[assignment]
    await Everything.objects.bulk_update(bulk, ["integer", "day"])
    assert [(o.integer, o.day) for o in bulk] == [(9, datetime.date(2025, 1, 2))] * 2
    stored = Everything.objects.filter(pk__in=[o.pk for o in bulk])
    assert await stored.filter(integer=9, day=datetime.date(2025, 1, 2)).count() == 2

    assert await Everything.objects.filter(pk=created.pk).update(**GIVEN) == 1
    _check_parsed(await Everything.objects.get(pk=created.pk))
    assert await Everything.objects.filter(pk=created.pk).update(integer=F("integer") + 1) == 1
    assert (await Everything.objects.get(pk=created.pk)).integer == 5

    slot, made = await Slot.objects.get_or_create(code="a", defaults={"count": "5"})
    assert made and slot.count == 5
    slot, made = await Slot.objects.update_or_create(code="a", defaults={"count": "6"})
    assert not made and slot.count == 6
    slot, made = await Slot.objects.update_or_create(code="b", defaults={"count": " 7"})
    assert made and slot.count == 7
    assert sorted(await Slot.objects.values_list("count", flat=True)) == [6, 7]

    author = await Author.objects.create(name="a", age="41")
    book = await Book.objects.create(title="t", author_id=str(author.pk), published=MOMENT)
    assert (book.author_id, book.published) == (author.pk, MOMENT.date())
    assert await Book.objects.filter(published=MOMENT).get() == book  # a filter too
    # A Decimal for an integer field: the filter parser read repr(), "Decimal('5')".
    assert await Everything.objects.filter(big=D("5"), small__in=[D("3"), 1]).count() == 4


async def test_a_datetime_for_a_date_keeps_its_date(db: Database) -> None:
    # A datetime is a date subclass: it went to the driver as it was. SQLite stored its
    # text, "2024-05-01 23:30:00", which did not read back as a date.
    late = datetime.datetime(2024, 5, 1, 23, 30)
    obj = await Everything.objects.create(day=late)
    assert obj.day == late.date() and type(obj.day) is datetime.date
    assert (await Everything.objects.get(pk=obj.pk)).day == late.date()
    aware = datetime.datetime(
        2024, 5, 2, 1, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    await Everything.objects.filter(pk=obj.pk).update(day=aware)  # UTC, as DateTimeField
    assert (await Everything.objects.get(pk=obj.pk)).day == datetime.date(2024, 5, 1)


DURATIONS = [  # Django's DurationField reads these (str(timedelta), ISO 8601, PostgreSQL)
    ("3 days, 4:05:06.000007", datetime.timedelta(3, 4 * 3600 + 5 * 60 + 6, 7)),
    ("-1 day, 23:00:00", datetime.timedelta(hours=-1)),
    ("3 days 04:05:06", datetime.timedelta(3, 4 * 3600 + 5 * 60 + 6)),
    ("1:02", datetime.timedelta(minutes=1, seconds=2)),
    ("12.5", datetime.timedelta(seconds=12.5)),
    ("-0:00:01", datetime.timedelta(seconds=-1)),
    ("P4DT1H15M20.5S", datetime.timedelta(4, 4520.5)),
    ("-P2W", datetime.timedelta(weeks=-2)),
    (" PT90M ", datetime.timedelta(minutes=90)),
]


async def test_durations_from_text(db: Database) -> None:
    # A DurationField took no text: SQLite and MySQL failed in its conversion with a
    # TypeError, PostgreSQL with a driver error.
    for text, duration in DURATIONS:
        obj = await Everything.objects.create(span=text)
        assert obj.span == duration, text
        assert (await Everything.objects.get(pk=obj.pk)).span == duration, text
        assert await Everything.objects.filter(pk=obj.pk, span=text).count() == 1
    for text in ("", "P", "PT", "1:2:3:4", "1.5:00", "1 day", "1e5", "12.1234567", "9" * 20):
        with pytest.raises(ValidationError, match=r"Everything\.span: expected timedelta"):
            await Everything.objects.create(span=text)


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("Everything.integer", {"integer": "abc"}, "expected int, got 'abc'"),
    ("Everything.integer", {"integer": "1.5"}, "expected int"),
    ("Everything.integer", {"integer": [1]}, "expected int, got a list"),
    ("Everything.integer", {"integer": "1e1000000"}, "expected int"),
    ("Everything.ratio", {"ratio": "half"}, "expected float"),
    ("Everything.price", {"price": "1,50"}, "expected Decimal"),
    ("Everything.flag", {"flag": "maybe"}, "expected bool"),
    ("Everything.flag", {"flag": 2}, "expected bool"),
    ("Everything.day", {"day": "yesterday"}, "expected date"),
    ("Everything.moment", {"moment": "2024-13-01"}, "expected datetime"),
    ("Everything.clock", {"clock": "noon"}, "expected time"),
    ("Everything.uid", {"uid": "not-a-uuid"}, "expected UUID"),
    ("Everything.name", {"name": {"a": 1}}, "expected str, got a dict"),
    ("Everything.blob", {"blob": "text"}, "expected bytes, got a str"),
    ("Everything.color", {"color": "blue"}, "expected Color"),
    ("Everything.span", {"span": "soon"}, "expected timedelta, got 'soon'"),
    ("Everything.span", {"span": "P1Y"}, "expected timedelta"),
    ("Everything.span", {"span": 5}, "expected timedelta, got a int"),
]


def _writes(
    saved: Everything, values: dict[str, Any]
) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    def update() -> Everything:
        for name, value in values.items():
            setattr(saved, name, value)
        return saved

    names = list(values)
    return [
        ("create", lambda: Everything.objects.create(**values)),
        ("save new", lambda: Everything(**values).save()),
        ("save", lambda: update().save()),
        ("update_fields", lambda: update().save(update_fields=names)),
        ("update", lambda: Everything.objects.filter(pk=saved.pk).update(**values)),
        (
            "bulk_create",
            lambda: Everything.objects.bulk_create([Everything(), Everything(**values)]),
        ),
        ("bulk_update", lambda: Everything.objects.bulk_update([update()], names)),
        ("get_or_create", lambda: Everything.objects.get_or_create(name="new", defaults=values)),
        (
            "update_or_create",
            lambda: Everything.objects.update_or_create(pk=saved.pk, defaults=values),
        ),
    ]


@pytest.mark.parametrize(("where", "values", "message"), BAD, ids=[repr(b[1]) for b in BAD])
async def test_a_value_that_does_not_parse_is_refused_before_any_sql(
    db: Database, where: str, values: dict[str, Any], message: str
) -> None:
    # Each backend did something else: SQLite stored "abc" in the INTEGER column,
    # PostgreSQL raised a driver DataError (which aborts the transaction), MySQL
    # truncated it to 0. Run inside one transaction: on PostgreSQL a statement that
    # failed there would make the count below fail too.
    saved = await Everything.objects.create(integer=1)
    async with db.transaction():
        for path, write in _writes(saved, values):
            with pytest.raises(ValidationError) as caught:
                await write()
            assert str(caught.value).startswith(f"{where}: {message}"), (path, caught.value)
            assert caught.value.errors.keys() == {where}
            saved = await Everything.objects.get(pk=saved.pk)  # the stored values again
        assert await Everything.objects.count() == 1
    assert saved.integer == 1


async def test_every_bad_field_of_an_object_is_named(db: Database) -> None:
    with pytest.raises(ValidationError) as caught:
        await Everything.objects.create(integer="x", flag=[], day="2024-02-30")
    assert caught.value.errors.keys() == {"Everything.integer", "Everything.flag", "Everything.day"}
    first, second = Everything(), Everything(integer="x")
    with pytest.raises(ValidationError):  # the first batch is not sent either
        await Everything.objects.bulk_create([first, second], batch_size=1)
    assert first.pk is None and await Everything.objects.count() == 0


async def test_update_and_filter_name_every_bad_value(db: Database) -> None:
    # As create() does: each value that does not parse, and each of a type the field
    # never takes (a list for a BooleanField), is named; nothing is sent.
    made = await Everything.objects.create(integer=5)
    with pytest.raises(ValidationError) as caught:
        await Everything.objects.all().update(integer="x", flag=[], day="2024-02-30")
    assert caught.value.errors == {
        "Everything.integer": ["expected int, got 'x'"],
        "Everything.flag": ["expected bool, got a list"],
        "Everything.day": ["expected date, got '2024-02-30'"],
    }
    assert (await Everything.objects.get(pk=made.pk)).integer == 5
    with pytest.raises(ValidationError) as caught:
        await Everything.objects.filter(flag=[], integer__in=["y", 3, "z"]).count()
    assert caught.value.errors == {
        "Everything.flag": ["expected bool, got a list"],
        "Everything.integer": ["expected int, got 'y'", "expected int, got 'z'"],
    }
    # The same shape with good values still runs (the refusal is per value, not cached).
    assert await Everything.objects.filter(integer__in=["5", 3, "7"]).count() == 1


async def test_hostile_values_are_refused_quickly_and_briefly(db: Database) -> None:
    # int() of Decimal("1e1000000") builds a million-digit integer: a filter value (or
    # a written one) such as "1e1000000" held the CPU for minutes. A 1 MB string is cut
    # short in the message.
    for value in ("1e1000000", "-9e999999999", "1" * 1_000_000):
        started = time.process_time()
        with pytest.raises(ValidationError) as caught:
            await Everything.objects.filter(integer=value).count()
        with pytest.raises(ValidationError):
            await Everything.objects.create(integer=value)
        assert time.process_time() - started < 2
        assert len(str(caught.value)) < 200
    with pytest.raises(ValidationError, match=r"Book\.author: expected Author, got a Tag"):
        await Book.objects.update(author=await Tag.objects.create(name="t"))


async def test_none_for_a_non_null_field_is_the_databases_integrity_error(
    db: Database, backend: str
) -> None:
    # As Django: the NOT NULL column refuses it, with an IntegrityError that names the
    # column on SQLite (.constraint) and PostgreSQL (its message).
    for write in (
        lambda: Everything.objects.create(integer=None),
        lambda: Everything.objects.bulk_create([Everything(integer=None)]),
    ):
        with pytest.raises(NotNullViolation) as caught:
            async with db.transaction():
                await write()
        assert "integer" in (caught.value.constraint or caught.value.message)
    obj = await Everything.objects.create(day=None, moment=None)  # null=True: kept
    assert (obj.day, obj.moment) == (None, None)


# -- DecimalField ------------------------------------------------------------------------

ROUNDED = [  # what PostgreSQL and MySQL store in NUMERIC(12, 2): half away from zero
    ("0.125", D("0.13")),
    ("0.135", D("0.14")),
    ("-0.125", D("-0.13")),
    (D("2.675"), D("2.68")),
    (1.005, D("1.01")),  # the float's shortest text, 1.005 (its binary value is below)
    (D("0.1249999"), D("0.12")),
    (7, D("7.00")),
    ("9999999999.994", D("9999999999.99")),
    (D("-1E+9"), D("-1000000000.00")),
]


async def test_decimals_are_rounded_alike_on_every_backend(db: Database) -> None:
    # SQLite kept the float it was given and read it back rounded half to even
    # (0.125 -> 0.12) where PostgreSQL and MySQL stored 0.13.
    for given, stored in ROUNDED:
        obj = await Everything.objects.create(price=given)
        assert obj.price == stored and obj.price.as_tuple() == stored.as_tuple(), given
        loaded = (await Everything.objects.get(pk=obj.pk)).price
        assert loaded.as_tuple() == stored.as_tuple(), (given, loaded)
        await Everything.objects.filter(pk=obj.pk).update(price=given)
        loaded = (await Everything.objects.get(pk=obj.pk)).price
        assert loaded.as_tuple() == stored.as_tuple(), (given, loaded)
    objs = await Everything.objects.bulk_create([Everything(price=g) for g, _ in ROUNDED])
    assert [o.price for o in objs] == [s for _, s in ROUNDED]
    stored_prices = await Everything.objects.filter(pk__in=[o.pk for o in objs]).values_list(
        "price", flat=True
    )
    assert sorted(stored_prices) == sorted(s for _, s in ROUNDED)


TOO_BIG = [  # NUMERIC(12, 2): at most 10 digits before the point
    ("10000000000", "at most 10 digits before the point"),
    ("9999999999.995", "at most 10 digits before the point"),  # rounds to 11 digits
    (D("-1E+10"), "at most 10 digits before the point"),
    ("1e1000000", "at most 10 digits before the point"),
    ("NaN", "must be a finite number"),
    (float("inf"), "must be a finite number"),
    (D("-Infinity"), "must be a finite number"),
]


@pytest.mark.parametrize(("given", "problem"), TOO_BIG, ids=[repr(t[0]) for t in TOO_BIG])
async def test_decimals_beyond_max_digits_are_refused_on_every_backend(
    db: Database, given: Any, problem: str
) -> None:
    # PostgreSQL and MySQL refused them with a DataError; SQLite stored them.
    saved = await Everything.objects.create()
    async with db.transaction():
        for path, write in _writes(saved, {"price": given}):
            with pytest.raises(ValidationError, match=rf"^Everything\.price: {problem}") as caught:
                await write()
            assert len(str(caught.value)) < 200, path
            saved = await Everything.objects.get(pk=saved.pk)
        assert await Everything.objects.count() == 1
    assert saved.price == D("0.00")
