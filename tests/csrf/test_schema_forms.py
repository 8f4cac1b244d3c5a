"""vivace.schema's HTML forms carry the CSRF token: explicitly (``hidden=csrf_hidden(...)``)
or by themselves when rendered through a Jinja2 environment with ``install_csrf``."""

from __future__ import annotations

import re
from typing import Any

import jinja2
import pytest

from vivace.csrf import FORM_FIELD, CSRFMiddleware, csrf_hidden, install_csrf
from vivace.schema import Field, Schema, ValidationError, form_loader, render_form
from vivace.sessions import StoreSessionMiddleware
from vivace.stores import MemoryStore
from vivace.testing import TestClient
from vivace.web import App, HTMLResponse, Jinja2Templates, Middleware, Request, Route


class Comment(Schema):
    author: str
    text: str = Field(widget="textarea", min_length=3)


templates = Jinja2Templates(env=jinja2.Environment(loader=form_loader(), autoescape=True))
install_csrf(templates)


async def explicit(request: Request) -> HTMLResponse:
    return HTMLResponse(render_form(Comment, action="/comment", hidden=csrf_hidden(request)))


async def automatic(request: Request) -> HTMLResponse:
    return HTMLResponse(render_form(Comment, action="/comment", env=templates.env, request=request))


async def comment(request: Request) -> Any:
    form = await request.form()
    try:
        return {"comment": Comment.validate_form(form).text}
    except ValidationError as exc:
        return HTMLResponse(
            render_form(Comment, values=form, errors=exc, hidden=csrf_hidden(request)),
            status_code=422,
        )


def client() -> TestClient:
    app = App(
        routes=[
            Route("/explicit", explicit),
            Route("/automatic", automatic),
            Route("/comment", comment, methods=["POST"]),
        ],
        middleware=[
            Middleware(StoreSessionMiddleware, store=MemoryStore(), secret_key="k"),
            Middleware(CSRFMiddleware),
        ],
    )
    return TestClient(app)


def token_in(html: str) -> str:
    inputs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', html)
    assert [name for name, _ in inputs] == [FORM_FIELD], html
    first_field = html.index('name="author"')
    assert html.index(FORM_FIELD) < first_field  # first: found early in a multipart body
    return inputs[0][1]


@pytest.mark.parametrize("page", ["/explicit", "/automatic"])
def test_a_rendered_form_posts_with_its_token(page: str) -> None:
    with client() as c:
        token = token_in(c.get(page).text)
        answer = c.post("/comment", data={FORM_FIELD: token, "author": "ada", "text": "hello"})
        assert answer.json() == {"comment": "hello"}
        refused = c.post("/comment", data={"author": "ada", "text": "hello"})
        assert refused.status_code == 403


def test_a_form_shown_again_with_its_errors_carries_a_fresh_token() -> None:
    with client() as c:
        token = token_in(c.get("/explicit").text)
        again = c.post("/comment", data={FORM_FIELD: token, "author": "ada", "text": "x"})
        assert again.status_code == 422 and "Must have at least 3 characters" in again.text
        retry = token_in(again.text)
        assert retry != token  # masked anew, same secret
        assert c.post("/comment", data={FORM_FIELD: retry, "author": "a", "text": "fine"}).json()


def test_no_request_no_token() -> None:
    html = render_form(Comment, env=templates.env)  # rendered outside a request
    assert FORM_FIELD not in html
