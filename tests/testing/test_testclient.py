"""The sync TestClient, against raw ASGI apps: the contract in TESTCLIENT_API.md."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from vivace.client import ReadTimeout, Request, Response
from vivace.http import Headers
from vivace.testing import LifespanFailed, TestClient
from vivace.types import Receive, Scope, Send

from .apps import Recorder, echo_app, read_body, send_response


def test_get_with_params_headers_cookies() -> None:
    client = TestClient(echo_app)
    r = client.get("/path", params={"q": "x"}, headers={"x-a": "1"}, cookies={"c": "v"})
    assert r.status_code == 200
    assert isinstance(r, Response) and isinstance(r.headers, Headers)
    assert isinstance(r.request, Request)
    assert str(r.url) == "http://testserver/path?q=x"
    scope = r.json()["scope"]
    headers = dict(scope["headers"])
    assert scope["path"] == "/path" and scope["raw_path"] == "/path"
    assert scope["query_string"] == "q=x"
    assert headers["host"] == "testserver"
    assert headers["user-agent"] == "testclient"
    assert headers["x-a"] == "1"
    assert headers["cookie"] == "c=v"
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "http"
    assert scope["server"] == ["testserver", 80]
    assert scope["client"] == ["testclient", 50000]
    assert scope["root_path"] == ""
    assert scope["extensions"] == [
        "http.response.early_hint",
        "http.response.pathsend",
        "http.response.trailers",
    ]
    assert scope["state"] is None  # no lifespan without "with"
    client.close()


def test_bodies_json_form_files_content() -> None:
    with TestClient(echo_app) as client:
        r = client.post("/items", json={"a": 1})
        headers = dict(r.json()["scope"]["headers"])
        assert headers["content-type"] == "application/json"
        assert headers["content-length"] == "7"
        assert r.json()["body"] == '{"a":1}'

        r = client.post("/form", data={"field": "v"})
        assert r.json()["body"] == "field=v"
        assert dict(r.json()["scope"]["headers"])["content-type"] == (
            "application/x-www-form-urlencoded"
        )

        r = client.post(
            "/form", data={"field": "v"}, files={"upload": ("a.txt", b"...", "text/plain")}
        )
        body = r.json()["body"]
        assert 'name="field"' in body and 'filename="a.txt"' in body and "..." in body
        content_type = dict(r.json()["scope"]["headers"])["content-type"]
        assert content_type.startswith("multipart/form-data; boundary=")

        for method in ("put", "patch"):
            r = getattr(client, method)("/raw", content=b"bytes")
            assert r.json()["scope"]["method"] == method.upper()
            assert r.json()["body"] == "bytes"
        assert client.delete("/x").json()["scope"]["method"] == "DELETE"
        assert client.options("/x").json()["scope"]["method"] == "OPTIONS"
        assert client.request("GET", "/x").json()["scope"]["method"] == "GET"
        head = client.head("/x")
        assert head.status_code == 200
        empty = client.post("/empty")
        assert dict(empty.json()["scope"]["headers"])["content-length"] == "0"


def test_base_url_root_path_and_client_address() -> None:
    client = TestClient(
        echo_app,
        base_url="https://example.org:8443",
        root_path="/api",
        client=("10.0.0.1", 1234),
        headers={"x-default": "d"},
    )
    scope = client.get("/caf%C3%A9").json()["scope"]
    assert scope["scheme"] == "https"
    assert scope["server"] == ["example.org", 8443]
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/café"
    assert scope["raw_path"] == "/api/caf%C3%A9"
    assert scope["client"] == ["10.0.0.1", 1234]
    assert dict(scope["headers"])["host"] == "example.org:8443"
    assert dict(scope["headers"])["x-default"] == "d"
    client.close()


def test_lifespan_runs_with_with_and_state_reaches_requests() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            assert (await receive())["type"] == "lifespan.startup"
            events.append("startup")
            scope["state"]["db"] = "connected"
            await send({"type": "lifespan.startup.complete"})
            assert (await receive())["type"] == "lifespan.shutdown"
            events.append("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return
        await read_body(receive)
        await send_response(send, 200, scope["state"]["db"].encode())

    with TestClient(app) as client:
        assert events == ["startup"]
        assert client.get("/").text == "connected"
    assert events == ["startup", "shutdown"]

    # Without "with": no lifespan at all.
    events.clear()
    TestClient(app).close()
    assert events == []


def test_startup_failure_raises_in_the_test() -> None:
    async def failed(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(LifespanFailed, match="no database"), TestClient(failed):
        pass  # pragma: no cover - startup fails before the block runs

    async def raising(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise ValueError("boom at startup")

    with pytest.raises(ValueError, match="boom at startup"), TestClient(raising):
        pass  # pragma: no cover - startup fails before the block runs


def test_app_without_lifespan_support_still_works() -> None:
    async def http_only(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError("only http")
        await send_response(send, 200, b"ok")

    with TestClient(http_only) as client:
        assert client.get("/").text == "ok"


def test_shutdown_failure_raises() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "stuck"})

    with pytest.raises(LifespanFailed, match="stuck"), TestClient(app):
        pass


def test_server_exceptions_are_raised_or_500() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise KeyError("bad")

    with pytest.raises(KeyError, match="bad"):
        TestClient(app).get("/")
    r = TestClient(app, raise_server_exceptions=False).get("/")
    assert r.status_code == 500
    assert r.text == "Internal Server Error"


def test_exception_after_response_start() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("mid-body")

    with pytest.raises(RuntimeError, match="mid-body"):
        TestClient(app).get("/")
    r = TestClient(app, raise_server_exceptions=False).get("/")
    assert r.status_code == 200 and r.content == b"part"


def test_background_work_finishes_before_the_call_returns() -> None:
    done: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, 200, b"ok")
        await asyncio.sleep(0.01)
        done.append("background")

    assert TestClient(app).get("/").text == "ok"
    assert done == ["background"]


def test_cookies_persist_across_calls() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["path"] == "/login":
            headers = [(b"set-cookie", b"session=abc; Path=/; HttpOnly")]
            await send_response(send, 200, b"", headers)
        elif scope["path"] == "/logout":
            headers = [(b"set-cookie", b"session=; Max-Age=0; Path=/")]
            await send_response(send, 200, b"", headers)
        else:
            cookie = Headers(scope=scope).get("cookie", "")
            await send_response(send, 200, cookie.encode())

    with TestClient(app) as client:
        assert client.get("/me").text == ""
        login = client.get("/login")
        assert login.cookies["session"] == "abc"
        assert client.cookies["session"] == "abc"
        assert client.get("/me").text == "session=abc"
        client.cookies["extra"] = "1"
        assert client.get("/me").text == "session=abc; extra=1"
        client.get("/logout")
        assert "session" not in client.cookies
        assert client.get("/me").text == "extra=1"


def test_redirects_followed_by_default() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        await read_body(receive)
        if scope["path"] == "/old":
            await send_response(send, 307, b"", [(b"location", b"/new")])
        elif scope["path"] == "/form":
            await send_response(send, 303, b"", [(b"location", b"/done")])
        else:
            await send_response(send, 200, f"{scope['method']} {scope['path']}".encode())

    with TestClient(app) as client:
        r = client.get("/old")
        assert r.text == "GET /new" and [h.status_code for h in r.history] == [307]
        assert client.post("/form", data={"a": "1"}).text == "GET /done"
        r = client.get("/old", follow_redirects=False)
        assert r.status_code == 307 and r.next_request is not None
    client = TestClient(app, follow_redirects=False)
    assert client.get("/old").status_code == 307
    client.follow_redirects = True
    assert client.follow_redirects is True
    assert client.get("/old").status_code == 200
    client.close()


def test_stream_lines_then_disconnect() -> None:
    app = Recorder(lines=100_000)
    client = TestClient(app)
    with client.stream("GET", "/events") as r:
        assert r.status_code == 200
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if len(lines) == 6:
                break
    assert lines == ["data: 0", "", "data: 1", "", "data: 2", ""]
    assert app.received == [{"type": "http.disconnect"}]
    assert isinstance(app.send_error, OSError)
    client.close()


def test_stream_iter_bytes_and_text_whole_body() -> None:
    app = Recorder(lines=50)
    with TestClient(app) as client:
        with client.stream("GET", "/events") as r:
            data = b"".join(r.iter_bytes())
        assert data == b"".join(f"data: {i}\n\n".encode() for i in range(50))
        with client.stream("POST", "/events", content=b"x") as r:
            text = "".join(r.iter_text())
        assert text == data.decode()
        with client.stream("GET", "/events") as r:
            assert r.read() == data
            assert list(r.iter_bytes()) == [data]
    # The app saw a disconnect only after the complete response.
    assert app.received[-1] == {"type": "http.disconnect"}


def test_stream_exception_reaches_the_test() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a\n", "more_body": True})
        raise RuntimeError("stream broke")

    client = TestClient(app)
    with pytest.raises(RuntimeError, match="stream broke"), client.stream("GET", "/") as r:
        list(r.iter_lines())
    client.close()


def test_pathsend_trailers_and_early_hints(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 200_000)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        await read_body(receive)
        if scope["path"] == "/file":
            await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.pathsend", "path": str(big)})
        else:
            await send({"type": "http.response.start", "status": 200, "trailers": True})
            await send({"type": "http.response.body", "body": b"body"})
            await send(
                {
                    "type": "http.response.trailers",
                    "headers": [(b"X-Checksum", b"abc")],
                    "more_trailers": True,
                }
            )
            await send({"type": "http.response.trailers", "headers": [(b"x-more", b"1")]})

    with TestClient(app) as client:
        r = client.get("/file")
        assert r.content == big.read_bytes()
        assert r.extensions["early_hints"] == [[b"</a.css>; rel=preload"]]
        r = client.get("/trailers")
        assert r.content == b"body"
        assert r.extensions["trailers"] == [(b"x-checksum", b"abc"), (b"x-more", b"1")]


def test_request_body_streamed_to_app_and_disconnect_after_response() -> None:
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if not message.get("more_body"):
                break
        await send_response(send, 200, b"ok")
        seen.append(await receive())

    def chunks() -> Any:
        yield b"a"
        yield b"b"

    client = TestClient(app)
    assert client.post("/", content=chunks()).text == "ok"
    assert seen == [
        {"type": "http.request", "body": b"a", "more_body": True},
        {"type": "http.request", "body": b"b", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    ]
    client.close()


def test_app_that_hangs_gives_read_timeout() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(30)

    client = TestClient(app, timeout=0.2)
    with pytest.raises(ReadTimeout) as info:
        client.get("/slow")
    assert info.value.request.url.path == "/slow"
    client.close()


def test_app_returning_without_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    with pytest.raises(RuntimeError, match="without sending a response"):
        TestClient(app).get("/")


def test_protocol_misuse_by_the_app_raises() -> None:
    async def twice(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.start", "status": 200})

    async def early_body(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.body", "body": b"x"})

    async def after_complete(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, 200, b"x")
        await send({"type": "http.response.body", "body": b"y"})

    async def unknown(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.bogus"})

    client = TestClient(twice)
    with pytest.raises(RuntimeError, match="twice"):
        client.get("/")
    for app, match in ((early_body, "before"), (after_complete, "after"), (unknown, "bogus")):
        with pytest.raises(RuntimeError, match=match):
            TestClient(app).get("/")
    client.close()


def test_client_usable_from_threads_and_closed_twice() -> None:
    client = TestClient(echo_app)
    results = []

    def worker() -> None:
        results.append(client.get("/t").status_code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [200] * 4
    client.close()
    client.close()


def test_configuration_properties() -> None:
    client = TestClient(echo_app, cookies={"a": "1"})
    assert str(client.base_url) == "http://testserver"
    client.headers = {"x-new": "1"}
    assert client.headers["x-new"] == "1"
    client.cookies = {"b": "2"}
    assert dict(client.cookies) == {"b": "2"}
    request = client.build_request("GET", "/built")
    assert client.send(request).json()["scope"]["path"] == "/built"
    with pytest.raises(RuntimeError, match="already"), client, client:
        pass  # pragma: no cover


def test_portal_closed_from_its_own_thread() -> None:
    from vivace.testing._portal import LoopThread

    portal = LoopThread()

    async def close_from_inside() -> None:
        portal.close()  # must not try to join its own thread

    portal.call(close_from_inside())
    portal._thread.join(5)
    assert not portal.running


def test_app_returning_mid_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})

    with pytest.raises(RuntimeError, match="without completing the response body"):
        TestClient(app).get("/")
    assert TestClient(app, raise_server_exceptions=False).get("/").content == b"half"
