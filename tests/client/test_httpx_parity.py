"""What an httpx user relies on in a first hour with the client, checked against real
servers (uvicorn on 127.0.0.1:0) where the network matters: each test here failed before
the fix it names."""

from __future__ import annotations

import pytest

from vivace.client import Client, HTTPStatusError, MockTransport, Request, Response
from vivace.types import Receive, Scope, Send

from .servers import uvicorn_server


async def status_app(scope: Scope, receive: Receive, send: Send) -> None:
    """``/<status>`` answers with that status; a 3xx points at ``/200``."""
    status = int(scope["path"].strip("/"))
    headers = [(b"location", b"/200")] if 300 <= status < 400 and status != 304 else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def test_raise_for_status_raises_on_every_non_2xx_like_httpx() -> None:
    # Before: a redirect that was not followed (the default) passed raise_for_status(),
    # so the caller went on to parse an empty 301 body.
    async with uvicorn_server(status_app) as base, Client(base_url=base) as client:
        ok = await client.get("/204")
        assert ok.raise_for_status() is ok
        moved = await client.get("/301")
        with pytest.raises(HTTPStatusError) as info:
            moved.raise_for_status()
        assert str(info.value) == (
            f"Redirect response '301 Moved Permanently' for url '{base}/301'\n"
            "Redirect location: '/200' (follow_redirects=True follows it)"
        )
        assert info.value.response is moved
        not_modified = await client.get("/304")
        with pytest.raises(HTTPStatusError, match=r"^Redirect response '304 Not Modified'[^\n]*$"):
            not_modified.raise_for_status()
        followed = await client.get("/302", follow_redirects=True)
        assert followed.raise_for_status() is followed
        with pytest.raises(HTTPStatusError, match=r"^Server error '500 Internal Server Error'"):
            (await client.get("/500")).raise_for_status()
    request = Request("GET", "http://x.test/")
    with pytest.raises(HTTPStatusError, match=r"^Informational response '103 Early Hints'"):
        Response(103, request=request).raise_for_status()
    with pytest.raises(HTTPStatusError, match=r"^Invalid status code '999"):
        Response(999, request=request).raise_for_status()
    async with Client(transport=MockTransport(lambda r: Response(418))) as mock:
        with pytest.raises(HTTPStatusError, match=r"^Client error '418"):
            (await mock.get("http://x.test/")).raise_for_status()
