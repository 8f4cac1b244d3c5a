"""Request: lazy attributes, body/json/form/stream, limits, re-reading, disconnects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vivace.testing import TestClient
from vivace.types import Message, Receive, Scope, Send
from vivace.web import (
    App,
    ClientDisconnect,
    Limits,
    Middleware,
    Request,
    Route,
    UploadFile,
)


def app_with(handler: Any, methods: list[str] | None = None, **kwargs: Any) -> TestClient:
    return TestClient(
        App(routes=[Route("/", handler, methods=methods or ["GET", "POST"])], **kwargs)
    )


def test_attributes() -> None:
    async def handler(request: Request) -> dict[str, Any]:
        return {
            "method": request.method,
            "url": str(request.url),
            "base": str(request.base_url),
            "query": request.query_params.multi_items(),
            "headers": request.headers["x-a"],
            "cookies": request.cookies,
            "client": list(request.client or ()),
            "params": request.path_params,
            "app": request.app is not None,
        }

    c = TestClient(App(routes=[Route("/", handler)]), client=("10.0.0.1", 1234))
    data = c.get(
        "/?a=1&a=2&b=",
        headers={"x-a": "v", "cookie": 'sid=abc; bad cookie; q="x y"'},
    ).json()
    assert data == {
        "method": "GET",
        "url": "http://testserver/?a=1&a=2&b=",
        "base": "http://testserver/",
        "query": [["a", "1"], ["a", "2"], ["b", ""]],
        "headers": "v",
        "cookies": {"sid": "abc", "q": "x y"},
        "client": ["10.0.0.1", 1234],
        "params": {},
        "app": True,
    }


def test_request_outside_an_app() -> None:
    request = Request({"type": "http", "method": "GET", "headers": [], "path": "/"})
    assert request.client is None
    assert request.cookies == {}
    with pytest.raises(RuntimeError, match="SessionMiddleware"):
        _ = request.session
    with pytest.raises(RuntimeError, match="served by an app"):
        request.url_for("x")
    with pytest.raises(RuntimeError, match="no receive channel"):
        asyncio.run(request.body())


def test_multiple_cookie_headers() -> None:
    request = Request(
        {"type": "http", "headers": [(b"cookie", b"a=1; b=2"), (b"cookie", b"b=3; c=4")]}
    )
    assert request.cookies == {"a": "1", "b": "2", "c": "4"}


def test_body_json_and_chunked_body() -> None:
    async def handler(request: Request) -> Any:
        body = await request.body()
        assert await request.body() is body  # cached
        return await request.json()

    c = app_with(handler)
    assert c.post("/", json={"a": [1, 2]}).json() == {"a": [1, 2]}

    def chunks() -> Any:
        yield b'{"x":'
        yield b' "y"}'

    assert c.post("/", content=chunks(), headers={"content-type": "application/json"}).json() == {
        "x": "y"
    }


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b"{bad", "application/json", 400, "malformed JSON body"),
        (b"", "application/json", 400, "empty body"),
        (b"[1]", "text/plain", 415, "expected a JSON body"),
        (b"[1]", "application/x-www-form-urlencoded", 415, "expected a JSON body"),
    ],
)
def test_bad_json(content: bytes, content_type: str, status: int, message: str) -> None:
    async def handler(request: Request) -> Any:
        return await request.json()

    r = app_with(handler).post("/", content=content, headers={"content-type": content_type})
    assert r.status_code == status and message in r.text


def test_json_content_types_accepted() -> None:
    async def handler(request: Request) -> Any:
        return await request.json()

    c = app_with(handler)
    for ct in ("application/json; charset=utf-8", "application/problem+json", "Application/JSON"):
        assert c.post("/", content=b"[1]", headers={"content-type": ct}).json() == [1]

    async def lenient(request: Request) -> Any:
        return await request.json(strict_content_type=False)

    r = app_with(lenient).post("/", content=b"[2]", headers={"content-type": "text/plain"})
    assert r.json() == [2]


def test_body_limit() -> None:
    async def handler(request: Request) -> Any:
        return str(len(await request.body()))

    c = app_with(handler, limits=Limits(max_body_size=10))
    assert c.post("/", content=b"x" * 10).text == "10"
    r = c.post("/", content=b"x" * 11)
    assert r.status_code == 413 and "larger than 10" in r.text

    def chunks() -> Any:
        for _ in range(5):
            yield b"xxxx"

    assert c.post("/", content=chunks()).status_code == 413
    unlimited = app_with(handler, limits=Limits(max_body_size=None))
    assert unlimited.post("/", content=b"x" * 100).text == "100"


def test_stream_and_stream_twice() -> None:
    async def handler(request: Request) -> Any:
        got = [chunk async for chunk in request.stream()]
        try:
            [c async for c in request.stream()]
        except RuntimeError as exc:
            return {"chunks": len(got), "size": sum(map(len, got)), "again": str(exc)}
        raise AssertionError("streamed twice")

    def chunks() -> Any:
        yield b"a" * 10
        yield b"b" * 10

    data = app_with(handler).post("/", content=chunks()).json()
    assert data == {"chunks": 2, "size": 20, "again": "the request body was already streamed"}


def test_body_read_in_middleware_and_again_in_handler() -> None:
    class Audit:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                request = Request(scope, receive)
                scope.setdefault("state", {})["seen"] = len(await request.body())
                # Passing request.receive lets raw ASGI apps downstream read it again.
                await self.app(scope, request.receive, send)
                return
            await self.app(scope, receive, send)

    async def handler(request: Request) -> Any:
        return {"seen": request.state.seen, "body": (await request.body()).decode()}

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message["body"]})

    from vivace.web import Mount

    app = App(
        routes=[Route("/", handler, methods=["POST"]), Mount("/raw", raw)],
        middleware=[Middleware(Audit)],
    )
    c = TestClient(app)
    assert c.post("/", content=b"hello").json() == {"seen": 5, "body": "hello"}
    assert c.post("/raw/x", content=b"again").content == b"again"


def test_stream_after_body_yields_cached_body() -> None:
    async def handler(request: Request) -> Any:
        await request.body()
        return b"".join([c async for c in request.stream()])

    assert app_with(handler).post("/", content=b"abc").content == b"abc"


async def test_client_disconnect_while_reading_body() -> None:
    messages: list[Message] = [
        {"type": "http.request", "body": b"part", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    request = Request({"type": "http", "headers": []}, receive)
    with pytest.raises(ClientDisconnect):
        await request.body()
    assert await request.is_disconnected()


async def test_handler_disconnect_sends_nothing() -> None:
    async def handler(request: Request) -> Any:
        await request.body()
        raise AssertionError("unreachable")

    app = App(routes=[Route("/", handler, methods=["POST"])])
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    assert sent == []


async def test_is_disconnected_without_waiting() -> None:
    waiting = asyncio.Event()

    async def receive_pending() -> Message:
        await waiting.wait()
        return {"type": "http.disconnect"}

    request = Request({"type": "http", "headers": []}, receive_pending)
    assert await request.is_disconnected() is False
    assert not waiting._waiters  # the wait was undone, not left behind

    queue = [{"type": "http.request", "body": b"early", "more_body": False}]

    async def receive_ready() -> Message:
        return queue.pop(0)

    request = Request({"type": "http", "headers": []}, receive_ready)
    assert await request.is_disconnected() is False
    assert await request.body() == b"early"  # the message was kept, not lost

    request = Request({"type": "http", "headers": []}, receive_ready)
    queue.append({"type": "http.request", "body": b"a", "more_body": True})
    await request.is_disconnected()
    queue.append({"type": "http.request", "body": b"b", "more_body": False})
    await request.is_disconnected()
    assert await request.body() == b"ab"


# -- forms ---------------------------------------------------------------------------------


async def describe(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            out.setdefault(key, []).append(
                {
                    "filename": value.filename,
                    "type": value.content_type,
                    "size": value.size,
                    "data": data.decode(errors="replace"),
                    "x": value.headers.get("x-extra"),
                }
            )
        else:
            out.setdefault(key, []).append(value)
    assert await request.form() is form
    return out


def test_urlencoded_form() -> None:
    c = app_with(describe)
    assert c.post("/", data={"a": "1", "b": ["x", "y"], "c": "é &"}).json() == {
        "a": ["1"],
        "b": ["x", "y"],
        "c": ["é &"],
    }


def test_multipart_form_with_files() -> None:
    c = app_with(describe)
    r = c.post(
        "/",
        data={"title": "hello"},
        files={
            "doc": ("a.txt", b"text body", "text/plain"),
            "bin": ("b.bin", bytes(range(256)), "application/octet-stream"),
        },
    )
    data = r.json()
    assert data["title"] == ["hello"]
    assert data["doc"][0] == {
        "filename": "a.txt",
        "type": "text/plain",
        "size": 9,
        "data": "text body",
        "x": None,
    }
    assert data["bin"][0]["size"] == 256


def test_other_content_type_gives_empty_form() -> None:
    assert (
        app_with(describe).post("/", content=b"x", headers={"content-type": "text/plain"}).json()
        == {}
    )


def test_large_upload_spools_to_disk_and_is_closed_after_response() -> None:
    files: list[UploadFile] = []

    async def handler(request: Request) -> Any:
        form = await request.form()
        upload = form["big"]
        assert isinstance(upload, UploadFile)
        files.append(upload)
        rolled = upload.file._rolled  # type: ignore[attr-defined]
        head = await upload.read(4)
        await upload.seek(0)
        whole = await upload.read()
        return {"rolled": rolled, "head": head.decode(), "size": len(whole)}

    c = app_with(handler, limits=Limits(form_spool_size=1024))
    payload = b"abcd" * 100_000
    data = c.post("/", files={"big": ("big.bin", payload, "application/octet-stream")}).json()
    assert data == {"rolled": True, "head": "abcd", "size": 400_000}
    assert files[0].file.closed


B = "xXxBOUNDARYxXx"


def multipart(*parts: str, end: bool = True) -> bytes:
    body = "".join(f"--{B}\r\n{p}\r\n" for p in parts)
    return (body + (f"--{B}--\r\n" if end else "")).encode()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (
            multipart('Content-Disposition: form-data; name="a"\r\n\r\n1', end=False),
            None,
            400,
            "closing boundary",
        ),
        (multipart("X: y\r\n\r\n1"), None, 400, "Content-Disposition"),
        (b"--x\r\n", "multipart/form-data", 400, "boundary"),
        (b"--x\r\n", "multipart/form-data; boundary=" + "a" * 80, 400, "boundary"),
    ],
)
def test_malformed_multipart_is_400(
    body: bytes, content_type: str | None, status: int, message: str
) -> None:
    ct = content_type or f"multipart/form-data; boundary={B}"
    r = app_with(describe).post("/", content=body, headers={"content-type": ct})
    assert r.status_code == status and message in r.text


def test_form_limits_are_413() -> None:
    c = app_with(
        describe,
        limits=Limits(
            max_form_parts=3, max_form_field_size=10, max_form_file_size=20, max_body_size=50
        ),
    )
    many = multipart(*(f'Content-Disposition: form-data; name="f{i}"\r\n\r\nv' for i in range(4)))
    ct = {"content-type": f"multipart/form-data; boundary={B}"}
    r = c.post("/", content=many, headers=ct)
    assert r.status_code == 413 and "more than 3 parts" in r.text
    big_field = multipart('Content-Disposition: form-data; name="a"\r\n\r\n' + "x" * 11)
    assert c.post("/", content=big_field, headers=ct).status_code == 413
    big_file = multipart(
        'Content-Disposition: form-data; name="a"; filename="f"\r\n\r\n' + "x" * 21
    )
    assert c.post("/", content=big_file, headers=ct).status_code == 413
    assert c.post("/", data={"a": "x" * 11}).status_code == 413
    assert c.post("/", data={f"k{i}": "v" for i in range(4)}).status_code == 413
    r = c.post("/", data={"a": "1234567", "b": "1234567", "c": "1234567"})
    assert r.status_code == 200
    big_body = "&".join(f"k{i}=123456" for i in range(3)) + "&" + "z=" + "1" * 9
    r = c.post(
        "/",
        content=big_body.encode() + b"&" * 20,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413


def test_form_limit_overrides_per_call() -> None:
    async def handler(request: Request) -> Any:
        form = await request.form(max_parts=1, max_field_size=4, max_file_size=None, spool_size=1)
        return list(form.keys())

    c = app_with(handler)
    assert c.post("/", data={"a": "12"}).json() == ["a"]
    assert c.post("/", data={"a": "12", "b": "1"}).status_code == 413
    r = c.post("/", files={"f": ("f", b"x" * 5000, "text/plain")})
    assert r.json() == ["f"]


async def test_multipart_disconnect_closes_files() -> None:
    body = multipart(
        'Content-Disposition: form-data; name="f"; filename="a"\r\n\r\ndata', end=False
    )
    messages: list[Message] = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    scope = {
        "type": "http",
        "headers": [(b"content-type", f"multipart/form-data; boundary={B}".encode())],
    }
    request = Request(scope, receive)
    with pytest.raises(ClientDisconnect):
        await request.form()


def test_state_from_lifespan_reaches_request() -> None:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: App) -> Any:
        yield {"db": "pool"}

    async def handler(request: Request) -> Any:
        request.state.extra = 1
        return {"db": request.state.db, "extra": request.state.extra, "has": "db" in request.state}

    app = App(routes=[Route("/", handler)], lifespan=lifespan)
    with TestClient(app) as c:
        assert c.get("/").json() == {"db": "pool", "extra": 1, "has": True}


def test_state_set_by_a_lifespan_that_did_not_run_says_so() -> None:
    # Issue 19: TestClient(app) without `with` runs no lifespan; request.state.db then
    # raised "'State' object has no attribute 'db'" with no hint why.
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: App) -> Any:
        yield {"db": "pool"}

    async def handler(request: Request) -> Any:
        return {"db": request.state.db}

    app = App(routes=[Route("/", handler)], lifespan=lifespan)
    client = TestClient(app)
    with pytest.raises(AttributeError) as caught:
        client.get("/")
    message = str(caught.value)
    assert message.startswith("'State' object has no attribute 'db': it was never set")
    assert "did the app's lifespan run?" in message
    assert "`with TestClient(app) as client:`" in message
    assert caught.value.name == "db"
    client.close()
    with TestClient(app) as entered:
        assert entered.get("/").json() == {"db": "pool"}


def test_state_misses_name_what_is_set() -> None:
    from vivace.web import State

    state = State({"db": "pool", "cache": 1, 7: "not a name"})
    with pytest.raises(AttributeError, match=r"'dbb': it was never set \(set: cache, db\)$"):
        state.dbb  # noqa: B018
    with pytest.raises(AttributeError, match="'gone': it was never set"):
        del state.gone
    assert getattr(state, "nope", None) is None and not hasattr(State(), "db")
    # Protocol probes (copy's __deepcopy__ lookup) on an empty state get no lifespan hint.
    with pytest.raises(AttributeError) as caught:
        State().__deepcopy__  # noqa: B018
    assert "lifespan" not in str(caught.value) and caught.value.obj is not None
