"""Client behaviour over MockTransport: URL merging, headers, params, cookies, auth,
redirects, hooks, timeouts and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from vivace.client import (
    USE_CLIENT_DEFAULT,
    Auth,
    Client,
    Cookies,
    HTTPStatusError,
    LocalProtocolError,
    MockTransport,
    RemoteProtocolError,
    Request,
    Response,
    Timeout,
    TooManyRedirects,
    UnsupportedProtocol,
)
from vivace.client._transport import AsyncBaseTransport
from vivace.http import InvalidHeader


def echo(request: Request) -> Response:
    return Response(
        200,
        json={
            "method": request.method,
            "url": str(request.url),
            "headers": [[n.decode(), v.decode()] for n, v in request.headers.raw],
            "body": request.content.decode("latin-1"),
        },
    )


def client_for(handler: Any = echo, **kwargs: Any) -> Client:
    return Client(transport=MockTransport(handler), **kwargs)


async def test_base_url_merging_like_httpx() -> None:
    async with client_for(base_url="https://api.test/v1") as client:
        assert (await client.get("/users")).json()["url"] == "https://api.test/v1/users"
        assert (await client.get("users")).json()["url"] == "https://api.test/v1/users"
        assert (await client.get("")).json()["url"] == "https://api.test/v1/"
        absolute = await client.get("http://other.test/x")
        assert absolute.json()["url"] == "http://other.test/x"


async def test_default_and_request_headers() -> None:
    async with client_for(headers={"x-default": "1", "User-Agent": "mine"}) as client:
        r = await client.get("http://h.test:8080/", headers={"X-Default": "2", "x-more": "m"})
        headers = dict(r.json()["headers"])
        assert headers["host"] == "h.test:8080"
        assert headers["x-default"] == "2"
        assert headers["x-more"] == "m"
        assert headers["user-agent"] == "mine"
        assert headers["accept-encoding"] == "gzip, deflate"
        assert r.json()["headers"][0] == ["host", "h.test:8080"]
        client.headers["x-later"] = "yes"
        r = await client.get("http://h.test/")
        assert dict(r.json()["headers"])["x-later"] == "yes"
        client.headers = {"only": "this"}
        r = await client.get("http://h.test/")
        assert dict(r.json()["headers"]) == {"host": "h.test", "only": "this"}


async def test_a_header_given_twice_keeps_both_values() -> None:
    # As httpx: a repeated name in headers=[...] is sent with every value (it was sent
    # with the last alone), still replacing the client's own values for that name.
    defaults = [("x-default", "1"), ("x-default", "2"), ("x-other", "o")]
    async with client_for(headers=defaults) as client:
        r = await client.get("http://h.test/")
        pairs = [p for p in r.json()["headers"] if p[0].startswith("x-")]
        assert pairs == [["x-default", "1"], ["x-default", "2"], ["x-other", "o"]]
        given = [("X-Token", "a"), (b"x-token", b"b"), ("x-default", "3"), ("X-Default", "4")]
        r = await client.get("http://h.test/", headers=given)
        pairs = [p for p in r.json()["headers"] if p[0].startswith("x-")]
        assert pairs == [
            ["x-default", "3"],
            ["x-other", "o"],
            ["x-token", "a"],
            ["x-token", "b"],
            ["x-default", "4"],
        ]
        with pytest.raises(InvalidHeader):  # the repeated value is checked too
            await client.get("http://h.test/", headers=[("x-a", "1"), ("x-a", "2\r\nx: y")])


async def test_params_merge() -> None:
    async with client_for(params={"key": "k"}) as client:
        r = await client.get("http://h.test/p?a=1", params={"b": [1, 2]})
        assert r.json()["url"] == "http://h.test/p?a=1&key=k&b=1&b=2"
        assert client.params["key"] == "k"
        client.params = None
        assert (await client.get("http://h.test/")).json()["url"] == "http://h.test/"


async def test_timeout_extension() -> None:
    seen: list[Any] = []

    def handler(request: Request) -> Response:
        seen.append(request.extensions["timeout"])
        return Response(204)

    async with client_for(handler, timeout=1.5) as client:
        await client.get("http://h.test/")
        await client.get("http://h.test/", timeout=Timeout(2.0, connect=0.5))
        await client.get("http://h.test/", timeout=None)
        client.timeout = 3
        await client.get("http://h.test/", extensions={"trace": 1})
    assert seen[0] == Timeout(1.5)
    assert seen[1] == Timeout(2.0, connect=0.5)
    assert seen[2] == Timeout(None)
    assert seen[3] == Timeout(3.0) and client.timeout == Timeout(3.0)


async def test_cookies_jar_and_per_request() -> None:
    def handler(request: Request) -> Response:
        if request.url.path == "/set":
            return Response(
                200, headers=[("set-cookie", "a=1; Path=/"), ("set-cookie", "b=2; Path=/other")]
            )
        return Response(200, text=request.headers.get("cookie", ""))

    async with client_for(handler, cookies={"pre": "x"}) as client:
        await client.get("http://h.test/set")
        assert client.cookies["a"] == "1"
        assert (await client.get("http://h.test/")).text == "pre=x; a=1"
        assert (await client.get("http://h.test/other/x")).text == "b=2; pre=x; a=1"
        r = await client.get("http://h.test/", cookies={"tmp": "t"})
        assert r.text == "pre=x; a=1; tmp=t"
        assert "tmp" not in client.cookies
        assert (await client.get("http://elsewhere.test/")).text == "pre=x"
        client.cookies = Cookies()
        assert (await client.get("http://h.test/")).text == ""


async def test_basic_auth_tuple_url_and_function() -> None:
    async with client_for(auth=("user", "pass")) as client:
        r = await client.get("http://h.test/")
        assert dict(r.json()["headers"])["authorization"] == "Basic dXNlcjpwYXNz"
        r = await client.get("http://h.test/", auth=None)
        assert "authorization" not in dict(r.json()["headers"])
        client.auth = lambda request: request
        r = await client.get("http://h.test/")
        assert "authorization" not in dict(r.json()["headers"])
        assert client.auth is not None
    async with client_for() as client:
        r = await client.get("http://me:secret@h.test/")
        assert dict(r.json()["headers"])["authorization"] == "Basic bWU6c2VjcmV0"


async def test_auth_flow_retries_with_response() -> None:
    class Challenge(Auth):
        requires_response_body = True
        requires_request_body = True

        def auth_flow(self, request: Request) -> Any:
            response = yield request
            assert response.content == b"who are you?"
            request.headers["authorization"] = "Token " + response.headers["x-nonce"]
            yield request

    calls: list[Request] = []

    def handler(request: Request) -> Response:
        calls.append(request)
        if "authorization" not in request.headers:
            return Response(401, text="who are you?", headers={"x-nonce": "n1"})
        return Response(200, text=request.content.decode())

    async def body() -> AsyncIterator[bytes]:
        yield b"payload"

    async with client_for(handler) as client:
        r = await client.post("http://h.test/", content=body(), auth=Challenge())
        assert r.status_code == 200 and r.text == "payload"
        assert len(calls) == 2 and calls[1].headers["authorization"] == "Token n1"
        assert [h.status_code for h in r.history] == [401]


async def test_redirect_rules() -> None:
    def handler(request: Request) -> Response:
        path = request.url.path
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return Response(code, headers={"location": "/target"})
        if path == "/cross":
            return Response(302, headers={"location": "https://other.test/target"})
        if path == "/upgrade":
            return Response(301, headers={"location": "https://h.test/target"})
        if path == "/frag":
            return Response(302, headers={"location": "/target"})
        if path == "/loop":
            return Response(302, headers={"location": "/loop"})
        if path == "/bad":
            return Response(302, headers={"location": "http://h.test:99999999/"})
        return echo(request)

    async with client_for(handler, follow_redirects=True) as client:
        for code, method in (
            (301, "GET"),
            (302, "GET"),
            (303, "GET"),
            (307, "POST"),
            (308, "POST"),
        ):
            r = await client.post(f"http://h.test/status/{code}", content=b"data")
            assert r.json()["method"] == method, code
            assert r.json()["body"] == ("data" if method == "POST" else "")
            headers = dict(r.json()["headers"])
            assert ("content-length" in headers) == (method == "POST")
            assert r.history[0].status_code == code
        r = await client.request("HEAD", "http://h.test/status/303")
        assert r.request.method == "HEAD"
        r = await client.put("http://h.test/status/302", content=b"x")
        assert r.json()["method"] == "PUT"

        r = await client.get("http://u:p@h.test/cross", headers={"authorization": "Bearer t"})
        assert "authorization" not in dict(r.json()["headers"])
        assert dict(r.json()["headers"])["host"] == "other.test"
        r = await client.get("http://h.test/upgrade", headers={"authorization": "Bearer t"})
        assert dict(r.json()["headers"])["authorization"] == "Bearer t"
        r = await client.get("http://h.test/frag#sec")
        assert r.json()["url"] == "http://h.test/target#sec"

        client.max_redirects = 3
        with pytest.raises(TooManyRedirects) as info:
            await client.get("http://h.test/loop")
        assert info.value.request.url.path == "/loop"
        with pytest.raises(RemoteProtocolError, match="Location"):
            await client.get("http://h.test/bad")

        class Streaming(AsyncBaseTransport):
            # Unlike MockTransport, does not read the body into memory first.
            async def handle_async_request(self, request: Request) -> Response:
                return Response(307, headers={"location": "/again"}, request=request)

        async def stream() -> AsyncIterator[bytes]:
            yield b"once"  # pragma: no cover - never sent by this transport

        async with Client(transport=Streaming(), follow_redirects=True) as streaming:
            with pytest.raises(LocalProtocolError, match="stream"):
                await streaming.post("http://h.test/status/307", content=stream())

        r = await client.get("http://h.test/status/302", follow_redirects=False)
        assert r.status_code == 302 and r.is_redirect
        assert r.next_request is not None and r.next_request.url.path == "/target"


async def test_event_hooks_sync_and_async() -> None:
    log: list[str] = []

    def on_request(request: Request) -> None:
        log.append(f"req {request.url.path}")

    async def on_response(response: Response) -> None:
        log.append(f"resp {response.status_code}")

    async with client_for(
        event_hooks={"request": [on_request], "response": [on_response]}
    ) as client:
        await client.get("http://h.test/a")
        assert log == ["req /a", "resp 200"]
        assert client.event_hooks["request"] == [on_request]

        def raise_on_error(response: Response) -> None:
            response.raise_for_status()

        client.event_hooks = {"response": [raise_on_error]}
        assert client.event_hooks["request"] == []
    with pytest.raises(ValueError, match="unknown"):
        Client(transport=MockTransport(echo), event_hooks={"bogus": []})


async def test_raise_for_status() -> None:
    async with client_for(lambda request: Response(503)) as client:
        r = await client.get("http://h.test/down")
        with pytest.raises(HTTPStatusError) as info:
            r.raise_for_status()
    assert info.value.response is r
    assert info.value.request.url.path == "/down"
    assert str(info.value) == "Server error '503 Service Unavailable' for url 'http://h.test/down'"
    assert Response(200).raise_for_status().status_code == 200
    with pytest.raises(HTTPStatusError, match="Client error '418"):
        Response(418, request=Request("GET", "http://x.test/")).raise_for_status()


async def test_stream_context_manager() -> None:
    closed: list[bool] = []

    class Body:
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"a"
            yield b"b"

    def handler(request: Request) -> Response:
        return Response(200, content=Body())  # type: ignore[arg-type]

    async with client_for(handler) as client:
        async with client.stream("GET", "http://h.test/") as r:
            assert [c async for c in r.aiter_bytes()] == [b"a", b"b"]
            closed.append(r.closed)
        closed.append(r.closed)
    assert closed == [True, True]


async def test_closed_client_and_transport_errors() -> None:
    client = client_for()
    await client.aclose()
    await client.aclose()
    assert client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.get("http://h.test/")
    with pytest.raises(RuntimeError, match="closed"):
        async with client:
            pass  # pragma: no cover

    class Failing(AsyncBaseTransport):
        async def handle_async_request(self, request: Request) -> Response:
            raise UnsupportedProtocol("no")

    async with Client(transport=Failing()) as failing:
        with pytest.raises(UnsupportedProtocol) as info:
            await failing.get("ftp://h.test/file")
    assert info.value.request.url.scheme == "ftp"
    with pytest.raises(NotImplementedError):
        await AsyncBaseTransport().handle_async_request(Request("GET", "http://x.test/"))


async def test_async_handler_and_bad_handler() -> None:
    async def handler(request: Request) -> Response:
        await asyncio.sleep(0)
        return Response(200, text="async")

    async with client_for(handler) as client:
        assert (await client.get("http://h.test/")).text == "async"
    async with client_for(lambda request: "nope") as client:
        with pytest.raises(TypeError, match="not a Response"):
            await client.get("http://h.test/")


def test_use_client_default_repr() -> None:
    assert repr(USE_CLIENT_DEFAULT) == "USE_CLIENT_DEFAULT"
