"""annotate() and aggregate(): Count/Sum/Avg/Min/Max, distinct=, filter=, GROUP BY
through values(), HAVING through filters on aggregates (Django's aggregation tests)."""

from __future__ import annotations

import datetime
import decimal

import pytest
import pytest_asyncio

from vivace.db import Database
from vivace.orm import Avg, Count, F, Max, Min, Q, QueryError, Sum, ValidationError

from .library import Library, make_library
from .models import Author, Book, Tag

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest_asyncio.fixture(loop_scope="package")
async def lib(db: Database) -> Library:
    return await make_library()


async def test_aggregate(lib: Library) -> None:
    result = await Book.objects.aggregate(
        total=Sum("pages"), mean=Avg("pages"), low=Min("price"), high=Max("published"), n=Count("*")
    )
    assert result == {
        "total": 710,
        "mean": 142.0,
        "low": decimal.Decimal("1.00"),
        "high": datetime.date(2020, 2, 29),
        "n": 5,
    }
    assert type(result["total"]) is int and type(result["mean"]) is float
    assert await Book.objects.aggregate(Sum("pages")) == {"pages__sum": 710}
    assert await Book.objects.filter(pages__gt=1000).aggregate(s=Sum("pages"), c=Count("id")) == {
        "s": None,
        "c": 0,
    }
    assert await Book.objects.none().aggregate(c=Count("id"), s=Sum("pages")) == {"c": 0, "s": None}
    assert await Book.objects.aggregate(n=Count("rating")) == {"n": 4}  # NULLs are not counted
    assert await Book.objects.aggregate(n=Count("author", distinct=True)) == {"n": 3}
    assert await Book.objects.aggregate(n=Count("id", filter=Q(pages__gt=100))) == {"n": 3}
    assert await Book.objects.aggregate(s=Sum(F("pages") * 2)) == {"s": 1420}
    with pytest.raises(QueryError, match="not an aggregate"):
        await Book.objects.aggregate(x=F("pages"))


async def test_sums_of_integer_expressions_are_ints(lib: Library) -> None:
    # SUM of an integer expression was a Decimal on MySQL, and of a Count annotation (a
    # bigint) a Decimal on PostgreSQL too, an int on SQLite.
    sums = await Book.objects.aggregate(twice=Sum(F("pages") * 2), plus=Sum(F("pages") + 1))
    assert sums == {"twice": 1420, "plus": 715}
    assert all(type(value) is int for value in sums.values())
    counted = Author.objects.annotate(n=Count("books"))
    total = await counted.aggregate(books=Sum("n"), most=Max("n"))
    assert total == {"books": 5, "most": 2} and type(total["books"]) is int
    rows = await Book.objects.values("author__name").annotate(p=Sum(F("pages") * 2))
    assert all(type(row["p"]) is int for row in rows)
    ratings = await Book.objects.aggregate(r=Sum(F("rating") * 2))
    assert ratings == {"r": 33.0} and type(ratings["r"]) is float


async def test_filters_on_annotations_parse_text(lib: Library) -> None:
    # n__gt="1" from a query string: PostgreSQL refused the text (a driver DataError).
    counted = Author.objects.annotate(n=Count("books")).order_by("name")
    assert await counted.filter(n__gt="1").values_list("name", flat=True) == ["Ada", "Bob"]
    assert await counted.filter(n__in=["1", 5]).values_list("name", flat=True) == ["Cy"]
    with pytest.raises(ValidationError, match=r"Author\.n: expected int, got 'many'"):
        await counted.filter(n__gt="many").count()


async def test_annotate_counts_per_row(lib: Library) -> None:
    authors = await Author.objects.annotate(n=Count("books")).order_by("name")
    assert [(a.name, a.n) for a in authors] == [("Ada", 2), ("Bob", 2), ("Cy", 1)]  # type: ignore[attr-defined]
    tags = await Tag.objects.annotate(
        n=Count("books", distinct=True), total=Sum("books__pages")
    ).order_by("name")
    assert [(t.name, t.n, t.total) for t in tags] == [
        ("code", 1, 80),
        ("history", 1, 300),
        ("math", 3, 500),
    ]  # type: ignore[attr-defined]
    filtered = await Author.objects.annotate(
        big=Count("books", filter=Q(books__pages__gt=150))
    ).order_by("name")
    assert [a.big for a in filtered] == [1, 1, 0]  # type: ignore[attr-defined]
    # Filters on an aggregate go to HAVING; on anything else to WHERE.
    many = await Author.objects.annotate(n=Count("books")).filter(n__gt=1).order_by("name")
    assert [a.name for a in many] == ["Ada", "Bob"]
    assert await Author.objects.annotate(n=Count("books")).filter(n__gt=1, age__gt=30).count() == 1
    ordered = await Author.objects.annotate(n=Count("books"), top=Max("books__pages")).order_by(
        "-top"
    )
    assert [a.name for a in ordered] == ["Ada", "Bob", "Cy"]
    mean = await Author.objects.annotate(n=Count("books")).aggregate(mean=Avg("n"))
    assert mean["mean"] == pytest.approx(5 / 3, abs=1e-3)  # MySQL: 4 decimal places
    doubled = (
        await Book.objects.annotate(double=F("pages") * 2)
        .filter(double__gt=300)
        .values_list("title", flat=True)
    )
    assert sorted(doubled) == ["Analytical Engine", "Bytes & 100% Pure_Data"]
    with pytest.raises(QueryError, match="conflicts"):
        await Author.objects.annotate(name=Count("books"))
    with pytest.raises(QueryError, match="name"):
        Author.objects.annotate(F("age"))  # type: ignore[arg-type]


async def test_values_then_annotate_groups(lib: Library) -> None:
    rows = (
        await Book.objects.values("author__name")
        .annotate(n=Count("id"), total=Sum("pages"))
        .order_by("author__name")
    )
    assert rows == [
        {"author__name": "Ada", "n": 2, "total": 420},
        {"author__name": "Bob", "n": 2, "total": 280},
        {"author__name": "Cy", "n": 1, "total": 10},
    ]
    default_alias = (
        await Author.objects.annotate(Count("books")).filter(books__count__gte=2).count()
    )
    assert default_alias == 2
    published = Book.objects.filter(published__isnull=False)
    prolific = await published.values("author").annotate(n=Count("id")).filter(n__gte=2)
    assert [r["author"] for r in prolific] == [lib.ada.pk]
    assert await Book.objects.values("author").annotate(n=Count("id")).count() == 3
    flat = (
        await Book.objects.values_list("author__name")
        .annotate(n=Count("tags"))
        .order_by("author__name")
    )
    assert flat == [("Ada", 3), ("Bob", 2), ("Cy", 0)]
