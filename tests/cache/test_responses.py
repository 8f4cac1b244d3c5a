"""Whole-response caching (CacheMiddleware and cache_page): what is stored and what never
is (Set-Cookie, authenticated, private, Vary: *), Vary, HEAD, Age, and one run of the app
for concurrent misses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from vivace.cache import Cache, CacheMiddleware, cache_page
from vivace.sessions import StoreSessionMiddleware
from vivace.stores import MemoryStore, Store
from vivace.testing import AsyncTestClient, TestClient
from vivace.web import (
    App,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Route,
    StreamingResponse,
)
from vivace.web.middleware import AuthCredentials, AuthenticationMiddleware, SimpleUser


@pytest.fixture
def store(fast_store: Store) -> Store:
    """Memory and Redis (tests/stores covers every backend)."""
    return fast_store


class Counting:
    """Views that count their runs."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}

    def ran(self, name: str) -> int:
        self.runs[name] = self.runs.get(name, 0) + 1
        return self.runs[name]

    def routes(self) -> list[Route]:
        async def plain(request: Request) -> Any:
            return {"run": self.ran("plain"), "q": request.query_params.get("q")}

        async def headers(request: Request) -> Any:
            run = self.ran("headers")
            return JSONResponse({"run": run}, headers=dict(request.query_params))

        async def cookie(request: Request) -> Any:
            response = JSONResponse({"run": self.ran("cookie")})
            response.set_cookie("tracking", "1")
            return response

        async def missing(request: Request) -> Any:
            self.ran("missing")
            return PlainTextResponse("no", 404)

        async def big(request: Request) -> Any:
            self.ran("big")
            return PlainTextResponse("x" * 5000)

        async def stream(request: Request) -> Any:
            self.ran("stream")

            async def chunks() -> AsyncIterator[bytes]:
                yield b"a"
                yield b"b"

            return StreamingResponse(chunks())

        async def language(request: Request) -> Any:
            run = self.ran("language")
            lang = request.headers.get("accept-language", "en")
            return JSONResponse({"run": run, "lang": lang}, headers={"vary": "Accept-Language"})

        async def session(request: Request) -> Any:
            return {"run": self.ran("session"), "user": request.session.get("user")}

        async def login(request: Request) -> Any:
            request.session["user"] = request.query_params["user"]
            return {}

        return [
            Route("/plain", plain, methods=["GET", "POST"]),
            Route("/headers", headers),
            Route("/cookie", cookie),
            Route("/missing", missing),
            Route("/big", big),
            Route("/stream", stream),
            Route("/language", language),
            Route("/session", session),
            Route("/login", login),
        ]


def make(store: Store, **options: Any) -> tuple[Counting, App]:
    views = Counting()
    cache = Cache(store, default_ttl=60)
    app = App(
        routes=views.routes(),
        middleware=[
            Middleware(StoreSessionMiddleware, store=store, secret_key="k"),
            Middleware(CacheMiddleware, cache=cache, max_size=1000, **options),
        ],
    )
    return views, app


async def test_cached_and_served_with_age(store: Store) -> None:
    views, app = make(store)
    async with AsyncTestClient(app) as client:
        first = await client.get("/plain?q=1")
        second = await client.get("/plain?q=1")
        assert first.json() == second.json() == {"run": 1, "q": "1"}
        assert "age" not in first.headers and second.headers["age"] == "0"
        assert (await client.get("/plain?q=2")).json()["run"] == 2  # another URL
        head = await client.head("/plain?q=1")
        assert head.status_code == 200 and head.content == b"" and views.runs["plain"] == 2
        assert (await client.post("/plain?q=1")).json()["run"] == 3  # POST: never cached
        other_host = await client.get("http://other.test/plain?q=1")
        assert other_host.json()["run"] == 4


@pytest.mark.parametrize(
    ("query", "cached"),
    [
        ({"cache-control": "no-store"}, False),
        ({"cache-control": "private, max-age=60"}, False),
        ({"cache-control": "no-cache"}, False),
        ({"cache-control": "max-age=0"}, False),
        ({"cache-control": "public, max-age=30"}, True),
        ({"vary": "*"}, False),
        ({"vary": "X-Nothing"}, True),
    ],
)
async def test_response_directives(store: Store, query: dict[str, str], cached: bool) -> None:
    views, app = make(store)
    async with AsyncTestClient(app) as client:
        for _ in range(2):
            await client.get("/headers", params=query)
    assert views.runs["headers"] == (1 if cached else 2)


async def test_ttl_comes_from_s_maxage_then_max_age(store: Store) -> None:
    _views, app = make(store)
    async with AsyncTestClient(app) as client:
        await client.get("/headers", params={"cache-control": "max-age=30, s-maxage=7"})
        await client.get("/headers", params={"cache-control": "max-age=30"})
    pages = store.namespace("cache:")
    ttls = sorted([await pages.ttl(k) or 0 async for k in pages.scan("page:")])
    assert len(ttls) == 2 and ttls[0] <= 7 < ttls[1] <= 30


async def test_never_cached(store: Store) -> None:
    views, app = make(store)
    async with AsyncTestClient(app) as client:
        for path in ("/cookie", "/missing", "/big"):
            for _ in range(2):
                await client.get(path)
            assert views.runs[path.strip("/")] == 2, path
        for _ in range(2):
            r = await client.get("/plain", headers={"authorization": "Bearer x"})
        assert r.json()["run"] == 2  # authenticated by header: neither read nor stored
        assert (await client.get("/plain")).json()["run"] == 3
        assert (await client.get("/plain", headers={"authorization": "x"})).json()["run"] == 4
        for _ in range(2):
            r = await client.get("/stream")
        assert r.content == b"ab" and views.runs["stream"] == 1  # small streams are kept


async def test_vary_keeps_one_entry_per_header_value(store: Store) -> None:
    views, app = make(store)
    async with AsyncTestClient(app) as client:
        for lang in ("fr", "de", "fr", "de", "fr"):
            r = await client.get("/language", headers={"accept-language": lang})
            assert r.json()["lang"] == lang
        assert views.runs["language"] == 2


async def test_a_session_means_a_personal_page(store: Store) -> None:
    _views, app = make(store)
    async with AsyncTestClient(app) as ada, AsyncTestClient(app) as bob:
        await ada.get("/login?user=ada")
        await bob.get("/login?user=bob")
        assert (await ada.get("/session")).json()["user"] == "ada"
        assert (await bob.get("/session")).json()["user"] == "bob"
        assert (await ada.get("/session")).json() == {"run": 1, "user": "ada"}
        assert (await bob.get("/session")).json() == {"run": 2, "user": "bob"}


async def test_a_session_is_never_served_the_anonymous_page(store: Store) -> None:
    # The anonymous entry was stored under a Vary list without Cookie, and a request
    # with a session looked it up under that list: ada, logged in, got the anonymous
    # page; and an anonymous save reset the list, so ada's own entry was never found.
    views, app = make(store)
    async with AsyncTestClient(app) as ada, AsyncTestClient(app) as anonymous:
        assert (await anonymous.get("/session")).json() == {"run": 1, "user": None}
        await ada.get("/login?user=ada")
        assert (await ada.get("/session")).json() == {"run": 2, "user": "ada"}
        assert (await anonymous.get("/session")).json() == {"run": 1, "user": None}
        assert (await ada.get("/session")).json() == {"run": 2, "user": "ada"}
    assert views.runs["session"] == 2


async def test_authenticated_users_bypass_the_cache(store: Store) -> None:
    class Backend:
        async def authenticate(self, conn: Any) -> Any:
            if conn.headers.get("x-user"):
                return AuthCredentials(), SimpleUser(conn.headers["x-user"])
            return None

    views = Counting()
    cache = Cache(store)
    app = App(
        routes=views.routes(),
        middleware=[
            Middleware(AuthenticationMiddleware, backend=Backend()),
            Middleware(CacheMiddleware, cache=cache),
        ],
    )
    async with AsyncTestClient(app) as client:
        await client.get("/plain")
        assert (await client.get("/plain")).json()["run"] == 1
        assert (await client.get("/plain", headers={"x-user": "ada"})).json()["run"] == 2
    trusting = App(
        routes=views.routes(),
        middleware=[
            Middleware(AuthenticationMiddleware, backend=Backend()),
            Middleware(CacheMiddleware, cache=cache, cache_authenticated=True),
        ],
    )
    async with AsyncTestClient(trusting) as client:
        assert (await client.get("/plain", headers={"x-user": "ada"})).json()["run"] == 1


async def test_concurrent_misses_run_the_app_once(store: Store) -> None:
    runs = 0
    gate = asyncio.Event()

    async def slow(request: Request) -> Any:
        nonlocal runs
        runs += 1
        await gate.wait()
        return {"runs": runs}

    app = App(
        routes=[Route("/slow", slow)], middleware=[Middleware(CacheMiddleware, cache=Cache(store))]
    )
    async with AsyncTestClient(app) as client:
        requests = [asyncio.ensure_future(client.get("/slow")) for _ in range(10)]
        await asyncio.sleep(0.05)
        gate.set()
        responses = await asyncio.gather(*requests)
    assert runs == 1 and all(r.json() == {"runs": 1} for r in responses)


async def test_uncacheable_urls_are_not_serialised(store: Store) -> None:
    inside = 0
    both = asyncio.Event()

    async def personal(request: Request) -> Any:
        nonlocal inside
        inside += 1
        if inside >= 2:
            both.set()
        await asyncio.wait_for(both.wait(), 5)  # needs two requests at once
        return PlainTextResponse("x", headers={"cache-control": "private"})

    app = App(
        routes=[Route("/p", personal)], middleware=[Middleware(CacheMiddleware, cache=Cache(store))]
    )
    async with AsyncTestClient(app) as client:
        both.set()
        await client.get("/p")  # learns the URL is not cacheable
        both.clear()
        inside = 0
        first, second = await asyncio.gather(client.get("/p"), client.get("/p"))
        assert first.status_code == second.status_code == 200


async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = CacheMiddleware(app, cache=Cache(MemoryStore()))
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


# -- the decorator ------------------------------------------------------------------------


def test_cache_page_decorator() -> None:
    cache = Cache(MemoryStore(), default_ttl=60)
    runs = {"n": 0}

    @cache_page(cache, ttl=30)
    async def catalogue(request: Request) -> Any:
        runs["n"] += 1
        return {"run": runs["n"]}

    @cache_page(cache)
    async def private(request: Request) -> Any:
        runs["n"] += 1
        return JSONResponse({"run": runs["n"]}, headers={"cache-control": "private"})

    @cache_page(cache)
    async def stream(request: Request) -> Any:
        runs["n"] += 1
        return StreamingResponse(iter([b"s"]))

    app = App(
        routes=[
            Route("/c", catalogue, methods=["GET", "POST"]),
            Route("/p", private),
            Route("/s", stream),
        ]
    )
    client = TestClient(app)
    assert client.get("/c").json() == {"run": 1}
    hit = client.get("/c")
    assert hit.json() == {"run": 1} and hit.headers["age"] == "0"
    assert hit.headers["content-type"] == "application/json"
    assert client.head("/c").content == b""
    assert client.post("/c").json() == {"run": 2}
    assert client.get("/c", headers={"authorization": "x"}).json() == {"run": 3}
    assert [client.get("/p").json()["run"] for _ in range(2)] == [4, 5]
    assert [client.get("/s").text for _ in range(2)] == ["s", "s"] and runs["n"] == 7
    with pytest.raises(TypeError, match="async"):
        cache_page(cache)(lambda request: None)  # type: ignore[arg-type,return-value]


async def test_cache_page_concurrent_misses() -> None:
    cache = Cache(MemoryStore())
    runs = 0
    gate = asyncio.Event()

    @cache_page(cache)
    async def slow(request: Request) -> Any:
        nonlocal runs
        runs += 1
        await gate.wait()
        return {"runs": runs}

    async with AsyncTestClient(App(routes=[Route("/", slow)])) as client:
        requests = [asyncio.ensure_future(client.get("/")) for _ in range(5)]
        await asyncio.sleep(0.05)
        gate.set()
        responses = await asyncio.gather(*requests)
    assert runs == 1 and all(r.json() == {"runs": 1} for r in responses)


def test_garbage_vary_index_is_ignored() -> None:
    store = MemoryStore()
    cache = Cache(store)
    views = Counting()
    app = App(routes=views.routes(), middleware=[Middleware(CacheMiddleware, cache=cache)])
    client = TestClient(app)
    client.get("/plain")
    pages = store.namespace("cache:")

    async def corrupt() -> None:
        async for key in pages.scan("vary:"):
            await pages.set(key, b"{not json")

    asyncio.run(corrupt())
    assert client.get("/plain").json()["run"] == 1


@pytest.mark.parametrize("decorated", [False, True])
async def test_concurrent_misses_of_an_uncacheable_page(decorated: bool) -> None:
    runs = 0
    gate = asyncio.Event()
    cache = Cache(MemoryStore())

    async def personal(request: Request) -> Any:
        nonlocal runs
        runs += 1
        await gate.wait()
        return PlainTextResponse("x", headers={"cache-control": "private"})

    if decorated:
        app = App(routes=[Route("/p", cache_page(cache)(personal))])
    else:
        app = App(
            routes=[Route("/p", personal)], middleware=[Middleware(CacheMiddleware, cache=cache)]
        )
    async with AsyncTestClient(app) as client:
        requests = [asyncio.ensure_future(client.get("/p")) for _ in range(4)]
        await asyncio.sleep(0.05)
        gate.set()
        responses = await asyncio.gather(*requests)
    # The first one learns it cannot be shared; the waiters then run it themselves.
    assert runs == 4 and all(r.text == "x" for r in responses)


def test_key_and_header_details() -> None:
    from vivace.cache import ResponseCache

    rules = ResponseCache(Cache(MemoryStore()))
    scope = {"type": "http", "method": "GET", "path": "/a", "headers": [], "query_string": b""}
    assert rules.base_key(scope) == rules.base_key({**scope, "headers": [(b"x", b"y")]})
    headers = [(b"cache-control", b", max-age=5,,"), (b"vary", b"Cookie, cookie, Accept")]
    assert rules.ttl_for(scope, 200, headers) == 5

    async def save() -> list[str]:
        with_session = {**scope, "session": {"user": 1}}
        await rules.save(with_session, "base", 200, headers, b"body", 5)
        index = await rules.cache.store.get("vary:base")
        assert index is not None
        return list(__import__("orjson").loads(index))

    assert asyncio.run(save()) == ["accept", "cookie"]  # the response said so


async def test_outer_middleware_headers_are_never_stored(store: Store) -> None:
    _views, app = make(store)
    async with AsyncTestClient(app) as ada, AsyncTestClient(app) as eve:
        first = await ada.get("/login?user=ada")
        assert "set-cookie" in first.headers  # ada's new session, added outside the cache
        replay = await eve.get("/login?user=ada")
        assert "age" in replay.headers  # served from the cache ...
        assert "set-cookie" not in replay.headers  # ... without ada's session cookie
        assert eve.cookies.get("sessionid") is None
