"""CSRFMiddleware against the ways a forged request gets in: no token, a wrong or foreign
token, another origin, ``Origin: null``, a method override, cross-site WebSockets, bodies
built to hide the token; and the token helpers."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import pytest

from vivace.csrf import (
    FORM_FIELD,
    SESSION_KEY,
    CSRFMiddleware,
    csrf_token,
    install_csrf,
    rotate_token,
    token_matches,
)
from vivace.sessions import StoreSessionMiddleware
from vivace.stores import MemoryStore
from vivace.testing import TestClient
from vivace.web import (
    App,
    Jinja2Templates,
    Middleware,
    Request,
    Route,
    WebSocket,
    WebSocketRoute,
)
from vivace.web.middleware import SessionMiddleware


async def token_view(request: Request) -> Any:
    return {"token": csrf_token(request)}


async def submit(request: Request) -> Any:
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    files = {
        key: len(await value.read()) for key, value in form.items() if not isinstance(value, str)
    }
    return {"method": request.method, "fields": fields, "files": files}


async def raw(request: Request) -> Any:
    return {"body": (await request.body()).decode()}


async def rotate(request: Request) -> Any:
    rotate_token(request)
    return {}


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


ROUTES = [
    Route("/token", token_view),
    Route("/submit", submit, methods=["POST", "PUT", "PATCH", "DELETE"]),
    Route("/raw", raw, methods=["POST"]),
    Route("/rotate", rotate, methods=["POST"]),
    Route("/webhooks/{name}", raw, methods=["POST"]),
    Route("/exact", raw, methods=["POST"]),
    WebSocketRoute("/ws", socket),
]


def make_client(
    base_url: str = "http://testserver", cookie_sessions: bool = False, **options: Any
) -> TestClient:
    session = (
        Middleware(SessionMiddleware, secret_key="k")
        if cookie_sessions
        else Middleware(StoreSessionMiddleware, store=MemoryStore(), secret_key="k")
    )
    options.setdefault("trusted_origins", ["https://*.example.com", "http://partner.test:8080"])
    options.setdefault("exempt", ["/webhooks/*", "/exact"])
    app = App(routes=ROUTES, middleware=[session, Middleware(CSRFMiddleware, **options)])
    return TestClient(app, base_url=base_url)


def token_of(client: TestClient) -> str:
    return str(client.get("/token").json()["token"])


@pytest.mark.parametrize("cookie_sessions", [False, True])
def test_token_in_header_or_form(cookie_sessions: bool) -> None:
    client = make_client(cookie_sessions=cookie_sessions)
    token = token_of(client)
    r = client.post("/submit", headers={"x-csrf-token": token}, data={"a": "1"})
    assert r.status_code == 200 and r.json()["fields"] == {"a": "1"}
    r = client.post("/submit", data={"before": "x", FORM_FIELD: token, "after": "y"})
    assert r.json()["fields"] == {"before": "x", FORM_FIELD: token, "after": "y"}  # replayed
    r = client.post(
        "/submit", data={FORM_FIELD: token, "name": "n"}, files={"upload": ("a.bin", b"x" * 70000)}
    )
    assert r.status_code == 200 and r.json()["files"] == {"upload": 70000}
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.request(method, "/submit", headers={"x-csrf-token": token}).status_code == 200


def test_missing_and_forged_tokens_are_refused() -> None:
    client = make_client()
    token = token_of(client)
    r = client.post("/submit", data={"a": "1"})
    assert r.status_code == 403 and "token missing" in r.text
    other = token_of(make_client())  # a valid token of another session
    fakes = [other, "A" * 86, token[:-1], token + "A", "", "é" * 86, "!" * 86, token.upper()]
    for fake in fakes:
        r = client.post("/submit", headers={"x-csrf-token": fake})
        assert r.status_code == 403, fake
    r = client.post("/submit", json={FORM_FIELD: token})  # JSON bodies are not searched
    assert r.status_code == 403 and "token missing" in r.text
    fresh = make_client()  # a session that never got a token
    assert fresh.post("/submit", headers={"x-csrf-token": token}).status_code == 403


def test_every_masking_verifies_and_rotation_invalidates() -> None:
    client = make_client()
    first, second = token_of(client), token_of(client)
    assert first != second  # masked anew (BREACH)
    for token in (first, second):
        assert client.post("/raw", headers={"x-csrf-token": token}).status_code == 200
    assert client.post("/rotate", headers={"x-csrf-token": first}).status_code == 200
    assert client.post("/raw", headers={"x-csrf-token": first}).status_code == 403
    assert client.post("/raw", headers={"x-csrf-token": token_of(client)}).status_code == 200


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"origin": "http://testserver"}, True),
        ({"origin": "HTTP://TestServer:80"}, True),  # normalised
        ({"origin": "https://testserver"}, False),  # another scheme is another origin
        ({"origin": "http://testserver:8000"}, False),
        ({"origin": "https://evil.test"}, False),
        ({"origin": "null"}, False),
        ({"origin": "garbage"}, False),
        ({"origin": "http://[::1"}, False),
        ({"origin": "https://app.example.com"}, True),  # trusted wildcard
        ({"origin": "https://a.b.example.com"}, True),
        ({"origin": "https://example.com.evil.test"}, False),
        ({"origin": "https://evilexample.com"}, False),
        ({"origin": "http://app.example.com"}, False),  # the wildcard is https only
        ({"origin": "http://partner.test:8080"}, True),
        ({"origin": "http://partner.test"}, False),
        ({"referer": "http://testserver/page?x=1"}, True),
        ({"referer": "https://evil.test/page"}, False),
        ({"referer": "not a url"}, False),
        ({"origin": "https://evil.test", "referer": "http://testserver/"}, False),
        ({"sec-fetch-site": "cross-site", "origin": "http://testserver"}, False),
        ({"sec-fetch-site": "same-origin", "origin": "http://testserver"}, True),
        ({}, True),  # plain HTTP without Origin or Referer: the token decides
    ],
)
def test_origin_and_referer_checks(headers: dict[str, str], allowed: bool) -> None:
    client = make_client()
    token = token_of(client)
    r = client.post("/raw", headers={"x-csrf-token": token, **headers})
    assert r.status_code == (200 if allowed else 403), r.text


def test_https_needs_origin_or_referer() -> None:
    client = make_client(base_url="https://testserver")
    token = token_of(client)
    r = client.post("/raw", headers={"x-csrf-token": token})
    assert r.status_code == 403 and "no Origin or Referer" in r.text
    r = client.post("/raw", headers={"x-csrf-token": token, "referer": "https://testserver/a"})
    assert r.status_code == 200
    r = client.post("/raw", headers={"x-csrf-token": token, "origin": "https://testserver:443"})
    assert r.status_code == 200


def test_method_override_does_not_make_a_post_safe() -> None:
    client = make_client()
    token_of(client)
    for headers in ({"x-http-method-override": "GET"}, {"x-method-override": "GET"}):
        assert client.post("/raw", headers=headers).status_code == 403
    assert client.post("/raw?_method=GET", data={"_method": "GET"}).status_code == 403
    # Methods are case-sensitive (RFC 9110 section 9.1): "post" is an unknown, unsafe method.
    assert client.request("post", "/raw").status_code in (403, 405)
    r = client.request("post", "/raw")
    assert r.status_code == 403
    for method in ("HEAD", "OPTIONS"):
        assert client.request(method, "/token").status_code != 403


def test_exempt_paths() -> None:
    client = make_client()
    assert client.post("/webhooks/stripe", content=b"{}").status_code == 200
    assert client.post("/exact", content=b"{}").status_code == 200
    assert client.post("/exact/more", content=b"{}").status_code in (403, 404)
    r = client.post("/exact/more", content=b"{}")
    assert r.status_code == 403
    with pytest.raises(ValueError, match="starts with"):
        CSRFMiddleware(raw, exempt=["webhooks"])


def test_websocket_origin_check() -> None:
    from vivace.client import WebSocketRejected

    client = make_client()
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        assert ws.receive_text() == "hello"
    with client.websocket_connect("/ws") as ws:  # no Origin: not a browser
        assert ws.receive_text() == "hello"
    with (
        pytest.raises(WebSocketRejected),
        client.websocket_connect("/ws", headers={"origin": "https://evil.test"}),
    ):
        pass
    unchecked = make_client(check_websocket_origin=False)
    with unchecked.websocket_connect("/ws", headers={"origin": "https://evil.test"}) as ws:
        assert ws.receive_text() == "hello"


def test_bodies_that_hide_the_token() -> None:
    client = make_client(max_body_size=1000)
    token = token_of(client)
    # The token after the first max_body_size bytes is not looked for.
    r = client.post("/raw", data={"pad": "x" * 2000, FORM_FIELD: token})
    assert r.status_code == 403
    r = client.post("/raw", data={FORM_FIELD: token, "pad": "x" * 2000})
    assert r.status_code == 200 and len(r.json()["body"]) > 2000  # the whole body replayed
    # In a file part, the token does not count; a malformed body has none.
    r = client.post("/raw", files={FORM_FIELD: ("t.txt", token.encode())})
    assert r.status_code == 403
    bad = {"content-type": "multipart/form-data; boundary=abc"}
    assert client.post("/raw", content=b"--abc\r\nbroken", headers=bad).status_code == 403
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=\x01", "text/plain"):
        r = client.post(
            "/raw", content=f"{FORM_FIELD}={token}", headers={"content-type": content_type}
        )
        assert r.status_code == 403
    huge_field = {"content-type": "application/x-www-form-urlencoded"}
    r = client.post("/raw", content=b"a=" + b"x" * 5000, headers=huge_field)
    assert r.status_code == 403


async def test_client_disconnect_while_the_token_is_looked_for() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(await receive())

    middleware = CSRFMiddleware(app)
    messages = [
        {"type": "http.request", "body": b"a=1&", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Any:
        return messages.pop(0)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "scheme": "http",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "session": {},
    }
    from vivace.csrf import CSRFError

    with pytest.raises(CSRFError, match="token missing"):
        await middleware(scope, receive, None)  # type: ignore[arg-type]


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    client = make_client()
    token = token_of(client)
    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert client.post("/raw", headers={"x-csrf-token": token}).status_code == 200
    assert any(len(a) == 32 for a, _ in calls), "the token was not compared with compare_digest"


def test_needs_a_session() -> None:
    app = App(routes=ROUTES, middleware=[Middleware(CSRFMiddleware)])
    with pytest.raises(RuntimeError, match="session middleware"):
        TestClient(app).post("/raw", headers={"x-csrf-token": "x"})
    with pytest.raises(RuntimeError, match="session middleware"):
        csrf_token({"type": "http"})


def test_garbage_secret_in_the_session_is_replaced() -> None:
    for stored in ("!!not base64!!", "c2hvcnQ", 42):
        scope: dict[str, Any] = {"type": "http", "session": {SESSION_KEY: stored}}
        assert not token_matches(scope, "A" * 86)
        token = csrf_token(scope)
        assert token_matches(scope, token) and scope["session"][SESSION_KEY] != stored


def test_bad_configuration() -> None:
    for origin in ("example.com", "ftp://example.com", "https://", "https://a/b", "https://[::1"):
        with pytest.raises(ValueError, match="origin"):
            CSRFMiddleware(raw, trusted_origins=[origin])


def test_template_helpers(tmp_path: Path) -> None:
    (tmp_path / "form.html").write_text(
        '<meta name="csrf-token" content="{{ csrf_token() }}">'
        '<form method="post">{{ csrf_input() }}</form>'
    )
    templates = Jinja2Templates(directory=tmp_path)
    install_csrf(templates)

    async def page(request: Request) -> Any:
        return templates.TemplateResponse(request, "form.html")

    app = App(
        routes=[Route("/page", page), *ROUTES],
        middleware=[
            Middleware(StoreSessionMiddleware, store=MemoryStore(), secret_key="k"),
            Middleware(CSRFMiddleware),
        ],
    )
    client = TestClient(app)
    html = client.get("/page").text
    meta = html.split('content="')[1].split('"')[0]
    hidden = html.split('value="')[1].split('"')[0]
    assert meta != hidden
    for token in (meta, hidden):
        assert client.post("/raw", data={FORM_FIELD: token}).status_code == 200


async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await CSRFMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


async def test_origin_without_host_header_and_ipv6() -> None:
    from vivace.csrf import CSRFError

    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    middleware = CSRFMiddleware(app, trusted_origins=["http://[::1]:8000"])
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "scheme": "http",
        "server": ("10.0.0.1", 8080),
        "headers": [(b"origin", b"http://10.0.0.1:8080")],
        "session": {},
    }
    scope["headers"].append((b"x-csrf-token", csrf_token(scope).encode()))

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    await middleware(scope, receive, None)  # the server's address is the own origin
    scope["headers"][0] = (b"origin", b"http://[::1]:8000")
    await middleware(scope, receive, None)  # a trusted IPv6 origin
    scope["headers"][0] = (b"origin", b"http://:8000")
    with pytest.raises(CSRFError, match="Origin"):
        await middleware(scope, receive, None)
    del scope["server"]
    scope["headers"][0] = (b"origin", b"http://10.0.0.1:8080")
    with pytest.raises(CSRFError, match="Origin"):  # no Host, no server: no own origin
        await middleware(scope, receive, None)


def test_multipart_over_a_parser_limit_has_no_token() -> None:
    client = make_client()
    token = token_of(client)
    body = (
        b'--abc\r\nContent-Disposition: form-data; name="x"\r\nX-Pad: '
        + b"p" * 20000
        + b'\r\n\r\nv\r\n--abc\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        + token.encode()
        + b"\r\n--abc--\r\n"
    )
    headers = {"content-type": "multipart/form-data; boundary=abc"}
    assert client.post("/raw", content=body, headers=headers).status_code == 403
