"""Page-number and keyset pagination."""

from __future__ import annotations

import base64
import datetime

import orjson
import pytest

from vivace.db import Database
from vivace.orm import CursorPaginator, EmptyPage, InvalidPage, PageNotAnInteger, Paginator

from .models import Author, Stamped

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_page_numbers(db: Database) -> None:
    await Author.objects.bulk_create([Author(name=f"a{i:02}", age=i) for i in range(23)])
    paginator = Paginator(Author.objects.order_by("age"), per_page=10)
    first = await paginator.page(1)
    assert [a.age for a in first] == list(range(10)) and len(first) == 10
    assert (first.count, first.num_pages, first.has_next, first.has_previous) == (
        23,
        3,
        True,
        False,
    )
    assert (first.next_page_number, first.start_index, first.end_index) == (2, 1, 10)
    last = await paginator.page("3")
    assert [a.age for a in last] == [20, 21, 22] and not last.has_next
    assert last.previous_page_number == 2 and last.end_index == 23
    with pytest.raises(EmptyPage):
        last.next_page_number  # noqa: B018
    with pytest.raises(EmptyPage):
        first.previous_page_number  # noqa: B018
    for bad in ("x", None, 1.5, True, "1e3"):
        with pytest.raises(PageNotAnInteger):
            await paginator.page(bad)
    for bad in (0, -1, 4, "99"):
        with pytest.raises(EmptyPage):
            await paginator.page(bad)
    orphans = Paginator(Author.objects.order_by("age"), per_page=10, orphans=3)
    assert (await orphans.page(1)).num_pages == 2
    assert len(await orphans.page(2)) == 13
    empty = Paginator(Author.objects.filter(age__gt=100), per_page=5)
    page = await empty.page(1)
    assert (page.items, page.num_pages, page.start_index, page.end_index) == ([], 1, 0, 0)
    strict = Paginator(Author.objects.filter(age__gt=100), per_page=5, allow_empty_first_page=False)
    with pytest.raises(EmptyPage):
        await strict.page(1)
    with pytest.raises(ValueError, match="per_page"):
        Paginator(Author.objects.all(), per_page=0)
    with pytest.raises(ValueError, match="orphans"):
        Paginator(Author.objects.all(), per_page=1, orphans=-1)


async def test_cursor_pages_forward_and_back(db: Database) -> None:
    # Ties on age: the primary key breaks them.
    await Author.objects.bulk_create([Author(name=f"a{i:02}", age=i // 3) for i in range(20)])
    paginator = CursorPaginator(Author.objects.all(), ordering=("-age",), per_page=6)
    seen: list[str] = []
    page = await paginator.page()
    assert not page.has_previous
    pages = [page]
    while page.has_next:
        page = await paginator.page(after=page.next_cursor)
        pages.append(page)
    for p in pages:
        seen += [a.name for a in p]
    expected = [a.name for a in await Author.objects.order_by("-age", "-id")]
    assert seen == expected and len(pages) == 4
    # Going back from the last page gives the pages in the same order.
    back = await paginator.page(before=pages[-1].previous_cursor)
    assert [a.name for a in back] == [a.name for a in pages[-2]]
    assert back.has_previous and back.has_next
    first = await paginator.page(before=pages[1].previous_cursor)
    assert [a.name for a in first] == [a.name for a in pages[0]] and not first.has_previous
    # New rows before the position do not shift the next page.
    await Author.objects.create(name="newest", age=99)
    again = await paginator.page(after=pages[0].next_cursor)
    assert [a.name for a in again] == [a.name for a in pages[1]]


async def test_cursor_values_of_every_kind(db: Database) -> None:
    for day in range(1, 6):
        await Stamped.objects.create(
            note=f"n{day}", created=datetime.datetime(2024, 1, day, 12, 0, 0, 5)
        )
    paginator = CursorPaginator(Stamped.objects.all(), ordering=("created",), per_page=2)
    page = await paginator.page()
    notes = [s.note for s in page]
    while page.has_next:
        page = await paginator.page(after=page.next_cursor)
        notes += [s.note for s in page]
    assert notes == [f"n{d}" for d in range(1, 6)]
    before_last = await paginator.page(before=page.previous_cursor)
    assert [s.note for s in before_last] == ["n3", "n4"]


async def test_bad_cursors(db: Database) -> None:
    paginator = CursorPaginator(Author.objects.all(), ordering=("name",), per_page=2)
    forged = [
        "!!!",
        "x" * 5000,
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b'["a"]').decode(),  # too short
        base64.urlsafe_b64encode(b'[["dt", "yesterday"], 1]').decode(),
        base64.urlsafe_b64encode(b'[["zz", "x"], 1]').decode(),
        base64.urlsafe_b64encode(b'[{"k": 1}, 1]').decode(),
    ]
    for cursor in forged:
        with pytest.raises(InvalidPage):
            await paginator.page(after=cursor)
    with pytest.raises(InvalidPage):
        await paginator.page(after="a", before="b")
    # A well-formed cursor with odd values only selects rows the queryset allows.
    odd = base64.urlsafe_b64encode(orjson.dumps(["') OR 1=1 --", 0])).decode()
    assert (await paginator.page(after=odd)).items == []
    with pytest.raises(ValueError, match="ordering"):
        CursorPaginator(Author.objects.all(), ordering=("",), per_page=2)
    with pytest.raises(ValueError, match="per_page"):
        CursorPaginator(Author.objects.all(), ordering=("name",), per_page=0)
    await Author.objects.create(name="x")
    nullable = CursorPaginator(Author.objects.all(), ordering=("country",), per_page=1)
    await Author.objects.create(name="y")
    with pytest.raises(InvalidPage, match="non-null"):
        await nullable.page()
