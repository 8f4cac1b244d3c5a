"""Hostile input at the ASGI level: whatever arrives, the answer is a response below 500."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vivace.types import Message
from vivace.web import (
    App,
    FileResponse,
    Middleware,
    Mount,
    Request,
    Route,
    StaticFiles,
)
from vivace.web.middleware import (
    CompressionMiddleware,
    CORSMiddleware,
    SessionMiddleware,
    TrustedHostMiddleware,
)

STATIC = str(Path(__file__).resolve().parent / "interop_static")


async def everything(request: Request) -> dict[str, Any]:
    info: dict[str, Any] = {
        "url": str(request.url),
        "path": request.url.path,
        "query": request.query_params.multi_items(),
        "cookies": request.cookies,
        "headers": request.headers.items(),
        "base": str(request.base_url),
    }
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        info["json"] = repr(await request.json())
    elif "form" in content_type:
        form = await request.form()
        info["form"] = [k for k, _ in form.multi_items()]
    else:
        info["body"] = len(await request.body())
    request.session["seen"] = request.session.get("seen", 0) + 1
    return info


async def file(request: Request) -> FileResponse:
    return FileResponse(f"{STATIC}/hello.txt")


APP = App(
    routes=[
        Route("/x/{id:int}/{name}", everything, methods=["GET", "POST", "PUT"]),
        Route("/d/{day:date}/{u:uuid}/{f:float}", everything),
        Route("/file", file),
        Route("/{anything:path}", everything, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=STATIC)),
    ],
    middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=["*"]),
        Middleware(CORSMiddleware, allow_origins=["https://a.test"], allow_headers=["*"]),
        Middleware(SessionMiddleware, secret_key="k"),
        Middleware(CompressionMiddleware, minimum_size=10),
    ],
)

HEADER_NAMES = st.sampled_from(
    [
        b"host",
        b"cookie",
        b"content-type",
        b"accept",
        b"accept-encoding",
        b"range",
        b"if-none-match",
        b"if-modified-since",
        b"if-range",
        b"origin",
        b"access-control-request-method",
        b"x-anything",
        b"if-match",
    ]
)
BYTES = st.binary(max_size=60)
TEXTISH = st.text(alphabet=st.characters(codec="latin-1"), max_size=40).map(
    lambda s: s.encode("latin-1")
)
CONTENT_TYPES = st.sampled_from(
    [
        b"application/json",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=xyz",
        b"multipart/form-data",
        b"text/plain",
        b'multipart/form-data; boundary="unterminated',
    ]
)


async def call(scope: dict[str, Any], body: bytes) -> list[Message]:
    sent: list[Message] = []
    messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(APP(scope, receive, send), 10)
    return sent


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "BREW"]),
    path=st.one_of(
        st.text(max_size=40).map(lambda s: "/" + s),
        st.sampled_from(
            [
                "/x/1/a",
                "/d/2020-01-01/12345678-1234-5678-1234-567812345678/1.5",
                "/file",
                "/static/hello.txt",
                "/static/../a",
                "/x/99999999999999999999999/%",
                "/d/9999-99-99/x/y",
            ]
        ),
    ),
    query=TEXTISH,
    headers=st.lists(st.tuples(HEADER_NAMES, st.one_of(TEXTISH, BYTES)), max_size=6),
    content_type=CONTENT_TYPES,
    body=st.one_of(
        BYTES,
        st.sampled_from([b"{", b'{"a":1}', b"a=1&b", b"--xyz\r\n", b"--xyz--", b"\xff" * 5]),
    ),
)
def test_no_input_gets_a_server_error(
    method: str,
    path: str,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    content_type: bytes,
    body: bytes,
) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": [(b"content-type", content_type), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "extensions": {},
    }
    sent = asyncio.run(call(scope, body))
    assert sent and sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] < 500, (sent[0]["status"], sent[1:2])
