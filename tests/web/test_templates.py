"""Jinja2 templates: rendering, autoescape, request and url_for in the context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from vivace.testing import TestClient
from vivace.web import App, Jinja2Templates, Request, Route


@pytest.fixture
def templates(tmp_path: Path) -> Jinja2Templates:
    (tmp_path / "page.html").write_text(
        "<h1>{{ title }}</h1><a href=\"{{ url_for('item', id=7) }}\">{{ request.url.path }}</a>"
        "{{ user }}|{{ extra }}"
    )
    (tmp_path / "plain.txt").write_text("{{ title }}")
    return Jinja2Templates(
        directory=tmp_path, context_processors=[lambda request: {"extra": request.method}]
    )


def test_template_response(templates: Jinja2Templates) -> None:
    async def page(request: Request) -> Any:
        return templates.TemplateResponse(
            request, "page.html", {"title": "<Hi>", "user": "ada"}, headers={"x-a": "1"}
        )

    async def item(request: Request) -> str:
        return "item"

    async def plain(request: Request) -> Any:
        return templates.TemplateResponse(
            request, "plain.txt", {"title": "<raw>"}, media_type="text/plain", status_code=201
        )

    app = App(routes=[Route("/", page), Route("/items/{id:int}", item), Route("/plain", plain)])
    c = TestClient(app)
    r = c.get("/")
    assert r.headers["content-type"] == "text/html; charset=utf-8" and r.headers["x-a"] == "1"
    assert r.text == '<h1>&lt;Hi&gt;</h1><a href="http://testserver/items/7">/</a>ada|GET'
    r = c.get("/plain")
    assert r.status_code == 201 and r.text == "<raw>"  # .txt is not autoescaped


def test_template_response_keeps_template_and_context(templates: Jinja2Templates) -> None:
    request = Request({"type": "http", "method": "GET", "headers": [], "path": "/"})
    response = templates.TemplateResponse(request, "plain.txt", {"title": "t"})
    assert response.template.name == "plain.txt"
    assert response.context["request"] is request and response.context["title"] == "t"


def test_env_and_argument_checks(tmp_path: Path) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"a.html": "{{ x }}"}), autoescape=True)
    templates = Jinja2Templates(env=env)
    assert templates.get_template("a.html").render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(ValueError, match="either a directory or an env"):
        Jinja2Templates()
    with pytest.raises(ValueError, match="either a directory or an env"):
        Jinja2Templates(directory=tmp_path, env=env)
