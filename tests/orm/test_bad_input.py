"""Bad input: unknown names say which model and what the choices are; names cannot
smuggle SQL (filters, order_by, values, annotate); values are always bound."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest

from vivace.db import Database, DataError, NotNullViolation
from vivace.orm import Count, F, FieldError, ORMError, Q, QueryError, ValidationError

from .models import Author, Book, Everything, Tag

pytestmark = pytest.mark.asyncio(loop_scope="package")

HOSTILE = [
    "name; DROP TABLE x",
    "name) OR 1=1 --",
    "name' OR '1'='1",
    'name" --',
    "name`",
    "__class__",
    "_meta",
    "name\x00",
    "",
    "x" * 10_000,
]


async def test_unknown_fields_name_the_model_and_the_choices(db: Database) -> None:
    with pytest.raises(FieldError) as caught:
        await Author.objects.filter(nmae="x")
    message = str(caught.value)
    assert "Author" in message and "'nmae'" in message and "name" in message and "age" in message
    with pytest.raises(FieldError, match=r"'titel'.*Book.*title"):
        await Book.objects.filter(author__books__titel="x")
    with pytest.raises(FieldError, match=r"unsupported lookup 'containz'.*choices.*icontains"):
        await Author.objects.filter(name__containz="x")
    with pytest.raises(FieldError, match="unsupported lookup 'year'"):
        await Author.objects.filter(name__year=1)
    with pytest.raises(FieldError, match="Author"):
        await Author.objects.order_by("nope")
    with pytest.raises(FieldError, match="choices"):
        await Author.objects.values("nope")
    with pytest.raises(FieldError, match="choices"):
        await Author.objects.only("nope")
    with pytest.raises(FieldError):
        await Author.objects.annotate(n=Count("nope"))
    with pytest.raises(FieldError):
        await Author.objects.filter(age=F("nope"))
    with pytest.raises(
        TypeError, match=r"unexpected keyword argument\(s\) 'nmae' \(fields: id, name"
    ):
        Author(nmae="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="many-to-many"):
        Book(title="x", tags=[])  # type: ignore[call-arg]
    assert issubclass(FieldError, ORMError) and issubclass(FieldError, ValueError)


@pytest.mark.parametrize("name", HOSTILE)
async def test_hostile_names_never_reach_sql(db: Database, name: str) -> None:
    await Author.objects.create(name="safe")
    attempts = [
        lambda: Author.objects.filter(**{name: 1}),
        lambda: Author.objects.filter(**{f"name__{name}": 1}),
        lambda: Author.objects.exclude(Q(**{name: 1})),
        lambda: Author.objects.order_by(name),
        lambda: Author.objects.order_by(f"-{name}"),
        lambda: Author.objects.values(name),
        lambda: Author.objects.values_list(name, flat=True),
        lambda: Author.objects.annotate(**{name: Count("books")}),
        lambda: Author.objects.values(**{name: F("age")}),
        lambda: Author.objects.annotate(n=Count(name)),
        lambda: Author.objects.filter(age=F(name)),
        lambda: Author.objects.only(name),
        lambda: Author.objects.select_related(name),
        lambda: Author.objects.prefetch_related(name),
    ]
    for attempt in attempts:
        with pytest.raises((FieldError, QueryError)):
            await attempt()
    assert await Author.objects.count() == 1  # the table is still there, untouched


async def test_values_are_bound_not_spliced(db: Database) -> None:
    evil = ["x'); DROP TABLE t; --", "%", "_", "\\", "' OR '1'='1", "é" * 100]
    for text in evil:
        await Tag.objects.create(name=text[:20])
    for text in evil:
        assert await Tag.objects.filter(name=text[:20]).count() == 1
        assert await Tag.objects.filter(name__contains=text[:20]).count() >= 1
    assert await Tag.objects.count() == len(evil)


async def test_wrong_value_types(db: Database) -> None:
    with pytest.raises(QueryError, match="isnull"):
        await Author.objects.filter(name__isnull="yes")
    with pytest.raises(QueryError, match="list"):
        await Author.objects.filter(age__in=5)
    with pytest.raises(QueryError, match="list"):
        await Author.objects.filter(age__in="abc")
    with pytest.raises(QueryError, match="two values"):
        await Author.objects.filter(age__range=(1, 2, 3))
    with pytest.raises(QueryError, match="None"):
        await Author.objects.filter(age__gt=None)
    with pytest.raises(QueryError, match="Q objects"):
        Author.objects.filter("age=1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Author.objects.all()["x"]  # type: ignore[index]


async def test_database_errors_keep_their_tree(db: Database, backend: str) -> None:
    with pytest.raises(NotNullViolation):
        async with db.transaction():
            await Author.objects.create(name=None)  # type: ignore[arg-type]
    if backend != "sqlite":  # SQLite keeps any integer in any integer column
        with pytest.raises(DataError):
            async with db.transaction():
                await Everything.objects.create(small=2**40)
    if backend == "postgresql":
        with pytest.raises(DataError):  # PostgreSQL text cannot hold NUL
            async with db.transaction():
                await Tag.objects.create(name="a\x00b")
    deep = Q(name="a")
    for _ in range(200):
        deep = Q(deep) | Q(name="b")
    assert await Author.objects.filter(deep).count() == 0


async def test_integers_beyond_64_bits_are_data_errors(db: Database, backend: str) -> None:
    # Issue 19: a path parameter such as /todos/99999999999999999999999 reaches the ORM
    # as an int no backend can store: DataError on every backend, not OverflowError.
    huge = 10**23
    if backend == "mysql":  # MySQL compares it as a DECIMAL: simply no row
        assert await Author.objects.filter(pk=huge).first() is None
    else:
        with pytest.raises(DataError):
            await Author.objects.filter(pk=huge).first()
        with pytest.raises(DataError):
            await Author.objects.filter(age__in=[1, huge]).count()
    writes = [
        lambda: Everything.objects.create(big=huge),
        lambda: Everything.objects.bulk_create([Everything(big=1), Everything(big=huge)]),
        lambda: Everything.objects.update(big=huge),
    ]
    await Everything.objects.create(big=1)
    for write in writes:
        with pytest.raises(DataError) as caught:
            async with db.transaction():
                await write()
        assert str(huge) not in str(caught.value)
    assert [e.big for e in await Everything.objects.all()] == [1]


async def test_filter_values_of_another_type(db: Database) -> None:
    # A value the column cannot hold did something else on each backend: PostgreSQL a
    # driver DataError, SQLite no row, MySQL truncated 'abc' to 0 (and a date to
    # nothing) and matched the rows holding that. Now a ValidationError naming the
    # field on every backend; text of the right kind is parsed, as Django does.
    moment = datetime.datetime(2024, 5, 1, 12, 30)
    uid = uuid.UUID(int=7)
    row = await Everything.objects.create(
        integer=0,
        ratio=0.5,
        price=decimal.Decimal("1.50"),
        name="7",
        flag=True,
        day=moment.date(),
        moment=moment,
        clock=moment.time(),
        uid=uid,
    )
    author = await Author.objects.create(name="zero", age=0)
    await Book.objects.create(title="b", author=author)
    bad: list[tuple[str, dict[str, Any]]] = [
        ("Everything.integer", {"integer": "abc"}),
        ("Everything.integer", {"integer": "1.5"}),
        ("Everything.integer", {"integer": 0.5}),
        ("Everything.integer", {"integer": [0]}),
        ("Everything.integer", {"integer__in": [0, "x"]}),
        ("Everything.integer", {"integer__gt": datetime.date(2024, 1, 1)}),
        ("Everything.ratio", {"ratio": "half"}),
        ("Everything.price", {"price": "1,50"}),
        ("Everything.flag", {"flag": "maybe"}),
        ("Everything.flag", {"flag": 2}),
        ("Everything.day", {"day": "yesterday"}),
        ("Everything.moment", {"moment__gt": "yesterday"}),
        ("Everything.moment", {"moment__range": ("2024-01-01", {})}),
        ("Everything.clock", {"clock": "noon"}),
        ("Everything.uid", {"uid": "not-a-uuid"}),
        ("Everything.uid", {"uid": 7}),
        ("Everything.name", {"name": ["7"]}),
        ("Book.author", {"author": "zero"}),
        ("Book.author", {"author_id__in": ["zero"]}),
    ]
    for where, lookup in bad:
        with pytest.raises(ValidationError, match=f"{where}: expected"):
            await Everything.objects.filter(**lookup).count() if where.startswith(
                "Everything"
            ) else await Book.objects.filter(**lookup).count()
    same = Everything.objects.filter
    assert await same(integer="0", ratio="0.5", price="1.5", flag="true", day="2024-05-01").get()
    assert await same(moment="2024-05-01T12:30:00", clock="12:30", uid=str(uid)).get() == row
    assert await same(moment__gte=moment.date(), name=7, integer__in=["0", 1.0]).get() == row
    assert await same(moment="2024-05-01T14:30:00+02:00").get() == row  # aware: UTC
    assert await Book.objects.filter(author=str(author.pk)).count() == 1


async def test_filter_by_an_object_of_another_model(db: Database) -> None:
    # Django: "Cannot query 'x': Must be 'Author' instance." Its key was compared with
    # the other table's, matching whichever row happened to have that number.
    author = await Author.objects.create(name="a")
    tag = await Tag.objects.create(name="t")
    book = await Book.objects.create(title="b", author=author)
    with pytest.raises(ValidationError, match=r"Book\.author: expected Author, got a Tag"):
        await Book.objects.filter(author=tag).count()
    with pytest.raises(ValidationError, match="expected Author, got a Tag"):
        await Book.objects.filter(author__in=[author, tag]).count()
    with pytest.raises(ValidationError, match=r"Author\.id: expected Author, got a Tag"):
        await Author.objects.filter(pk=tag).count()
    assert await Book.objects.filter(author=author).get() == book
    assert await Author.objects.filter(pk=author).get() == author
