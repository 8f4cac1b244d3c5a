"""Relations: foreign keys, one-to-one, many-to-many (automatic and explicit through),
reverse accessors, related managers, select_related, prefetch_related, fetch_related,
and the no-hidden-I/O rule (semantics of Django's many_to_many, one_to_one,
select_related and prefetch_related tests)."""

from __future__ import annotations

import pytest
import pytest_asyncio

from vivace.db import Database
from vivace.orm import FieldError, NotLoadedError, Prefetch, QueryError

from .library import Library, make_library
from .models import Author, Book, Country, Group, Membership, Node, Profile, Tag

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest_asyncio.fixture(loop_scope="package")
async def lib(db: Database) -> Library:
    return await make_library()


async def test_unloaded_relations_raise_naming_the_remedies(lib: Library) -> None:
    book = await Book.objects.get(title="Notes")
    assert book.author_id == lib.ada.pk
    with pytest.raises(NotLoadedError) as caught:
        book.author  # noqa: B018
    message = str(caught.value)
    assert "select_related('author')" in message and "prefetch_related('author')" in message
    assert "fetch_related('author')" in message
    assert not hasattr(book, "author")  # NotLoadedError is an AttributeError
    with pytest.raises(NotLoadedError, match="prefetch_related"):
        list(book.tags)
    with pytest.raises(NotLoadedError):
        len(lib.ada.books)
    with pytest.raises(NotLoadedError, match="select_related"):
        lib.ada.profile  # noqa: B018
    assert not book.tags.loaded
    # A null foreign key reads as None: there is nothing to load.
    zen = await Book.objects.get(title="zen")
    assert zen.editor is None


async def test_select_related(lib: Library) -> None:
    books = await Book.objects.select_related("author__country", "editor").order_by("pages")
    by_title = {b.title: b for b in books}
    assert by_title["Notes"].author.name == "Ada"
    assert by_title["Notes"].author.country.name == "UK"  # type: ignore[union-attr]
    assert by_title["Notes"].editor.name == "Bob"  # type: ignore[union-attr]
    assert by_title["zen"].editor is None
    assert by_title["zen"].author.country is None  # LEFT OUTER JOIN, no country
    with pytest.raises(FieldError, match="prefetch_related"):
        await Book.objects.select_related("tags")
    with pytest.raises(Exception, match="choices"):
        await Book.objects.select_related("nope")


async def test_reverse_one_to_one(lib: Library) -> None:
    await Profile.objects.create(author=lib.ada, bio="mathematician")
    ada = await Author.objects.select_related("profile").get(pk=lib.ada.pk)
    assert ada.profile.bio == "mathematician"  # type: ignore[attr-defined]
    bob = await Author.objects.select_related("profile").get(pk=lib.bob.pk)
    assert bob.profile is None  # type: ignore[attr-defined]
    fetched = await Author.objects.prefetch_related("profile").order_by("name")
    assert [a.profile and a.profile.bio for a in fetched] == [
        "mathematician",
        None,
        None,
    ]  # type: ignore[attr-defined]
    assert await Author.objects.filter(profile__bio__startswith="math").count() == 1
    assert await Author.objects.filter(profile__isnull=True).count() == 2
    profile = await Profile.objects.select_related("author").get(author=lib.ada)
    assert profile.author.name == "Ada"


async def test_prefetch_related_is_ignored_for_values(lib: Library) -> None:
    # As in Django (a manager that prefetches by default still serves values()): it
    # raised AttributeError "type object 'dict' has no attribute '_meta'".
    authors = Author.objects.prefetch_related("books").order_by("name")
    assert await authors.values_list("name", flat=True) == ["Ada", "Bob", "Cy"]
    assert await authors.values("name").first() == {"name": "Ada"}
    assert await authors.values_list("name", "age").get(name="Bob") == ("Bob", 20)
    assert [row async for row in authors.values("name").iterator(chunk_size=2)] == [
        {"name": "Ada"},
        {"name": "Bob"},
        {"name": "Cy"},
    ]
    assert len(await Author.objects.values("name").prefetch_related("books")) == 3


async def test_prefetch_related(lib: Library) -> None:
    authors = await Author.objects.prefetch_related("books", "books__tags").order_by("name")
    ada = authors[0]
    assert sorted(b.title for b in ada.books) == ["Analytical Engine", "Notes"]
    assert len(authors[2].books) == 1 and authors[2].books[0].title == "zen"
    engine = next(b for b in ada.books if b.title == "Analytical Engine")
    assert sorted(t.name for t in engine.tags) == ["history", "math"]
    assert engine.author is ada  # the reverse side sets the forward cache
    tags = await Tag.objects.prefetch_related("books__author").order_by("name")
    math = next(t for t in tags if t.name == "math")
    assert sorted(b.author.name for b in math.books) == ["Ada", "Ada", "Bob"]
    countries = await Country.objects.prefetch_related("authors__books")
    assert {c.name: sorted(a.name for a in c.authors) for c in countries} == {
        "France": ["Bob"],
        "UK": ["Ada"],
    }
    # Prefetch with a queryset and to_attr.
    custom = await Author.objects.prefetch_related(
        Prefetch(
            "books", queryset=Book.objects.filter(pages__gt=100).order_by("-pages"), to_attr="big"
        )
    ).order_by("name")
    assert [b.title for b in custom[0].big] == ["Analytical Engine", "Notes"]  # type: ignore[attr-defined]
    assert custom[1].big[0].title == "Bytes & 100% Pure_Data"  # type: ignore[attr-defined]
    ordered_tags = await Book.objects.prefetch_related(
        Prefetch("tags", queryset=Tag.objects.filter(name__in=["math", "code"]).order_by("-name"))
    ).get(title="Bits")
    assert [t.name for t in ordered_tags.tags] == ["math", "code"]
    forward = await Book.objects.prefetch_related("author", "editor").order_by("pages")
    assert [b.author.name for b in forward] == ["Cy", "Bob", "Ada", "Bob", "Ada"]
    with pytest.raises(FieldError, match=r"has no relation .name."):
        await Author.objects.prefetch_related("name")
    with pytest.raises(QueryError, match="queryset is of"):
        await Author.objects.prefetch_related(Prefetch("books", queryset=Tag.objects.all()))


async def test_fetch_related(lib: Library) -> None:
    book = await Book.objects.get(title="Notes")
    await book.fetch_related("author__country", "tags", "editor")
    assert book.author.country.name == "UK"  # type: ignore[union-attr]
    assert [t.name for t in book.tags] == ["math"]
    assert book.editor.name == "Bob"  # type: ignore[union-attr]
    # Changing the key makes the cached object stale: it is not returned.
    book.author_id = lib.bob.pk
    with pytest.raises(NotLoadedError):
        book.author  # noqa: B018
    book.author = lib.cy
    assert book.author_id == lib.cy.pk and book.author is lib.cy
    with pytest.raises(TypeError, match="must be a Author"):
        book.author = lib.books["zen"]  # type: ignore[assignment]


async def test_reverse_manager(lib: Library) -> None:
    ada = lib.ada
    assert sorted(await ada.books.all().values_list("title", flat=True)) == [
        "Analytical Engine",
        "Notes",
    ]
    assert await ada.books.filter(pages__gt=200).count() == 1
    new = await ada.books.create(title="Sketch", pages=5)
    assert new.author_id == ada.pk
    await lib.bob.books.add(new)
    assert new.author_id == lib.bob.pk and await lib.bob.books.count() == 3
    # SET_NULL-able relation: remove/clear/set.
    assert sorted(await ada.edited.values_list("title", flat=True)) == ["Bits"]
    await ada.edited.remove(lib.books["Bits"])
    assert await ada.edited.count() == 0
    await ada.edited.set([lib.books["zen"], lib.books["Notes"]])
    assert sorted(await ada.edited.values_list("title", flat=True)) == ["Notes", "zen"]
    await ada.edited.clear()
    assert await Book.objects.filter(editor=ada).count() == 0
    with pytest.raises(QueryError, match="null=False"):
        await ada.books.clear()
    with pytest.raises(QueryError, match="saved"):
        await Author(name="unsaved").books.count()


async def test_many_to_many_manager(lib: Library) -> None:
    bits = lib.books["Bits"]
    assert sorted(await bits.tags.values_list("name", flat=True)) == ["code", "math"]
    await bits.tags.add(lib.tags["math"], lib.tags["history"])  # math is there already
    assert await bits.tags.count() == 3
    await bits.tags.remove(lib.tags["code"])
    assert sorted(await bits.tags.values_list("name", flat=True)) == ["history", "math"]
    await bits.tags.set([lib.tags["code"]])
    assert await bits.tags.values_list("name", flat=True) == ["code"]
    created = await bits.tags.create(name="new")
    assert sorted(await bits.tags.values_list("name", flat=True)) == ["code", "new"]
    # The reverse side sees the same links.
    assert await created.books.values_list("title", flat=True) == ["Bits"]
    await lib.tags["math"].books.add(lib.books["zen"])
    assert await lib.books["zen"].tags.values_list("name", flat=True) == ["math"]
    await bits.tags.add(lib.tags["math"].pk)  # keys work too
    await bits.tags.clear()
    assert await bits.tags.count() == 0
    with pytest.raises(TypeError):
        await bits.tags.add(lib.ada)


async def test_filters_across_relations(lib: Library) -> None:
    names = Author.objects.filter
    assert sorted(await names(books__tags__name="code").values_list("name", flat=True)) == ["Bob"]
    assert sorted(await names(books__title__startswith="N").values_list("name", flat=True)) == [
        "Ada"
    ]
    assert sorted(await names(books__isnull=True).values_list("name", flat=True)) == []
    assert await Tag.objects.filter(books__isnull=True).count() == 0
    await Tag.objects.create(name="lonely")
    assert await Tag.objects.filter(books__isnull=True).values_list("name", flat=True) == ["lonely"]
    assert sorted(await names(country__name="UK").values_list("name", flat=True)) == ["Ada"]
    assert await Book.objects.filter(author__country__isnull=True).count() == 1
    assert await Book.objects.filter(tags=lib.tags["history"]).values_list("title", flat=True) == [
        "Analytical Engine"
    ]
    assert await Book.objects.filter(tags__in=[lib.tags["code"]]).values_list(
        "title", flat=True
    ) == ["Bits"]
    # One filter() call: the conditions hold for the same related row ...
    same = Author.objects.filter(books__pages__gt=250, books__title="Notes")
    assert await same.count() == 0
    # ... separate calls: each may match a different row (Django's semantics).
    apart = Author.objects.filter(books__pages__gt=250).filter(books__title="Notes")
    assert await apart.values_list("name", flat=True) == ["Ada"]
    # Negation: authors with no book over 150 pages.
    assert sorted(
        await Author.objects.exclude(books__pages__gt=150).values_list("name", flat=True)
    ) == ["Cy"]
    either = Author.objects.filter(Q_or("books__title", "zen", "Bits"))
    assert sorted(await either.values_list("name", flat=True)) == ["Bob", "Cy"]


def Q_or(path: str, *values: str) -> object:
    from vivace.orm import Q

    query = Q()
    for value in values:
        query |= Q(**{path: value})
    return query


async def test_explicit_through_model(lib: Library) -> None:
    group = await Group.objects.create(name="club")
    await group.members.add(lib.ada, through_defaults={"role": "chair"})
    await Membership.objects.create(group=group, author=lib.bob)
    assert sorted(await group.members.values_list("name", flat=True)) == ["Ada", "Bob"]
    roles = (
        await Membership.objects.filter(group=group)
        .order_by("author__name")
        .values_list("role", flat=True)
    )
    assert roles == ["chair", "member"]
    assert await lib.ada.groups.values_list("name", flat=True) == ["club"]  # type: ignore[attr-defined]
    loaded = await Group.objects.prefetch_related("members").get(pk=group.pk)
    assert sorted(a.name for a in loaded.members) == ["Ada", "Bob"]
    assert await Author.objects.filter(groups__name="club").count() == 2
    await group.members.remove(lib.ada)
    assert await Membership.objects.count() == 1


async def test_self_referential(db: Database) -> None:
    root = await Node.objects.create(name="root")
    child = await Node.objects.create(name="child", parent=root)
    await Node.objects.create(name="grandchild", parent=child)
    await root.links.add(child)
    assert await Node.objects.filter(parent__parent=root).values_list("name", flat=True) == [
        "grandchild"
    ]
    assert await Node.objects.filter(children__name="child").values_list("name", flat=True) == [
        "root"
    ]
    assert await child.linked_from.values_list("name", flat=True) == ["root"]  # type: ignore[attr-defined]
    tree = await Node.objects.prefetch_related("children__children").get(pk=root.pk)
    assert [c.name for c in tree.children[0].children] == ["grandchild"]  # type: ignore[attr-defined]
    loaded = await Node.objects.select_related("parent__parent").get(name="grandchild")
    assert loaded.parent.parent.name == "root"  # type: ignore[union-attr]
    await root.delete()
    assert await Node.objects.count() == 0  # CASCADE down the tree
