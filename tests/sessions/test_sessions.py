"""Server-side sessions on memory and Redis stores: the life cycle of an id (new, rotated,
flushed, expired), what the cookie carries, and attacks on it (fixation, forgery, old
signatures)."""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any

import pytest

from vivace.sessions import Session, StoreSessionMiddleware
from vivace.stores import Store
from vivace.testing import AsyncTestClient
from vivace.web import App, Middleware, Request, Route, WebSocket, WebSocketRoute
from vivace.web.middleware import Signer

SECRET = "s3cret-for-tests"


@pytest.fixture
def store(fast_store: Store) -> Store:
    """Memory and Redis (tests/stores covers every backend)."""
    return fast_store


async def show(request: Request) -> Any:
    return dict(request.session)


async def put(request: Request) -> Any:
    request.session.update(await request.json())
    return dict(request.session)


async def login(request: Request) -> Any:
    session = request.session
    assert isinstance(session, Session)
    session["user"] = (await request.json())["user"]
    session.rotate()
    return {"ok": True}


async def logout(request: Request) -> Any:
    request.session.flush()  # type: ignore[attr-defined]
    return {"ok": True}


async def relogin(request: Request) -> Any:
    request.session.flush()  # type: ignore[attr-defined]
    request.session["user"] = "again"
    return {"ok": True}


async def empty(request: Request) -> Any:
    request.session.clear()
    return {}


async def replace(request: Request) -> Any:
    request.scope["session"] = "not a dict"
    return {}


async def whoami(websocket: WebSocket) -> None:
    user = websocket.session.get("user", "anonymous")
    websocket.session["ws"] = True
    await websocket.accept()
    await websocket.send_text(user)
    await websocket.close()


def make_app(store: Store, **options: Any) -> App:
    return App(
        routes=[
            Route("/", show),
            Route("/put", put, methods=["POST"]),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/relogin", relogin, methods=["POST"]),
            Route("/empty", empty, methods=["POST"]),
            Route("/replace", replace, methods=["POST"]),
            WebSocketRoute("/ws", whoami),
        ],
        middleware=[
            Middleware(StoreSessionMiddleware, store=store, **{"secret_key": SECRET, **options})
        ],
    )


async def stored_ids(store: Store) -> list[str]:
    return sorted([key async for key in store.namespace("session:").scan()])


def session_id(client: AsyncTestClient) -> str:
    token = client.cookies["sessionid"]
    payload, _, _ = Signer(SECRET, salt=b"vivace.sessions").unsign(token.encode(), max_age=None)
    return payload.decode()


async def test_round_trip_keeps_data_on_the_server(store: Store) -> None:
    async with AsyncTestClient(make_app(store)) as client:
        r = await client.get("/")
        assert r.json() == {} and "set-cookie" not in r.headers and "vary" not in r.headers
        assert await stored_ids(store) == []
        r = await client.post("/put", json={"cart": [1, 2], "secret": "not in the cookie"})
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("sessionid=") and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie and "Max-Age=1209600" in cookie and "Path=/" in cookie
        assert "secret" not in cookie and "cart" not in cookie
        assert r.headers["vary"] == "Cookie"
        sid = session_id(client)
        assert len(sid) >= 43 and await stored_ids(store) == [sid]  # 256 random bits
        r = await client.get("/")
        assert r.json() == {"cart": [1, 2], "secret": "not in the cookie"}
        assert "set-cookie" not in r.headers and r.headers["vary"] == "Cookie"
        await client.post("/put", json={"more": 1})
        assert session_id(client) == sid  # a change keeps the id
        assert (await client.get("/")).json()["more"] == 1


async def test_rotation_defeats_session_fixation(store: Store) -> None:
    app = make_app(store)
    async with AsyncTestClient(app) as attacker, AsyncTestClient(app) as victim:
        # The attacker gets a valid anonymous session and plants its cookie on the victim.
        await attacker.post("/put", json={"planted": True})
        planted = attacker.cookies["sessionid"]
        victim.cookies.set("sessionid", planted, domain="testserver")
        await victim.post("/login", json={"user": "victim"})
        assert victim.cookies["sessionid"] != planted
        assert (await victim.get("/")).json() == {"planted": True, "user": "victim"}
        # The planted id is dead: the attacker is not logged in as the victim.
        assert (await attacker.get("/")).json() == {}
        assert await stored_ids(store) == [session_id(victim)]


async def test_flush_logs_out_and_deletes_the_data(store: Store) -> None:
    async with AsyncTestClient(make_app(store)) as client:
        await client.post("/login", json={"user": "ada"})
        old = client.cookies["sessionid"]
        r = await client.post("/logout")
        assert "Max-Age=0" in r.headers["set-cookie"]
        assert await stored_ids(store) == []
        assert (await client.get("/")).json() == {}
        # Replaying the old cookie gets nothing either.
        async with AsyncTestClient(make_app(store), cookies={"sessionid": old}) as replay:
            assert (await replay.get("/")).json() == {}
        # Flush then refill: a new id.
        await client.post("/login", json={"user": "ada"})
        before = session_id(client)
        await client.post("/relogin")
        assert session_id(client) != before
        assert await stored_ids(store) == [session_id(client)]
        r = await client.post("/empty")  # emptied: deleted as well
        assert "Max-Age=0" in r.headers["set-cookie"] and await stored_ids(store) == []
        await client.post("/put", json={"x": 1})
        r = await client.post("/replace")  # a non-dict session counts as empty
        assert "Max-Age=0" in r.headers["set-cookie"] and await stored_ids(store) == []


async def test_expired_sessions_are_empty_and_never_revived(store: Store) -> None:
    async with AsyncTestClient(make_app(store)) as client:
        await client.post("/put", json={"user": "ada"})
        sid = session_id(client)
        # The store's TTL runs out (a session idle for max_age; the cookie is still valid).
        await store.namespace("session:").expire(sid, 0.05)
        deadline = time.monotonic() + 5
        while await store.namespace("session:").get(sid) is not None:
            assert time.monotonic() < deadline, "the session did not expire"
            await asyncio.sleep(0.02)
        r = await client.get("/")
        assert r.json() == {}
        assert "Max-Age=0" in r.headers["set-cookie"]  # the dead id's cookie is dropped
        await client.post("/put", json={"user": "bob"})
        assert session_id(client) != sid  # a dead id is never reused


async def test_cookie_signature_expiry_and_forgery(store: Store) -> None:
    app = make_app(store)
    async with AsyncTestClient(app) as client:
        await client.post("/put", json={"user": "ada"})
        sid = session_id(client)
    signer = Signer(SECRET, salt=b"vivace.sessions")
    old = signer.sign(sid.encode(), timestamp=int(time.time()) - 15 * 24 * 3600).decode()
    wrong_salt = Signer(SECRET, salt=b"vivace.web.session").sign(sid.encode()).decode()
    wrong_key = Signer("other", salt=b"vivace.sessions").sign(sid.encode()).decode()
    for bad in (old, wrong_salt, wrong_key, sid, "", "a.b.c", "é" * 10, "x" * 5000):
        async with AsyncTestClient(app, cookies={"sessionid": bad}) as forger:
            assert (await forger.get("/")).json() == {}, bad
    assert await stored_ids(store) == [sid]
    unknown = signer.sign(b"never-issued").decode()
    async with AsyncTestClient(app, cookies={"sessionid": unknown}) as guesser:
        r = await guesser.get("/")
        assert r.json() == {} and "Max-Age=0" in r.headers["set-cookie"]


async def test_signatures_are_compared_in_constant_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    async with AsyncTestClient(make_app(store)) as client:
        await client.post("/put", json={"user": "ada"})
        monkeypatch.setattr(hmac, "compare_digest", spy)
        assert (await client.get("/")).json() == {"user": "ada"}
    assert calls, "the cookie signature was not checked with hmac.compare_digest"


async def test_sliding_expiry_and_key_rotation(store: Store) -> None:
    async with AsyncTestClient(make_app(store, max_age=1000)) as client:
        await client.post("/put", json={"user": "ada"})
        sid = session_id(client)
        sessions = store.namespace("session:")
        await sessions.expire(sid, 100)  # as if it was saved long ago
        signer = Signer(SECRET, salt=b"vivace.sessions")
        stale = signer.sign(sid.encode(), timestamp=int(time.time()) - 600).decode()
        client.cookies.set("sessionid", stale, domain="testserver")
        r = await client.get("/")
        assert r.json() == {"user": "ada"} and "Max-Age=1000" in r.headers["set-cookie"]
        remaining = await sessions.ttl(sid)
        assert remaining is not None and remaining > 900  # the store TTL was renewed too
        assert session_id(client) == sid
    rotated = make_app(store, secret_key=["new-key", SECRET])
    async with AsyncTestClient(rotated) as client:
        old_key = Signer(SECRET, salt=b"vivace.sessions").sign(sid.encode()).decode()
        client.cookies.set("sessionid", old_key, domain="testserver")
        r = await client.get("/")
        assert r.json() == {"user": "ada"} and "set-cookie" in r.headers
        token = client.cookies["sessionid"]
        Signer("new-key", salt=b"vivace.sessions").unsign(token.encode(), max_age=None)


async def test_garbage_in_the_store_is_an_empty_session(store: Store) -> None:
    app = make_app(store)
    signer = Signer(SECRET, salt=b"vivace.sessions")
    sessions = store.namespace("session:")
    for name, value in (("notjson", b"\xff{"), ("notdict", b"[1, 2]")):
        await sessions.set(name, value)
        cookie = {"sessionid": signer.sign(name.encode()).decode()}
        async with AsyncTestClient(app, cookies=cookie) as c:
            assert (await c.get("/")).json() == {}


async def test_websocket_handshake_reads_and_saves_the_session(store: Store) -> None:
    app = make_app(store)
    async with AsyncTestClient(app) as client:
        await client.post("/login", json={"user": "ada"})
        async with client.websocket_connect("/ws") as ws:
            assert await ws.receive_text() == "ada"
        assert (await client.get("/")).json() == {"user": "ada", "ws": True}


def test_options_are_checked() -> None:
    from vivace.stores import MemoryStore

    with pytest.raises(ValueError, match="max_age"):
        StoreSessionMiddleware(show, store=MemoryStore(), secret_key="k", max_age=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secret"):
        StoreSessionMiddleware(show, store=MemoryStore(), secret_key=[])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="control character"):
        StoreSessionMiddleware(show, store=MemoryStore(), secret_key="k", path="/;evil")  # type: ignore[arg-type]


async def test_other_scopes_pass_through(store: Store) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        assert "session" not in scope

    middleware = StoreSessionMiddleware(app, store=store, secret_key="k")
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def test_session_repr_hides_the_id() -> None:
    session = Session({"a": 1}, session_id="the-secret-id")
    assert "the-secret-id" not in repr(session) and repr(session) == "Session({'a': 1})"
