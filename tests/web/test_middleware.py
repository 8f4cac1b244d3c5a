"""The bundled middleware: CORS, compression, trusted hosts, HTTPS redirect, sessions."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from vivace.testing import TestClient
from vivace.types import Message
from vivace.web import (
    App,
    FileResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Response,
    Route,
    StreamingResponse,
)
from vivace.web.middleware import (
    BadSignature,
    CompressionMiddleware,
    CORSMiddleware,
    GZipMiddleware,
    HTTPSRedirectMiddleware,
    SessionMiddleware,
    SignatureExpired,
    Signer,
    TrustedHostMiddleware,
)
from vivace.web.middleware._compression import available_encodings, negotiate


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


def with_middleware(*middleware: Middleware, routes: list[Route] | None = None) -> TestClient:
    app = App(
        routes=routes or [Route("/", hello, methods=["GET", "POST"])], middleware=list(middleware)
    )
    return TestClient(app, follow_redirects=False)


# -- CORS ----------------------------------------------------------------------------------


def test_cors_simple_and_no_origin() -> None:
    c = with_middleware(
        Middleware(
            CORSMiddleware,
            allow_origins=["https://app.test"],
            allow_credentials=True,
            expose_headers=["x-total"],
        )
    )
    r = c.get("/")
    assert "access-control-allow-origin" not in r.headers and "vary" not in r.headers
    r = c.get("/", headers={"origin": "https://app.test"})
    assert r.headers["access-control-allow-origin"] == "https://app.test"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-expose-headers"] == "x-total"
    assert r.headers["vary"] == "Origin"
    r = c.get("/", headers={"origin": "https://evil.test"})
    assert "access-control-allow-origin" not in r.headers and r.headers["vary"] == "Origin"
    assert r.text == "hello"  # the request itself is served; the browser hides it


def test_cors_preflight() -> None:
    c = with_middleware(
        Middleware(
            CORSMiddleware,
            allow_origins=["https://app.test"],
            allow_methods=["GET", "POST"],
            allow_headers=["X-Token"],
            max_age=100,
        )
    )
    preflight = {
        "origin": "https://app.test",
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-token, content-type",
    }
    r = c.options("/", headers=preflight)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.test"
    assert r.headers["access-control-allow-methods"] == "GET, POST"
    assert r.headers["access-control-allow-headers"] == "x-token"
    assert r.headers["access-control-max-age"] == "100"
    r = c.options("/", headers={**preflight, "access-control-request-method": "DELETE"})
    assert r.status_code == 400 and "method" in r.text
    r = c.options("/", headers={**preflight, "access-control-request-headers": "x-other"})
    assert r.status_code == 400 and "headers" in r.text
    r = c.options("/", headers={**preflight, "origin": "https://evil.test"})
    assert (
        r.status_code == 400
        and "origin" in r.text
        and "access-control-allow-origin" not in r.headers
    )


def test_cors_wildcards_and_regex() -> None:
    c = with_middleware(
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    )
    r = c.get("/", headers={"origin": "https://any.test"})
    assert r.headers["access-control-allow-origin"] == "*" and "vary" not in r.headers
    r = c.options(
        "/",
        headers={
            "origin": "https://any.test",
            "access-control-request-method": "PATCH",
            "access-control-request-headers": "X-A",
        },
    )
    assert r.status_code == 200 and r.headers["access-control-allow-headers"] == "x-a"
    c = with_middleware(
        Middleware(CORSMiddleware, allow_origin_regex=r"https://[a-z]+\.example\.com")
    )
    assert (
        c.get("/", headers={"origin": "https://a.example.com"}).headers[
            "access-control-allow-origin"
        ]
        == "https://a.example.com"
    )
    r = c.get("/", headers={"origin": "https://a.example.com.evil.test"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_refuses_wildcard_with_credentials() -> None:
    with pytest.raises(ValueError, match="list the origins"):
        CORSMiddleware(hello, allow_origins=["*"], allow_credentials=True)


# -- compression ---------------------------------------------------------------------------

BIG = "vivace " * 500


async def big(request: Request) -> Response:
    return PlainTextResponse(BIG, headers={"etag": '"v1"'})


async def small(request: Request) -> Response:
    return PlainTextResponse("tiny")


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[str]:
        for _ in range(5):
            yield BIG

    return StreamingResponse(chunks(), media_type="text/plain")


async def image(request: Request) -> Response:
    return Response(b"\x89PNG" + b"0" * 2000, media_type="image/png")


async def svg(request: Request) -> Response:
    return Response(b"<svg>" + b" " * 2000 + b"</svg>", media_type="image/svg+xml")


async def encoded(request: Request) -> Response:
    return Response(gzip.compress(b"x" * 2000), headers={"content-encoding": "gzip"})


def compression_client(cls: Any = CompressionMiddleware, **kwargs: Any) -> TestClient:
    routes = [
        Route("/big", big),
        Route("/small", small),
        Route("/stream", stream),
        Route("/image", image),
        Route("/svg", svg),
        Route("/encoded", encoded),
    ]
    return with_middleware(Middleware(cls, **kwargs), routes=routes)


def decode(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "br":
        import brotli

        return bytes(brotli.decompress(data))
    import zstandard

    return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_compression_each_encoding(encoding: str) -> None:
    c = compression_client()
    r = c.get("/big", headers={"accept-encoding": encoding})
    assert r.headers["content-encoding"] == encoding
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["etag"] == 'W/"v1"'
    assert int(r.headers["content-length"]) < len(BIG) // 10
    # The test client decodes the encodings it knows (gzip); decode the others here.
    body = r.content if r.content == BIG.encode() else decode(encoding, r.content)
    assert body == BIG.encode()
    r = c.get("/stream", headers={"accept-encoding": encoding})
    assert r.headers["content-encoding"] == encoding and "content-length" not in r.headers


def test_compression_skips() -> None:
    c = compression_client()
    assert "content-encoding" not in c.get("/big", headers={"accept-encoding": "identity"}).headers
    assert "content-encoding" not in c.get("/small", headers={"accept-encoding": "gzip"}).headers
    assert "content-encoding" not in c.get("/image", headers={"accept-encoding": "gzip"}).headers
    assert c.get("/svg", headers={"accept-encoding": "gzip"}).headers["content-encoding"] == "gzip"
    r = c.get("/encoded", headers={"accept-encoding": "br"})
    assert r.headers["content-encoding"] == "gzip"
    r = c.head("/big", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in r.headers


def test_compression_preference_and_gzip_only() -> None:
    c = compression_client()
    assert (
        c.get("/big", headers={"accept-encoding": "gzip, br, zstd"}).headers["content-encoding"]
        == "zstd"
    )
    assert (
        c.get("/big", headers={"accept-encoding": "gzip;q=1, br;q=0.5"}).headers["content-encoding"]
        == "gzip"
    )
    g = compression_client(GZipMiddleware, minimum_size=10, compresslevel=9)
    r = g.get("/big", headers={"accept-encoding": "br, zstd, gzip"})
    assert r.headers["content-encoding"] == "gzip"
    with pytest.raises(ValueError, match="not available"):
        CompressionMiddleware(hello, encodings=["lzma"])
    assert available_encodings() == ["zstd", "br", "gzip"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("gzip;q=0", None),
        ("gzip;q=abc", None),
        ("gzip;q=nan", None),
        ("gzip;q=2", None),
        ("GZIP", "gzip"),
        ("*", "zstd"),
        ("*;q=0, gzip", "gzip"),
        (" , br ;q=0.8 ; x=y", "br"),
    ],
)
def test_negotiate(header: str, expected: str | None) -> None:
    assert negotiate(header, ["zstd", "br", "gzip"]) == expected


async def test_compression_passes_pathsend_through(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(BIG)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        raise AssertionError

    middleware = CompressionMiddleware(FileResponse(path))
    scope = {
        "type": "http",
        "method": "GET",
        "headers": [(b"accept-encoding", b"gzip")],
        "extensions": {"http.response.pathsend": {}},
    }
    await middleware(scope, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert all(name != b"content-encoding" for name, _ in sent[0]["headers"])


async def test_compression_passes_non_http_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await CompressionMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


# -- hosts and HTTPS -----------------------------------------------------------------------


def test_trusted_host() -> None:
    c = with_middleware(
        Middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.org"])
    )
    assert c.get("/", headers={"host": "example.com:8000"}).text == "hello"
    assert c.get("/", headers={"host": "api.example.org"}).text == "hello"
    for bad in ("evil.test", "example.org", "example.com.evil.test", "[::1]:80"):
        r = c.get("/", headers={"host": bad})
        assert r.status_code == 400 and r.text == "Invalid host header", bad
    c = with_middleware(Middleware(TrustedHostMiddleware, allowed_hosts=["www.example.com"]))
    r = c.get("/path?q=1", headers={"host": "example.com"})
    assert r.status_code == 301 and r.headers["location"] == "http://www.example.com/path?q=1"
    assert with_middleware(Middleware(TrustedHostMiddleware)).get("/").text == "hello"
    with pytest.raises(TypeError):
        TrustedHostMiddleware(hello, allowed_hosts="example.com")
    with pytest.raises(ValueError, match="wildcard"):
        TrustedHostMiddleware(hello, allowed_hosts=["ex*.com"])


async def test_trusted_host_websocket_and_missing_host() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = TrustedHostMiddleware(hello, allowed_hosts=["example.com"])
    await middleware({"type": "websocket", "headers": []}, None, send)  # type: ignore[arg-type]
    assert sent == [{"type": "websocket.close", "code": 1008}]
    sent.clear()
    scope = {"type": "http", "method": "GET", "headers": [(b"host", b"[broken")]}
    await middleware(scope, None, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400


def test_https_redirect() -> None:
    c = with_middleware(Middleware(HTTPSRedirectMiddleware))
    r = c.get("/a?b=1")
    assert r.status_code == 307 and r.headers["location"] == "https://testserver/a?b=1"
    r = c.get("/", headers={"host": "example.com:8080"})
    assert r.headers["location"] == "https://example.com:8080/"
    r = c.get("/", headers={"host": "example.com:80"})
    assert r.headers["location"] == "https://example.com/"
    secure = TestClient(
        App(routes=[Route("/", hello)], middleware=[Middleware(HTTPSRedirectMiddleware)]),
        base_url="https://testserver",
    )
    assert secure.get("/").text == "hello"


async def test_https_redirect_websocket() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = HTTPSRedirectMiddleware(hello)
    scope: dict[str, Any] = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/ws",
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
    }
    await middleware(scope, None, send)  # type: ignore[arg-type]
    assert sent == [{"type": "websocket.close", "code": 1008}]
    sent.clear()
    scope["extensions"] = {"websocket.http.response": {}}
    await middleware(scope, None, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 307 and (b"location", b"wss://example.com/ws") in sent[0]["headers"]


# -- sessions ------------------------------------------------------------------------------


async def session_view(request: Request) -> Any:
    session = request.session
    if request.method == "POST":
        data = await request.json()
        if data is None:
            session.clear()
        else:
            session.update(data)
    return dict(session)


async def nested(request: Request) -> Any:
    request.session.setdefault("cart", []).append(1)
    return dict(request.session)


def session_client(**kwargs: Any) -> TestClient:
    options = {"secret_key": "s3cret", **kwargs}
    return with_middleware(
        Middleware(SessionMiddleware, **options),
        routes=[Route("/", session_view, methods=["GET", "POST"]), Route("/nested", nested)],
    )


def test_session_round_trip_and_minimal_set_cookie() -> None:
    c = session_client()
    r = c.get("/")
    assert r.json() == {} and "set-cookie" not in r.headers
    r = c.post("/", json={"user": "ada"})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Max-Age=1209600" in cookie
    r = c.get("/")
    assert r.json() == {"user": "ada"} and "set-cookie" not in r.headers  # unchanged
    assert c.get("/nested").json() == {"user": "ada", "cart": [1]}
    assert c.get("/nested").json()["cart"] == [1, 1]  # nested changes are saved too
    r = c.post("/", content=b"null", headers={"content-type": "application/json"})
    assert "Max-Age=0" in r.headers["set-cookie"]
    assert c.get("/").json() == {}


def test_session_tampering_and_garbage_are_ignored() -> None:
    c = session_client()
    c.post("/", json={"role": "user"})
    token = c.cookies["session"]
    payload, ts, sig = token.split(".")
    import base64

    forged = base64.urlsafe_b64encode(b'{"role":"admin"}').rstrip(b"=").decode()
    for bad in (f"{forged}.{ts}.{sig}", "garbage", "a.b.c", token[:-3], f"{payload}.{ts}"):
        fresh = session_client()
        fresh.cookies.set("session", bad)
        assert fresh.get("/").json() == {}, bad


def test_session_key_rotation() -> None:
    old = session_client(secret_key="old-key")
    old.post("/", json={"n": 1})
    token = old.cookies["session"]
    rotated = session_client(secret_key=["new-key", "old-key"])
    rotated.cookies.set("session", token)
    r = rotated.get("/")
    assert r.json() == {"n": 1}
    resigned = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]  # the new key signed it
    new_only = session_client(secret_key="new-key")
    new_only.cookies.set("session", resigned)
    assert new_only.get("/").json() == {"n": 1}
    retired = session_client(secret_key="new-key")
    retired.cookies.set("session", token)
    assert retired.get("/").json() == {}


def test_session_expiry_and_refresh() -> None:
    signer = Signer("k", salt=b"vivace.web.session")
    old = signer.sign(b'{"a":1}', timestamp=int(time.time()) - 100).decode()
    c = session_client(secret_key="k", max_age=60)
    c.cookies.set("session", old)
    assert c.get("/").json() == {}
    half = signer.sign(b'{"a":1}', timestamp=int(time.time()) - 40).decode()
    c = session_client(secret_key="k", max_age=60)
    c.cookies.set("session", half)
    r = c.get("/")
    assert r.json() == {"a": 1} and "Max-Age=60" in r.headers["set-cookie"]
    c = session_client(secret_key="k", max_age=None, https_only=True, domain="example.com")
    r = c.post("/", json={"b": 2})
    cookie = r.headers["set-cookie"]
    assert "Max-Age" not in cookie and "Secure" in cookie and "Domain=example.com" in cookie


def test_session_non_object_payload_and_too_large(caplog: pytest.LogCaptureFixture) -> None:
    signer = Signer("k", salt=b"vivace.web.session")
    c = session_client(secret_key="k")
    c.cookies.set("session", signer.sign(b"[1,2]").decode())
    assert c.get("/").json() == {}
    c.cookies.set("session", signer.sign(b"not json").decode())
    assert c.get("/").json() == {}
    c = session_client(secret_key="k")
    with caplog.at_level("ERROR", logger="vivace.web"):
        r = c.post("/", json={"blob": "x" * 5000})
    assert "set-cookie" not in r.headers
    assert "cookie 'session' not written" in caplog.text


async def test_session_websocket_scope_and_other_scopes() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen[scope["type"]] = scope.get("session")

    middleware = SessionMiddleware(app, secret_key="k")
    await middleware({"type": "websocket", "headers": []}, None, None)  # type: ignore[arg-type]
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == {"websocket": {}, "lifespan": None}


def test_signer() -> None:
    signer = Signer(b"k1")
    token = signer.sign(b"payload")
    assert signer.unsign(token, max_age=10)[0] == b"payload"
    with pytest.raises(SignatureExpired):
        signer.unsign(signer.sign(b"x", timestamp=0), max_age=10)
    with pytest.raises(BadSignature, match="malformed"):
        signer.unsign(b"no-dots", max_age=None)
    with pytest.raises(BadSignature):
        signer.unsign(b"a.b.!!!", max_age=None)
    bad_ts = token.split(b".")
    forged = Signer(b"k1")
    message = bad_ts[0] + b".AAAA"
    sig = forged._signature(forged._keys[0], message)
    import base64

    with pytest.raises(BadSignature, match="timestamp"):
        forged.unsign(message + b"." + base64.urlsafe_b64encode(sig).rstrip(b"="), max_age=None)
    with pytest.raises(ValueError, match="at least one"):
        Signer([])
    with pytest.raises(ValueError, match="empty secret"):
        Signer("")
    # A different salt never verifies: keys are derived per use.
    with pytest.raises(BadSignature):
        Signer(b"k1", salt=b"other").unsign(token, max_age=None)


async def test_https_redirect_with_broken_host() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = HTTPSRedirectMiddleware(hello)
    for kind, host in (("http", b"a:99999"), ("http", b"[::1"), ("websocket", b"a:99999")):
        scope = {
            "type": kind,
            "scheme": "http" if kind == "http" else "ws",
            "method": "GET",
            "path": "/",
            "query_string": b"",
            "headers": [(b"host", host)],
        }
        await middleware(scope, None, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400 and sent[2]["status"] == 400
    assert sent[-1] == {"type": "websocket.close", "code": 1008}


def test_signed_cookie_remembers_verified_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    from vivace.web.middleware import SignedCookie, _signed_cookie

    cookie = SignedCookie("sid", "k", salt=b"test", max_age=100)
    token = cookie.signer.sign(b"id").decode()
    scope = {"headers": [(b"cookie", f"sid={token}".encode())]}
    assert cookie.read(scope) is not None and cookie.read(scope) is not None  # miss, hit
    # A remembered token still expires: its age is checked on every read.
    now = _signed_cookie.time.time()
    monkeypatch.setattr(_signed_cookie.time, "time", lambda: now + 1000)
    assert cookie.read(scope) is None
    monkeypatch.undo()
    # The memory is bounded: full, it starts again.
    monkeypatch.setattr(_signed_cookie, "_VERIFIED_MAX", 2)
    for payload in (b"a", b"b", b"c"):
        other = cookie.signer.sign(payload).decode()
        assert cookie.read({"headers": [(b"cookie", f"sid={other}".encode())]}) is not None
    assert len(cookie._verified) <= 2 and token not in cookie._verified  # cleared once
