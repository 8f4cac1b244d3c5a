"""One ClientDisconnected for every layer (vivace.http's, re-exported)."""

from __future__ import annotations

import vivace.client
import vivace.http
import vivace.server
import vivace.web
from vivace.client import ASGITransport, Client
from vivace.types import Receive, Scope, Send


def test_every_layer_exports_the_same_class() -> None:
    one = vivace.http.ClientDisconnected
    assert issubclass(one, OSError)
    assert vivace.server.ClientDisconnected is one
    assert vivace.client.ClientDisconnected is one
    assert vivace.web.ClientDisconnected is one
    # The framework's "body could not be read in full" is one too.
    assert issubclass(vivace.web.ClientDisconnect, one)
    assert issubclass(vivace.web.ClientDisconnect, vivace.web.WebError)


async def test_the_asgi_transport_raises_it_after_the_response_is_closed() -> None:
    raised: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
        try:
            await send({"type": "http.response.body", "body": b"b", "more_body": True})
        except vivace.http.ClientDisconnected as exc:
            raised.append(exc)

    client = Client(transport=ASGITransport(app), base_url="http://test")
    async with client, client.stream("GET", "/") as response:
        async for _ in response.aiter_bytes():
            break
    assert raised and isinstance(raised[0], vivace.http.ClientDisconnected)
