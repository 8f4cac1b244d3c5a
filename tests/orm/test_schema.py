"""Schemas derived from models (vivace.schema), and full_clean."""

from __future__ import annotations

import decimal
import re

import pytest

from vivace.db import Database
from vivace.orm import EmailField, FieldError, SlugField, ValidationError, model_schema
from vivace.orm._fields import EMAIL_PATTERN, SLUG_PATTERN, UNICODE_SLUG_PATTERN, is_email
from vivace.schema import Schema
from vivace.schema import ValidationError as SchemaValidationError
from vivace.schema._fields import python_pattern

from .models import Author, Book, Color, Everything, Page, Slot, Stamped

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


async def test_slug_and_email_fields(db: Database) -> None:
    meta = Page._meta
    slug, label, email = meta.get_field("slug"), meta.get_field("label"), meta.get_field("email")
    assert isinstance(slug, SlugField) and isinstance(email, EmailField)
    assert (slug.max_length, slug.db_index, label.max_length, email.max_length) == (
        50,
        True,
        20,
        254,
    )
    assert SlugField(db_index=False).db_index is False and not EmailField().db_index
    # Stored and read back like any CharField, on every backend.
    page = await Page.objects.create(slug="hello-world_2", label="héllo", email="ada@example.com")
    found = await Page.objects.get(slug="hello-world_2")
    assert (found.label, found.email, found.contact) == ("héllo", "ada@example.com", None)
    assert await Page.objects.filter(slug="not a slug").count() == 0  # filters do not validate
    await found.full_clean()
    # full_clean refuses what Django's validators refuse, naming each field.
    bad = Page(slug="a b", label="x y", email="ada@", contact="nobody")
    with pytest.raises(ValidationError) as caught:
        await bad.full_clean()
    assert set(caught.value.errors) == {"slug", "label", "email", "contact"}
    for value in ("héllo", "a-slug\n", "a/b", "x" * 51, "-" * 50 + "!"):
        with pytest.raises(ValidationError, match="slug"):
            await Page(slug=value).full_clean(validate_unique=False)
    for value in ("ada", "ada@example", "ada@example.com\n", "a b@x.com", "ada@-x.com"):
        with pytest.raises(ValidationError, match="email"):
            await Page(slug="s", email=value).full_clean(validate_unique=False)
    await Page(slug="-_-", label="日本語", email="").full_clean(validate_unique=False)
    # The checks of the fields themselves (what full_clean runs after the schema).
    assert slug.check("a b") == [
        "Enter a valid slug consisting of letters, numbers, underscores or hyphens."
    ]
    assert "Unicode letters" in label.check("a b")[0] and label.check("éa") == []
    assert email.check("ada@[1.2.3.4]") == [] and email.check("ada@[1.2.3]") != []
    assert email.check("x@" + "a" * 250 + ".com") == [
        "at most 254 characters (got 256)",
        "Enter a valid email address.",
    ]
    del page


async def test_slug_and_email_schemas(db: Database) -> None:
    schema = Page.schema("input")
    props = schema.json_schema()["$defs"]["PageInput"]["properties"]
    assert props["slug"]["pattern"] == SLUG_PATTERN and props["slug"]["maxLength"] == 50
    # label and email are blank=True: "" passes their patterns too.
    assert props["label"]["pattern"] == "^$|" + UNICODE_SLUG_PATTERN
    assert props["email"]["format"] == "email" and props["email"]["maxLength"] == 254
    assert props["email"]["pattern"] == "^$|" + EMAIL_PATTERN
    assert schema.validate({"slug": "s", "label": "", "email": ""}).email == ""
    assert (
        Page.schema().json_schema()["$defs"]["Page"]["properties"]["contact"]["anyOf"][0]["format"]
        == "email"
    )
    ok = schema.validate({"slug": "a-b_c", "label": "ça", "email": "a.b+c@x.example"})
    assert (ok.slug, ok.email, ok.contact) == ("a-b_c", "a.b+c@x.example", None)
    for data in (
        {"slug": "a b"},
        {"slug": "trailing\n"},  # Python's "$" alone would let this through
        {"slug": "s", "label": "a b"},
        {"slug": "s", "email": "ada@example.com\n"},
        {"slug": "s", "email": "ada@@example.com"},
        {"slug": "s", "contact": "ada@localhost."},
        {"slug": "s", "email": "\n"},
        {"slug": ""},
    ):
        for mode in ("strict", "lax"):
            with pytest.raises(SchemaValidationError):
                schema.validate(data, mode=mode)
    with pytest.raises(SchemaValidationError):  # not blank=True (lax: "" is None there)
        schema.validate({"slug": "s", "contact": ""})


EMAILS = [
    "ada@example.com",
    "a.b-c+d@sub.example.co.uk",
    "!#$%&'*+/=?^_`{|}~-@example.com",
    '"quoted@at"@example.com',
    '"with\\"escape"@example.com',
    '"a b"@example.com',
    '""@example.com',
    "ada@localhost",
    "ada@LOCALHOST",
    "ada@[192.168.0.1]",
    "ada@[::1]",
    "ada@[::ffff:1.2.3.4]",
    "ada@[0000:0000:0000:0000:0000:ffff:255.255.255.255]",
    "ada@[1.2.3]",
    "ada@[01.2.3.4]",
    "ada@[g::1]",
    "ada@bücher.de",
    "ada@xn--bcher-kva.de",
    "ada@example.xn--p1ai",
    "ada@example.рф",
    "ada@\u0661.com",
    "ada@😀.com",
    "üser@example.com",
    "ada@example",
    "ada@example.c",
    "ada@example.c-m",
    "ada@example.-com",
    "ada@example.com-",
    "ada@123.45",
    "ada@example.com.",
    "ada@.example.com",
    "ada@example..com",
    "ada@-example.com",
    "ada@example-.com",
    "ada@" + "x" * 63 + ".com",
    "ada@" + "x" * 64 + ".com",
    "x" * 64 + "@" + "y" * 250 + ".com",
    ".ada@example.com",
    "ada.@example.com",
    "a..da@example.com",
    "ada example@example.com",
    "ada@exa mple.com",
    "ada",
    "@example.com",
    "ada@",
    "",
    "ada@example.com\n",
    "ada\n@example.com",
]


async def test_is_email_agrees_with_django() -> None:
    # Django's EmailValidator (a dev dependency) as the oracle; our check is our own.
    from django.core.exceptions import ValidationError as DjangoValidationError
    from django.core.validators import validate_email

    for value in EMAILS:
        try:
            validate_email(value)
            expected = True
        except DjangoValidationError:
            expected = False
        assert is_email(value) is expected, value
        # The schema's pattern agrees, but for what only code checks (the address in a
        # literal, the 320-character limit).
        if "[" not in value and len(value) <= 320:
            assert (re.search(python_pattern(EMAIL_PATTERN), value) is not None) is expected, value
    # The one deliberate difference: Django's case-insensitive pattern lets the long s (U+017F)
    # pass as "s" in the local part; an address is ASCII there.
    assert not is_email("\u017f@example.com")
