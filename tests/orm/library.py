"""A small library of authors, books and tags that query tests share."""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass

from .models import Author, Book, Country, Tag


@dataclass
class Library:
    fr: Country
    uk: Country
    ada: Author
    bob: Author
    cy: Author
    books: dict[str, Book]
    tags: dict[str, Tag]


async def make_library() -> Library:
    fr = await Country.objects.create(name="France")
    uk = await Country.objects.create(name="UK")
    ada = await Author.objects.create(name="Ada", age=36, country=uk)
    bob = await Author.objects.create(name="Bob", age=20, country=fr)
    cy = await Author.objects.create(name="Cy", age=50)
    specs = [
        ("Analytical Engine", 300, "19.99", datetime.date(1843, 1, 1), 4.5, ada, None),
        ("Notes", 120, "5.00", datetime.date(1843, 6, 1), 3.0, ada, bob),
        ("Bits", 80, "7.50", datetime.date(2001, 5, 5), None, bob, ada),
        ("Bytes & 100% Pure_Data", 200, "12.00", None, 4.0, bob, None),
        ("zen", 10, "1.00", datetime.date(2020, 2, 29), 5.0, cy, None),
    ]
    books = {}
    for title, pages, price, published, rating, author, editor in specs:
        books[title] = Book(
            title=title,
            pages=pages,
            price=decimal.Decimal(price),
            published=published,
            rating=rating,
            author=author,
            editor=editor,
        )
    await Book.objects.bulk_create(list(books.values()))
    tags = {name: Tag(name=name) for name in ("math", "history", "code")}
    await Tag.objects.bulk_create(list(tags.values()))
    await books["Analytical Engine"].tags.add(tags["math"], tags["history"])
    await books["Notes"].tags.add(tags["math"])
    await books["Bits"].tags.add(tags["code"], tags["math"])
    return Library(fr, uk, ada, bob, cy, books, tags)
