"""The WebSocket handshake is a request like the others: the jar's cookies go with it, the
cookies its answer sets (the 101, or a refusal) come back into the jar, and auth applies,
including a flow that answers a 401 challenge with a second handshake. Over the network
(vivace.server and uvicorn) and in-process (the test clients)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager

import pytest

from vivace.client import Auth, Client, Request, Response, WebSocketRejected
from vivace.testing import AsyncTestClient, TestClient
from vivace.web import App, PlainTextResponse, WebSocket, WebSocketRoute

from .servers import websocket_server


async def session(websocket: WebSocket) -> None:
    # Sets a session cookie on the 101, then reports what the handshake carried.
    await websocket.accept(
        headers=[
            (b"set-cookie", b"sid=abc123; Path=/; HttpOnly"),
            (b"set-cookie", b"scoped=1; Path=/elsewhere"),
            (b"set-cookie", b"bad cookie no equals; Path=/"),
        ]
    )
    await websocket.send_json(
        {"cookies": dict(websocket.cookies), "auth": websocket.headers.get("authorization")}
    )
    await websocket.receive_text()


async def whoami(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.cookies.get("sid", "anonymous"))
    await websocket.close()


async def guarded(websocket: WebSocket) -> None:
    # A challenge: 401 with a nonce cookie; the retry must carry the token for the nonce.
    auth = websocket.headers.get("authorization")
    if auth != "Token for-nonce-42":
        response = PlainTextResponse("who are you?", status_code=401)
        response.headers["www-authenticate"] = 'Token nonce="42"'
        response.set_cookie("tried", "yes")
        await websocket.send_denial_response(response)
        return
    await websocket.accept()
    extra = websocket.cookies.get("extra")
    await websocket.send_text(
        f"welcome {websocket.cookies.get('tried')}" + (f" {extra}" if extra else "")
    )
    await websocket.close()


async def never(websocket: WebSocket) -> None:
    response = PlainTextResponse("no", status_code=401)
    response.set_cookie("attempt", "counted")
    await websocket.send_denial_response(response)


def make_app() -> App:
    return App(
        routes=[
            WebSocketRoute("/session", session),
            WebSocketRoute("/whoami", whoami),
            WebSocketRoute("/guarded", guarded),
            WebSocketRoute("/never", never),
        ]
    )


class NonceAuth(Auth):
    """Answers a ``Token nonce=...`` challenge with a second request."""

    def __init__(self) -> None:
        self.challenges = 0

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        response = yield request
        if response.status_code == 401:
            self.challenges += 1
            nonce = response.headers["www-authenticate"].split('"')[1]
            request.headers["authorization"] = f"Token for-nonce-{nonce}"
            yield request


class Relentless(Auth):
    """Always tries again: the client must stop it."""

    def __init__(self) -> None:
        self.tries = 0

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        while True:
            self.tries += 1
            yield request


@asynccontextmanager
async def clients(kind: str) -> AsyncIterator[Client]:
    if kind == "in-process":
        async with AsyncTestClient(make_app()) as client:
            yield client
        return
    async with websocket_server(kind, make_app()) as url, Client(base_url=url, timeout=5) as client:
        yield client


KINDS = ["vivace", "uvicorn", "in-process"]


@pytest.mark.parametrize("kind", KINDS)
async def test_cookies_set_on_the_101_are_stored_and_sent_again(kind: str) -> None:
    async with clients(kind) as client:
        client.cookies.set("pref", "dark")
        async with client.websocket_connect("/session") as ws:
            seen = await ws.receive_json()
            assert seen == {"cookies": {"pref": "dark"}, "auth": None}
            await ws.send_text("bye")
        assert client.cookies["sid"] == "abc123"
        # Path rules hold: the cookie scoped to /elsewhere is stored, not sent here.
        # The malformed Set-Cookie is ignored.
        assert sorted(dict(client.cookies.items())) == ["pref", "scoped", "sid"]
        async with client.websocket_connect("/whoami") as ws:
            assert await ws.receive_text() == "abc123"
        async with client.websocket_connect("/session") as ws:
            seen = await ws.receive_json()
            assert seen["cookies"] == {"pref": "dark", "sid": "abc123"}
            await ws.send_text("bye")


@pytest.mark.parametrize("kind", KINDS)
async def test_basic_auth_on_the_handshake(kind: str) -> None:
    async with clients(kind) as client:
        async with client.websocket_connect("/session", auth=("ada", "s3cret")) as ws:
            assert (await ws.receive_json())["auth"] == "Basic YWRhOnMzY3JldA=="
            await ws.send_text("bye")
        client.auth = ("grace", "pw")  # the client's default auth applies too
        async with client.websocket_connect("/session") as ws:
            assert (await ws.receive_json())["auth"] == "Basic Z3JhY2U6cHc="
            await ws.send_text("bye")
        async with client.websocket_connect("/session", auth=None) as ws:
            assert (await ws.receive_json())["auth"] is None
            await ws.send_text("bye")


@pytest.mark.parametrize("kind", KINDS)
async def test_challenge_answered_with_a_second_handshake(kind: str) -> None:
    async with clients(kind) as client:
        auth = NonceAuth()
        async with client.websocket_connect("/guarded", auth=auth) as ws:
            assert await ws.receive_text() == "welcome yes"
        assert auth.challenges == 1
        assert client.cookies["tried"] == "yes"  # stored from the 401, sent on the retry


@pytest.mark.parametrize("kind", ["vivace", "in-process"])
async def test_retry_keeps_per_call_cookies_and_a_callers_cookie_header(kind: str) -> None:
    async with clients(kind) as client:
        async with client.websocket_connect(
            "/guarded", auth=NonceAuth(), cookies={"extra": "1"}
        ) as ws:
            assert await ws.receive_text() == "welcome yes 1"
        del client.cookies["tried"]
        # A Cookie header written by the caller is theirs: not replaced on the retry.
        async with client.websocket_connect(
            "/guarded", auth=NonceAuth(), headers={"cookie": "tried=mine"}
        ) as ws:
            assert await ws.receive_text() == "welcome mine"


@pytest.mark.parametrize("kind", ["vivace", "in-process"])
async def test_refusal_stores_its_cookies_and_a_relentless_flow_is_bounded(kind: str) -> None:
    async with clients(kind) as client:
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket_connect("/never"):
                pass  # pragma: no cover
        assert info.value.response.status_code == 401
        assert client.cookies["attempt"] == "counted"

        auth = Relentless()
        client.max_redirects = 3
        with pytest.raises(WebSocketRejected):
            async with client.websocket_connect("/never", auth=auth):
                pass  # pragma: no cover
        assert auth.tries == 4  # the first handshake and 3 retries


def test_sync_test_client_stores_handshake_cookies() -> None:
    with TestClient(make_app()) as client:
        with client.websocket_connect("/session") as ws:
            ws.receive_json()
            ws.send_text("bye")
        assert client.cookies["sid"] == "abc123"
        with client.websocket_connect("/whoami") as ws:
            assert ws.receive_text() == "abc123"
