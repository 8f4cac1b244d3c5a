"""Percent-encoding survives redirects and ``url_for``: the slash redirect and StaticFiles'
directory redirect build Location from ``raw_path``; mount paths are quoted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Harness
from vivace.http import encoded_path
from vivace.testing import TestClient
from vivace.types import Message, Scope
from vivace.web import App, Mount, Request, Route, Router, StaticFiles
from vivace.web._routes import slash_redirect


async def doc(request: Request) -> dict[str, Any]:
    return {"name": request.path_params["name"], "query": request.url.query}


def _app(folder: Path | None = None) -> App:
    routes: list[Any] = [Route("/docs/{name}/", doc), Route("/flat/{name}", doc)]
    if folder is not None:
        routes.append(Mount("/static", StaticFiles(directory=folder, html=True), name="static"))
    routes.append(Mount("/sub", routes=[Route("/docs/{name}/", doc)]))
    return App(routes=routes)


@pytest.mark.parametrize(
    ("target", "location", "name"),
    [
        ("/docs/a%3Fb", "/docs/a%3Fb/", "a?b"),
        ("/docs/100%25", "/docs/100%25/", "100%"),
        ("/docs/a%252Fb", "/docs/a%252Fb/", "a%2Fb"),
        ("/docs/a%23b", "/docs/a%23b/", "a#b"),
        ("/docs/a%20b", "/docs/a%20b/", "a b"),
        ("/docs/caf%C3%A9", "/docs/caf%C3%A9/", "café"),
        ("/docs/x?q=a%26b&r=1", "/docs/x/?q=a%26b&r=1", "x"),
        ("/flat/a%3Fb/", "/flat/a%3Fb", "a?b"),
        ("/flat/100%25/?k=v", "/flat/100%25?k=v", "100%"),
        ("/flat/a%2F", "/flat/a", "a"),  # the trailing slash the router saw was encoded
        ("/sub/docs/a%3Fb", "/sub/docs/a%3Fb/", "a?b"),
    ],
)
def test_slash_redirect_keeps_the_encoding(target: str, location: str, name: str) -> None:
    client = TestClient(_app(), follow_redirects=False)
    response = client.get(target)
    assert response.status_code == 307
    assert response.headers["location"] == location
    followed = TestClient(_app()).get(target)
    assert followed.status_code == 200
    assert followed.json()["name"] == name


def _scope(path: str, raw_path: bytes | None, query: bytes = b"") -> Scope:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "headers": [],
        "root_path": "",
    }
    if raw_path is not None:
        scope["raw_path"] = raw_path
    return scope


@pytest.mark.parametrize(
    ("path", "raw_path", "location"),
    [
        ("/docs/a?b", None, "/docs/a%3Fb/"),  # no raw_path: quote the decoded path
        ("/docs/100%", None, "/docs/100%25/"),
        ("/docs/a%2Fb", None, "/docs/a%252Fb/"),
        ("/docs/a?b", b"/docs/a?b", "/docs/a%3Fb/"),  # a raw_path holding a query
        ("/docs/a?b", b"/other/a%3Fb", "/docs/a%3Fb/"),  # raw_path of another path
        ("/docs/a b", b"/docs/a%20b", "/docs/a%20b/"),
        ("//evil.example", b"//evil.example", "/evil.example/"),  # never another host
        ("/x/", b"/x%2F", "/x"),
    ],
)
def test_location_from_scope(path: str, raw_path: bytes | None, location: str) -> None:
    response = slash_redirect(_scope(path, raw_path))
    assert response.status_code == 307
    assert response.headers["location"] == location


def test_query_kept_and_hostile_raw_path_quoted() -> None:
    response = slash_redirect(_scope("/a", b"/a", b"x=1&y=%0D%0A"))
    assert response.headers["location"] == "/a/?x=1&y=%0D%0A"
    # A raw_path with CR LF never reaches the header raw: it cannot decode to a path
    # without them, and the decoded path is quoted.
    response = slash_redirect(_scope("/a\r\nSet-Cookie: x", b"/a\r\nSet-Cookie: x"))
    assert "\r" not in response.headers["location"]
    assert "\n" not in response.headers["location"]


def test_encoded_path_rule() -> None:
    assert encoded_path({"path": "/a b", "raw_path": b"/a%20b"}) == "/a%20b"
    assert encoded_path({"path": "/a b", "raw_path": b"/a+b"}) == "/a%20b"
    assert encoded_path({"path": "/a b"}) == "/a%20b"
    assert encoded_path({"path": "/a b", "raw_path": b""}) == "/a%20b"
    assert encoded_path({}) == "/"


async def test_slash_redirect_on_the_vivace_server() -> None:
    h = Harness(_app(), date_header=False)
    try:
        await h.send(b"GET /docs/a%3Fb?z=%20 HTTP/1.1\r\nHost: x\r\n\r\n")
        responses = await h.responses()
    finally:
        await h.close()
    assert responses[0].status == 307
    assert responses[0].header(b"location") == b"/docs/a%3Fb/?z=%20"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("a?b", "100%", "a#b", "plain", "a%2Fb"):
        os.mkdir(tmp_path / name)
        (tmp_path / name / "index.html").write_text(f"index of {name}")
    return tmp_path


@pytest.mark.parametrize(
    ("target", "location", "body"),
    [
        ("/static/a%3Fb", "/static/a%3Fb/", "index of a?b"),
        ("/static/100%25", "/static/100%25/", "index of 100%"),
        ("/static/a%23b", "/static/a%23b/", "index of a#b"),
        ("/static/a%252Fb", "/static/a%252Fb/", "index of a%2Fb"),
        ("/static/plain?v=2", "/static/plain/?v=2", "index of plain"),
    ],
)
def test_static_directory_redirect(folder: Path, target: str, location: str, body: str) -> None:
    response = TestClient(_app(folder), follow_redirects=False).get(target)
    assert response.status_code == 307
    assert response.headers["location"] == location
    assert TestClient(_app(folder)).get(target).text == body


async def test_static_directory_redirect_without_raw_path(folder: Path) -> None:
    static = StaticFiles(directory=folder, html=True)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = _scope("/a?b", None)
    await static(scope, receive, send)
    assert sent[0]["status"] == 307
    assert (b"location", b"/a%3Fb/") in sent[0]["headers"]


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("a b?c#d", "/static/a%20b%3Fc%23d"),
        ("css/site.css", "/static/css/site.css"),
        ("/css/x.css", "/static/css/x.css"),
        ("100%", "/static/100%25"),
        ("a%2Fb", "/static/a%252Fb"),
        ("caf\u00e9/\r\n", "/static/caf%C3%A9/%0D%0A"),
        ("", "/static/"),
    ],
)
def test_url_for_quotes_mount_paths(folder: Path, path: str, url: str) -> None:
    app = _app(folder)
    assert app.url_path_for("static", path=path) == url
    router = Router([Mount("/static", StaticFiles(directory=folder), name="static")])
    assert router.url_path_for("static", path=path) == url


def test_url_for_mount_path_matches_route_parameter_quoting(folder: Path) -> None:
    async def show(request: Request) -> dict[str, str]:
        return {
            "static": str(request.url_for("static", path="a b?c#d")),
            "route": str(request.url_for("docs", rest="a b?c#d")),
        }

    app = App(
        routes=[
            Route("/show", show),
            Route("/docs/{rest:path}", show, name="docs"),
            Mount("/static", StaticFiles(directory=folder), name="static"),
        ]
    )
    body = TestClient(app).get("/show").json()
    assert body["static"] == "http://testserver/static/a%20b%3Fc%23d"
    assert body["route"] == "http://testserver/docs/a%20b%3Fc%23d"
