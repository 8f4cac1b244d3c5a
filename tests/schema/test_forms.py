"""HTML forms: rendering with values and errors, overriding templates, reading submissions."""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any, Literal

import jinja2
import pytest

from vivace.http import MultiDict
from vivace.schema import (
    Email,
    ErrorDetail,
    Field,
    Schema,
    SchemaError,
    Secret,
    Upload,
    ValidationError,
    form_errors,
    form_fields,
    form_loader,
    render_form,
)
from vivace.testing import TestClient
from vivace.web import App, HTMLResponse, JSONResponse, Request, Route


class Color(enum.Enum):
    RED = "red"
    DARK_BLUE = "blue"


class Address(Schema):
    street: str
    city: str = "Paris"


class Signup(Schema):
    email: Email
    password: Secret = Field(write_only=True)
    age: Annotated[int, Field(ge=13, le=130)]
    score: Annotated[float, Field(ge=0)] = 0.0
    name: Annotated[str, Field(min_length=2, max_length=20, pattern="^[a-z]+$")] = "anon"
    color: Color = Color.RED
    size: Literal["s", "m"] | None = None
    tags: list[Literal["a", "b"]] = Field(default_factory=list)
    nicknames: list[str] = Field(default_factory=list)
    newsletter: bool = False
    bio: str = Field(default="", widget="textarea", description="About <you>", title="Biography")
    born: datetime.date | None = None
    seen: datetime.datetime | None = None
    token: str = Field(default="t", widget="hidden")
    id: int = Field(default=0, read_only=True)
    address: Address
    avatar: Upload | None = None


def test_render_empty_form() -> None:
    html = render_form(Signup, action="/signup")
    assert '<form method="post" action="/signup" enctype="multipart/form-data" novalidate>' in html
    assert (
        '<input type="email" id="field-email" name="email" value="" maxlength="254" required>'
        in html
    )
    assert 'type="password" id="field-password" name="password" required>' in html
    assert 'min="13" max="130"' in html and 'step="1"' in html and 'step="any"' in html
    assert 'minlength="2" maxlength="20" pattern="[a-z]+"' in html
    assert '<option value="blue">Dark blue</option>' in html
    assert '<option value="red" selected>Red</option>' in html
    assert '<input type="checkbox" name="tags" value="a">' in html
    assert '<input type="text" name="nicknames" value="">' in html
    assert 'name="newsletter" value="true">' in html
    assert '<label for="field-bio">Biography</label>' in html
    assert '<small class="help">About &lt;you&gt;</small>' in html
    assert 'type="date"' in html and 'type="datetime-local"' in html
    assert '<input type="hidden" name="token" value="t">' in html
    assert 'name="id"' not in html  # read-only: not an input
    assert '<fieldset id="field-address">' in html and 'name="address.street"' in html
    assert 'type="file" id="field-avatar" name="avatar">' in html


def test_render_with_values_and_errors_escapes() -> None:
    form = MultiDict(
        [
            ("email", "x@y.org"),
            ("password", "secret!"),
            ("age", "12"),
            ("name", '"><script>'),
            ("tags", "b"),
            ("nicknames", "z"),
            ("newsletter", "on"),
            ("color", "blue"),
            ("address.street", ""),
        ]
    )
    with pytest.raises(ValidationError) as exc:
        Signup.validate_form(form)
    errors = form_errors(exc.value)
    assert errors == {
        "age": ["Must be greater than or equal to 13"],
        "name": ["Must match '^[a-z]+$'"],
    }
    html = render_form(Signup, values=form, errors=exc.value, submit="Join")
    assert "secret!" not in html  # a password is never filled back
    assert "&#34;&gt;&lt;script&gt;" in html and "<script>" not in html
    assert '<p class="error">Must be greater than or equal to 13</p>' in html
    assert 'value="12"' in html and 'aria-invalid="true"' in html
    assert '<input type="checkbox" name="tags" value="b" checked>' in html
    assert '<input type="text" name="nicknames" value="z">' in html
    assert 'name="newsletter" value="true" checked>' in html
    assert '<option value="blue" selected>' in html
    assert '<button type="submit">Join</button>' in html


def test_render_from_an_object() -> None:
    s = Signup(
        email="a@b.c",
        password=Secret("x"),
        age=20,
        address=Address(street="Main"),
        born=datetime.date(2000, 1, 2),
        seen=datetime.datetime(2020, 1, 1, 10, 30, tzinfo=datetime.UTC),
        newsletter=True,
        size="m",
    )
    fields = {f.name: f for f in form_fields(Signup, values=s)}
    assert fields["age"].value == "20"
    assert fields["born"].value == "2000-01-02"
    assert fields["seen"].value == "2020-01-01T10:30:00"
    assert fields["newsletter"].checked
    assert fields["address"].children[0].value == "Main"
    assert [c.selected for c in fields["size"].choices] == [False, True]
    assert fields["password"].value == ""
    assert "FormField('age'" in repr(fields["age"])


def test_whole_form_errors_and_non_schema() -> None:
    class Range(Schema):
        low: int
        high: int

    with pytest.raises(ValidationError) as exc:
        Range.validate({"low": 1})
    html = render_form(Range, errors=exc.value)
    assert '<p class="error">Field required</p>' in html

    html = render_form(Range, errors=ValidationError([ErrorDetail((), "value_error", "Bad range")]))
    assert '<p class="form-error">Bad range</p>' in html
    with pytest.raises(SchemaError):
        render_form(list[int])

    class Team(Schema):
        members: list[Address]

    with pytest.raises(SchemaError, match="list of nested schemas"):
        render_form(Team)


def test_override_templates() -> None:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.DictLoader(
                    {"vivace/schema/field.html": "[{{ field.name }}={{ field.input }}]"}
                ),
                form_loader(),
            ]
        ),
        autoescape=True,
    )
    html = render_form(Address, env=env)
    assert "[street=text]" in html and "[city=text]" in html and "<form" in html
    custom = jinja2.Environment(
        loader=jinja2.DictLoader({"mine.html": "{% for f in fields %}{{ f.label }};{% endfor %}"})
    )
    assert render_form(Address, env=custom, template="mine.html") == "Street;City;"


def test_validate_plain_mapping_form() -> None:
    got = Signup.validate_form(
        {
            "email": "a@b.c",
            "password": "pw",
            "age": "30",
            "tags": ["a", "b"],
            "address.street": "Main",
            "unknown": "ignored",
            "color": "",
        }
    )
    assert got.tags == ["a", "b"] and got.address.city == "Paris" and got.newsletter is False
    assert got.color is Color.RED  # an empty select is "not sent"


def make_app() -> TestClient:
    async def signup(request: Request) -> Any:
        form = await request.form()
        try:
            user = Signup.validate_form(form)
        except ValidationError as exc:
            return HTMLResponse(render_form(Signup, values=form, errors=exc), status_code=422)
        avatar = user.avatar
        content = await avatar.read() if avatar is not None else b""  # type: ignore[misc]
        return JSONResponse(
            {
                "user": user.dump(exclude={"avatar"}),
                "avatar": avatar.filename if avatar is not None else None,
                "size": len(content),
            }
        )

    return TestClient(App(routes=[Route("/signup", signup, methods=["POST"])]))


def test_urlencoded_submission_through_vivace_web() -> None:
    c = make_app()
    r = c.post(
        "/signup",
        data={
            "email": "ada@example.org",
            "password": "pw",
            "age": "36",
            "tags": ["a", "b"],
            "newsletter": "on",
            "address.street": "Main",
            "born": "",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["tags"] == ["a", "b"] and body["user"]["newsletter"] is True
    assert body["user"]["address"] == {"street": "Main", "city": "Paris"}
    assert "password" not in body["user"] and body["avatar"] is None


def test_multipart_submission_with_file() -> None:
    c = make_app()
    r = c.post(
        "/signup",
        data={"email": "ada@example.org", "password": "pw", "age": "36", "address.street": "x"},
        files={"avatar": ("me.png", b"\x89PNG....", "image/png")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["avatar"] == "me.png" and r.json()["size"] == 8
    # An empty file input (no file chosen) counts as not sent.
    r = c.post(
        "/signup",
        data={"email": "ada@example.org", "password": "pw", "age": "36", "address.street": "x"},
        files={"avatar": ("", b"", "application/octet-stream")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["avatar"] is None


def test_invalid_submission_renders_errors() -> None:
    c = make_app()
    r = c.post("/signup", data={"email": "nope", "age": "x"})
    assert r.status_code == 422
    html = r.text
    assert "Must be a valid email address" in html and "Invalid integer" in html
    assert html.count('<p class="error">Field required</p>') == 2  # password, address.street
