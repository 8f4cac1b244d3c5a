"""QuerySet: filters, lookups, Q and F, ordering, slicing, values, and the rest.

Semantics follow Django's tests (queries, lookup): exclude() keeps NULL rows,
filters on multi-valued relations match per related row, None means IS NULL.
"""

from __future__ import annotations

import datetime
import decimal

import pytest
import pytest_asyncio

from vivace.db import Database
from vivace.orm import F, FieldError, NotSupportedError, Q, QueryError, QuerySet

from .library import Library, make_library
from .models import Author, Book, Country, Tag

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest_asyncio.fixture(loop_scope="package")
async def lib(db: Database) -> Library:
    return await make_library()


async def titles(qs: QuerySet[Book]) -> list[str]:
    return sorted(await qs.values_list("title", flat=True))


async def test_filter_exclude_and_chaining(lib: Library) -> None:
    assert await titles(Book.objects.filter(pages__gt=100)) == [
        "Analytical Engine",
        "Bytes & 100% Pure_Data",
        "Notes",
    ]
    assert await titles(Book.objects.filter(pages__gt=100).exclude(author=lib.bob)) == [
        "Analytical Engine",
        "Notes",
    ]
    assert await titles(Book.objects.filter(pages__gt=100, price__lt=10)) == ["Notes"]
    qs = Book.objects.all()
    narrowed = qs.filter(pages__lt=100)
    assert await qs.count() == 5 and await narrowed.count() == 2  # immutable


async def test_lookups(lib: Library) -> None:
    f = Book.objects.filter
    assert await titles(f(title="Notes")) == ["Notes"]
    assert await titles(f(title__exact="Notes")) == ["Notes"]
    assert await titles(f(title__iexact="NOTES")) == ["Notes"]
    assert await titles(f(title__contains="it")) == ["Bits"]
    assert await titles(f(title__contains="IT")) == []  # case-sensitive on every backend
    assert await titles(f(title__icontains="IT")) == ["Bits"]
    assert await titles(f(title__startswith="B")) == ["Bits", "Bytes & 100% Pure_Data"]
    assert await titles(f(title__startswith="b")) == []
    assert await titles(f(title__istartswith="b")) == ["Bits", "Bytes & 100% Pure_Data"]
    assert await titles(f(title__endswith="s")) == ["Bits", "Notes"]
    assert await titles(f(title__iendswith="S")) == ["Bits", "Notes"]
    assert await titles(f(title__in=["zen", "Bits", "nope"])) == ["Bits", "zen"]
    assert await titles(f(title__in=[])) == []
    assert await titles(f(pages__gte=200)) == ["Analytical Engine", "Bytes & 100% Pure_Data"]
    assert await titles(f(pages__lte=80)) == ["Bits", "zen"]
    assert await titles(f(pages__lt=80)) == ["zen"]
    assert await titles(f(pages__range=(80, 120))) == ["Bits", "Notes"]
    assert await titles(f(published__isnull=True)) == ["Bytes & 100% Pure_Data"]
    assert await titles(f(published=None)) == ["Bytes & 100% Pure_Data"]
    assert await titles(f(published__isnull=False)) == ["Analytical Engine", "Bits", "Notes", "zen"]
    assert await titles(f(title__regex=r"^[A-Z][a-z]+$")) == ["Bits", "Notes"]
    assert await titles(f(title__iregex=r"^Z")) == ["zen"]
    assert await titles(f(published__year=1843)) == ["Analytical Engine", "Notes"]
    assert await titles(f(published__month__gte=5)) == ["Bits", "Notes"]
    assert await titles(f(published__gt=datetime.date(2000, 1, 1))) == ["Bits", "zen"]
    assert await titles(f(price=decimal.Decimal("5.00"))) == ["Notes"]
    assert await titles(f(rating__gt=4.2)) == ["Analytical Engine", "zen"]


async def test_like_wildcards_in_values_match_themselves(lib: Library) -> None:
    f = Book.objects.filter
    assert await titles(f(title__contains="100%")) == ["Bytes & 100% Pure_Data"]
    assert await titles(f(title__contains="%")) == ["Bytes & 100% Pure_Data"]
    assert await titles(f(title__icontains="_")) == ["Bytes & 100% Pure_Data"]
    assert await titles(f(title__startswith="%")) == []
    assert await titles(f(title__contains="!")) == []
    await Book.objects.create(title="a!b", author=lib.cy)
    assert await titles(f(title__icontains="!")) == ["a!b"]


async def test_q_objects(lib: Library) -> None:
    f = Book.objects.filter
    assert await titles(f(Q(title="zen") | Q(pages=80))) == ["Bits", "zen"]
    assert await titles(f(Q(pages__gt=100) & ~Q(title__startswith="A"))) == [
        "Bytes & 100% Pure_Data",
        "Notes",
    ]
    assert await titles(f(~Q(title="zen"), pages__lt=100)) == ["Bits"]
    assert await titles(f(Q(author__name="Ada") | Q(author__name="Cy"), Q(pages__lt=150))) == [
        "Notes",
        "zen",
    ]
    assert await titles(f(Q())) == sorted(lib.books)
    nested = Q(Q(title="zen") | Q(Q(pages=80) & Q(price__gt=1)))
    assert await titles(f(nested)) == ["Bits", "zen"]


async def test_exclude_keeps_null_rows(lib: Library) -> None:
    # rating is NULL for "Bits": excluding rating=5 keeps it (Django's semantics).
    assert "Bits" in await titles(Book.objects.exclude(rating=5.0))
    assert await titles(Book.objects.exclude(rating__gt=3)) == ["Bits", "Notes"]
    assert await titles(Book.objects.filter(~Q(editor__name="Bob"))) == [
        "Analytical Engine",
        "Bits",
        "Bytes & 100% Pure_Data",
        "zen",
    ]


async def test_f_expressions(lib: Library) -> None:
    assert await titles(Book.objects.filter(pages__gt=F("price") * 20)) == ["Notes"]
    assert await titles(Book.objects.filter(author__age__gt=F("editor__age"))) == ["Notes"]
    assert await titles(Book.objects.filter(pages=F("pages"))) == sorted(lib.books)
    updated = await Book.objects.filter(author=lib.ada).update(pages=F("pages") + 1)
    assert updated == 2
    assert await titles(Book.objects.filter(pages__in=[301, 121])) == ["Analytical Engine", "Notes"]
    ordered = await Book.objects.order_by(F("pages").desc()).values_list("title", flat=True)
    assert ordered[0] == "Analytical Engine"


async def test_ordering_and_reverse(lib: Library) -> None:
    by_pages = await Book.objects.order_by("pages").values_list("pages", flat=True)
    assert by_pages == [10, 80, 120, 200, 300]
    assert await Book.objects.order_by("-pages").values_list("pages", flat=True) == by_pages[::-1]
    assert (
        await Book.objects.order_by("pages").reverse().values_list("pages", flat=True)
        == by_pages[::-1]
    )
    # Meta.ordering applies by default, order_by() with nothing removes it.
    assert [a.name for a in await Author.objects.all()] == ["Ada", "Bob", "Cy"]
    assert [a.name for a in await Author.objects.reverse()] == ["Cy", "Bob", "Ada"]
    by_author = await Book.objects.order_by("author__name", "-pages").values_list(
        "title", flat=True
    )
    assert by_author == ["Analytical Engine", "Notes", "Bytes & 100% Pure_Data", "Bits", "zen"]
    nulls_last = await Book.objects.order_by(F("published").asc(nulls_last=True)).values_list(
        "title", flat=True
    )
    assert nulls_last[-1] == "Bytes & 100% Pure_Data"
    nulls_first = await Book.objects.order_by(F("published").desc(nulls_first=True)).values_list(
        "title", flat=True
    )
    assert nulls_first[0] == "Bytes & 100% Pure_Data"
    for bad in ("", "-", "-?", "+?"):
        with pytest.raises(QueryError, match="not a field name"):
            Book.objects.order_by(bad)


async def test_random_order(lib: Library, backend: str) -> None:
    # Random: every order of the five titles shows up within a bounded number of draws
    # (a fixed order would fail); the rows are always the same five.
    qs = Book.objects.order_by("?").values_list("title", flat=True)
    firsts = set()
    for _ in range(200):
        found = await qs
        assert sorted(found) == sorted(lib.books)
        firsts.add(found[0])
        if len(firsts) == len(lib.books):
            break
    assert len(firsts) == len(lib.books)
    # Combined with other keys as Django does: "?" where it stands in the ordering.
    by_author = await Book.objects.order_by("author__name", "?").values_list(
        "author__name", flat=True
    )
    assert by_author == ["Ada", "Ada", "Bob", "Bob", "Cy"]
    shuffled_within = set()
    for _ in range(200):
        ada = await Book.objects.filter(author=lib.ada).order_by("-pages", "?")
        assert [b.title for b in ada] == ["Analytical Engine", "Notes"]
        shuffled_within.add(tuple(b.title for b in await Book.objects.order_by("?", "pages")[:2]))
        if len(shuffled_within) > 1:
            break
    assert len(shuffled_within) > 1
    # reverse(), first(), slicing, counting and values keep working with it.
    assert len(await Book.objects.order_by("?").reverse()[:3]) == 3
    assert (await Book.objects.order_by("?").first()) is not None
    assert await Book.objects.order_by("?").count() == 5
    sql = QuerySet(Book).order_by("?")._query
    assert sql.order == ("?",)
    with pytest.raises(QueryError, match="union"):
        await Book.objects.filter(pages__lt=100).union(Book.objects.all()).order_by("?")


async def test_distinct_on_fields(lib: Library, backend: str) -> None:
    by_author = Book.objects.distinct("author").order_by("author", "-pages")
    if backend != "postgresql":
        with pytest.raises(NotSupportedError, match=f"not supported by {backend}"):
            await by_author
        with pytest.raises(QueryError):  # a NotSupportedError is a QueryError
            await by_author.count()
        assert await Book.objects.distinct().count() == 5  # no fields: everywhere
        return
    # One book per author: the one ordered first (the most pages).
    assert [b.title for b in await by_author] == [
        "Analytical Engine",
        "Bytes & 100% Pure_Data",
        "zen",
    ]
    assert await by_author.count() == 3
    assert await by_author.exists()
    # Across a relation, with values(), the key spelt several ways, and reversed.
    names = (
        await Book.objects.values_list("author__name", "title")
        .distinct("author__name")
        .order_by("author__name", "pages")
    )
    assert names == [("Ada", "Notes"), ("Bob", "Bits"), ("Cy", "zen")]
    assert len(await Book.objects.distinct("author_id").order_by("author__id")) == 3
    assert len(await Book.objects.distinct("author", "pk").order_by("pk", "author")) == 5
    assert len(await Book.objects.distinct("author", "pk").order_by("author")) == 5
    newest_first = Book.objects.distinct("author").order_by("author", "pages").reverse()
    assert [b.title for b in await newest_first] == [
        "zen",
        "Bytes & 100% Pure_Data",
        "Analytical Engine",
    ]
    assert len(await Book.objects.distinct("title").order_by()) == 5  # no ordering at all
    # The ordering must start with the distinct fields (PostgreSQL's rule, checked first).
    with pytest.raises(QueryError, match=r"distinct\('author'\).*order_by\(\) starts"):
        await Book.objects.distinct("author").order_by("pages", "author")
    with pytest.raises(QueryError, match="must start with the distinct fields"):
        await Book.objects.distinct("author").order_by("?")
    # Meta.ordering counts as the ordering (Author: by name).
    with pytest.raises(QueryError, match=r"Meta\.ordering"):
        await Author.objects.distinct("age")
    assert len(await Author.objects.distinct("name")) == 3
    with pytest.raises(FieldError, match="titel"):
        await Book.objects.distinct("titel").order_by()
    with pytest.raises(FieldError, match="is not a field path"):
        await Book.objects.distinct("title__icontains").order_by()
    with pytest.raises(QueryError, match="update"):
        await Book.objects.distinct("author").order_by("author").update(pages=1)


async def test_distinct_arguments(db: Database) -> None:
    for bad in ("", 3, None):
        with pytest.raises(QueryError, match="field names"):
            Book.objects.distinct(bad)  # type: ignore[arg-type]
    assert Book.objects.distinct("a", "a", "b")._query.distinct == ("a", "b")
    assert Book.objects.distinct()._query.distinct is True
    with pytest.raises(QueryError, match="delete"):
        await Book.objects.distinct("title").delete()


async def test_slicing_first_last_and_indexing(lib: Library) -> None:
    qs = Book.objects.order_by("pages")
    assert [b.pages for b in await qs[1:3]] == [80, 120]
    assert [b.pages for b in await qs[3:]] == [200, 300]
    assert [b.pages for b in await qs[:2][1:]] == [80]
    assert [b.pages for b in await qs[1:4][:1]] == [80]
    assert await qs[10:20] == []
    assert (await qs[2]).pages == 120
    with pytest.raises(IndexError):
        await qs[99]
    assert (await qs.first()).pages == 10  # type: ignore[union-attr]
    assert (await qs.last()).pages == 300  # type: ignore[union-attr]
    assert (await Book.objects.filter(pages=-1).first()) is None
    assert (await Book.objects.earliest("published")).title in (
        "Analytical Engine",
        "Bytes & 100% Pure_Data",
    )
    assert (await Book.objects.latest("pages")).title == "Analytical Engine"
    with pytest.raises(QueryError):
        qs[1:3].filter(pages=1)
    with pytest.raises(QueryError):
        qs[::2]
    with pytest.raises(QueryError):
        qs[-1:]


async def test_get_and_its_errors(lib: Library) -> None:
    assert (await Book.objects.get(title="zen")).pages == 10
    with pytest.raises(Book.DoesNotExist, match="Book matching query does not exist"):
        await Book.objects.get(title="nope")
    with pytest.raises(Book.MultipleObjectsReturned, match="returned more than one Book"):
        await Book.objects.get(author=lib.ada)
    from vivace.orm import MultipleObjectsReturned, ObjectDoesNotExist

    assert issubclass(Book.DoesNotExist, ObjectDoesNotExist)
    assert not issubclass(Book.DoesNotExist, Author.DoesNotExist)
    assert issubclass(Book.MultipleObjectsReturned, MultipleObjectsReturned)


async def test_count_exists_and_none(lib: Library) -> None:
    assert await Book.objects.count() == 5
    assert await Book.objects.filter(pages__gt=1000).count() == 0
    assert await Book.objects.filter(title="zen").exists()
    assert not await Book.objects.filter(title="nope").exists()
    empty = Book.objects.none()
    assert await empty == [] and await empty.count() == 0 and not await empty.exists()
    assert await empty.values_list("title", flat=True) == []
    assert await Book.objects.order_by("pages")[1:3].count() == 2
    assert await Book.objects.distinct().count() == 5
    assert await Book.objects.filter(tags__name="math").count() == 3


async def test_values_and_values_list(lib: Library) -> None:
    row = await Book.objects.values("title", "pages", "author__name", "author__country__name").get(
        title="Notes"
    )
    assert row == {
        "title": "Notes",
        "pages": 120,
        "author__name": "Ada",
        "author__country__name": "UK",
    }
    full = await Book.objects.values().get(title="zen")
    assert (
        full["author_id"] == lib.cy.pk
        and full["title"] == "zen"
        and set(full) >= {"id", "price", "extra"}
    )
    pairs = await Book.objects.order_by("pages").values_list("title", "pages")
    assert pairs[0] == ("zen", 10)
    named = await Book.objects.order_by("pages").values_list("title", "pages", named=True)
    assert named[0].title == "zen" and named[0].pages == 10
    assert await Book.objects.order_by("pages").values_list("pages", flat=True) == [
        10,
        80,
        120,
        200,
        300,
    ]
    doubled = await Book.objects.values(double=F("pages") * 2).order_by("pages")
    assert doubled[0] == {"double": 20}
    with pytest.raises(QueryError, match="flat"):
        Book.objects.values_list("title", "pages", flat=True)
    with pytest.raises(QueryError):
        Book.objects.values_list("title", flat=True, named=True)


async def test_only_and_defer(lib: Library) -> None:
    from vivace.orm import NotLoadedError

    book = await Book.objects.only("title").get(title="zen")
    assert book.title == "zen" and book.pk is not None
    with pytest.raises(NotLoadedError, match="refresh_from_db"):
        book.pages  # noqa: B018
    await book.refresh_from_db(fields=["pages"])
    assert book.pages == 10
    deferred = await Book.objects.defer("extra", "price").get(title="zen")
    assert deferred.pages == 10
    with pytest.raises(NotLoadedError):
        deferred.price  # noqa: B018
    # Saving a partly loaded object writes only what it has.
    deferred.pages = 11
    await deferred.save()
    fresh = await Book.objects.get(title="zen")
    assert (fresh.pages, fresh.price) == (11, decimal.Decimal("1.00"))


async def test_distinct_and_union(lib: Library) -> None:
    names = await Author.objects.filter(books__pages__gt=0).values_list("name", flat=True)
    assert sorted(names) == ["Ada", "Bob", "Cy"]  # EXISTS: no duplicates
    joined = (
        await Book.objects.values_list("author__name", flat=True)
        .distinct()
        .order_by("author__name")
    )
    assert joined == ["Ada", "Bob", "Cy"]
    short = Book.objects.filter(pages__lt=100).values_list("title", flat=True)
    long = Book.objects.filter(pages__gt=250).values_list("title", flat=True)
    assert sorted(await short.union(long)) == ["Analytical Engine", "Bits", "zen"]
    both = Book.objects.filter(pages__lt=100).union(Book.objects.filter(pages__lt=90), all=True)
    assert await both.count() == 4
    ordered = (
        await Book.objects.filter(pages__lt=100)
        .union(Book.objects.filter(pages__gt=250))
        .order_by("-pages")
    )
    assert [b.title for b in ordered] == ["Analytical Engine", "Bits", "zen"]
    assert await Book.objects.none().union(short) and not await Book.objects.none().union()
    with pytest.raises(QueryError, match="union"):
        short.union(long).filter(title="x")


async def test_in_bulk_and_subqueries(lib: Library) -> None:
    found = await Book.objects.in_bulk([lib.books["zen"].pk, lib.books["Bits"].pk])
    assert {b.title for b in found.values()} == {"zen", "Bits"}
    assert await Book.objects.in_bulk([]) == {}
    by_title = await Book.objects.in_bulk(["zen"], field_name="title") if False else None
    assert by_title is None
    tags = await Tag.objects.in_bulk(["math"], field_name="name")
    assert list(tags) == ["math"]
    with pytest.raises(QueryError, match="unique"):
        await Book.objects.in_bulk(["zen"], field_name="title")
    young = Author.objects.filter(age__lt=40)
    assert await titles(Book.objects.filter(author__in=young)) == [
        "Analytical Engine",
        "Bits",
        "Bytes & 100% Pure_Data",
        "Notes",
    ]
    assert await titles(Book.objects.filter(author__in=young.values_list("pk", flat=True))) == [
        "Analytical Engine",
        "Bits",
        "Bytes & 100% Pure_Data",
        "Notes",
    ]
    in_france = Country.objects.filter(name="France")
    assert await titles(Book.objects.filter(author__country__in=in_france)) == [
        "Bits",
        "Bytes & 100% Pure_Data",
    ]


async def test_async_iteration_streams(lib: Library) -> None:
    seen = [b.title async for b in Book.objects.order_by("pages")]
    assert seen == ["zen", "Bits", "Notes", "Bytes & 100% Pure_Data", "Analytical Engine"]
    chunked = [b.pages async for b in Book.objects.order_by("pages").iterator(chunk_size=2)]
    assert chunked == [10, 80, 120, 200, 300]
    values = [v async for v in Book.objects.order_by("pages").values_list("pages", flat=True)]
    assert values == [10, 80, 120, 200, 300]
    with_tags = [
        len(list(b.tags))
        async for b in Book.objects.order_by("pages")
        .prefetch_related("tags")
        .iterator(chunk_size=2)
    ]
    assert with_tags == [0, 2, 1, 0, 2]
    assert [b async for b in Book.objects.none()] == []
