"""Schemas derived from models (vivace.schema), and full_clean."""

from __future__ import annotations

import decimal

import pytest

from vivace.db import Database
from vivace.orm import FieldError, ValidationError, model_schema
from vivace.schema import Schema
from vivace.schema import ValidationError as SchemaValidationError

from .models import Author, Book, Color, Everything, Slot, Stamped

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_output_and_input_schemas(db: Database) -> None:
    output = Book.schema()
    assert issubclass(output, Schema) and output is Book.schema()  # built once
    required = set(output.json_schema()["$defs"]["Book"]["required"])
    assert {"id", "title", "author_id", "price"} <= required
    author = await Author.objects.create(name="Ada")
    book = await Book.objects.create(title="Notes", author=author)
    row = await Book.objects.values().get(pk=book.pk)
    assert output.validate(row).title == "Notes"
    created = Book.schema("input")
    props = created.json_schema()["$defs"]["BookInput"]["properties"]
    assert "id" not in props and props["title"]["maxLength"] == 80
    assert props["title"]["minLength"] == 1
    valid = created.validate({"title": "x", "author_id": author.pk})
    assert (valid.pages, valid.price, valid.editor_id) == (100, decimal.Decimal("9.99"), None)
    with pytest.raises(SchemaValidationError) as caught:
        created.validate({"title": "", "pages": "many"})
    codes = {e["loc"][0]: e["code"] for e in caught.value.errors()}
    assert set(codes) == {"title", "pages", "author_id"}
    assert created.validate({"title": "y", "author_id": 1, "pages": "7"}, mode="lax").pages == 7
    stamped = model_schema(Stamped, "input")
    assert set(stamped.json_schema()["$defs"]["StampedInput"]["properties"]) == {"note"}
    subset = model_schema(Book, "input", fields=["title", "pages"], optional=True, name="BookPatch")
    assert subset.validate({}).title is None
    assert set(
        model_schema(Author, exclude=["country"]).json_schema()["$defs"]["Author"]["properties"]
    ) == {"id", "name", "age"}
    enum_schema = model_schema(Everything, "input", fields=["color", "small"])
    assert enum_schema.validate({"color": "red"}).color is Color.RED
    with pytest.raises(SchemaValidationError):
        enum_schema.validate({"small": 2**20})
    with pytest.raises(FieldError, match="choices"):
        model_schema(Book, fields=["nope"])
    with pytest.raises(ValueError, match="variant"):
        model_schema(Book, "sideways")  # type: ignore[arg-type]


async def test_full_clean(db: Database) -> None:
    author = await Author.objects.create(name="Ada")
    book = Book(title="x" * 100, pages=-1, author=author, price=decimal.Decimal("123456.789"))
    with pytest.raises(ValidationError) as caught:
        await book.full_clean()
    errors = caught.value.errors
    assert set(errors) == {"title", "price"}
    assert "80" in " ".join(errors["title"])
    book.title, book.price = "ok", decimal.Decimal("1.50")
    await book.full_clean()  # pages=-1 passes the model (the check constraint is the db's)
    await book.full_clean(exclude=["title"])
    blank = Book(title="", author=author)
    with pytest.raises(ValidationError, match="title"):
        await blank.full_clean()
    missing = Author(name=None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="cannot be null"):
        await missing.full_clean()
    await Slot.objects.create(code="taken", label="a", count=1)
    duplicate = Slot(code="taken", label="a", count=1)
    with pytest.raises(ValidationError) as caught:
        await duplicate.full_clean()
    assert set(caught.value.errors) == {"code", "__all__"}
    await duplicate.full_clean(validate_unique=False)
    saved = await Slot.objects.get(code="taken")
    await saved.full_clean()  # itself is not a duplicate
    wrong = Everything(color="blue")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="color"):
        await wrong.full_clean()
