"""Rate limits: the three algorithms against a controlled clock, the limiter on every
store backend (never more than the limit, even under concurrency and across processes),
and the middleware's 429 answers and RateLimit fields."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.stores.conftest import backends, drop_store, make_store, run_workers, store_url
from vivace.client import WebSocketRejected
from vivace.ratelimit import (
    Rate,
    RateLimiter,
    RateLimitExceeded,
    RateLimitMiddleware,
    by_address,
    by_header,
    by_user,
)
from vivace.ratelimit._algorithms import sliding_window, token_bucket
from vivace.stores import MemoryStore, Store
from vivace.testing import TestClient
from vivace.web import App, Middleware, Route, WebSocket, WebSocketRoute
from vivace.web.middleware import AuthCredentials, AuthenticationMiddleware, SimpleUser


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rates() -> None:
    assert (Rate("10/s").limit, Rate("10/s").window) == (10, 1.0)
    assert Rate(" 7 / 2 days ").window == 172800.0
    assert repr(Rate("1/minute")) == "Rate(1, 60)"
    for bad in ("", "10", "10/fortnight", "-1/s", "0/s", "x/s", "10/0s"):
        with pytest.raises(ValueError, match="rate"):
            Rate(bad)
    with pytest.raises(TypeError, match="not both"):
        Rate("1/s", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window"):
        Rate(1, float("inf"))
    with pytest.raises(ValueError, match="limit"):
        Rate(True, 1)


async def test_fixed_window() -> None:
    clock = Clock(1_000_040.0)  # 20 s into a minute window
    limiter = RateLimiter(MemoryStore(), "3/minute", algorithm="fixed_window", clock=clock)
    results = [await limiter.hit("k") for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert results[3].retry_after == pytest.approx(40.0)
    clock.now += 40  # the next window
    assert (await limiter.hit("k")).allowed
    assert (await limiter.hit("other")).remaining == 2  # keys are separate
    await limiter.reset("k")
    assert (await limiter.hit("k")).remaining == 2


async def test_sliding_window() -> None:
    clock = Clock(1_000_040.0)
    limiter = RateLimiter(MemoryStore(), "10/minute", clock=clock)
    for _ in range(10):
        assert (await limiter.hit("k")).allowed
    refused = await limiter.hit("k")
    assert not refused.allowed and refused.retry_after == pytest.approx(40.0 + 6.0)
    clock.now += 40 + 30  # half-way through the next window: estimate 10 * 0.5 = 5
    allowed = [(await limiter.hit("k")).allowed for _ in range(6)]
    assert allowed == [True] * 5 + [False]  # refused hits do not count
    clock.now += 120  # two windows later: nothing left of it
    assert (await limiter.hit("k")).remaining == 9
    await limiter.reset("k")
    assert (await limiter.hit("k")).remaining == 9
    big = await limiter.hit("k", cost=11)
    assert not big.allowed and big.retry_after is None  # never fits


def test_sliding_window_edges() -> None:
    rate = Rate(10, 60)
    # Garbage state is ignored; a stale state two windows old is forgotten.
    for state in (b"garbage", b"1,2", b"nan,1,1", b"1,2,3"):
        new, decision = sliding_window(rate, state, 600.0, 1)
        assert decision.allowed and new == b"10,0,1"
    # Refused in the same window with no previous count: wait for the next window, where
    # the current count weighs in proportionally.
    state, _ = sliding_window(rate, None, 0.0, 8)
    _, decision = sliding_window(rate, state, 30.0, 5)
    assert not decision.allowed and decision.retry_after == pytest.approx(30 + 0.375 * 60)


async def test_token_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(MemoryStore(), "4/2s", algorithm="token_bucket", clock=clock)
    assert [(await limiter.hit("k")).allowed for _ in range(5)] == [True] * 4 + [False]
    refused = await limiter.hit("k")
    assert refused.retry_after == pytest.approx(0.5) and refused.reset_after == pytest.approx(2)
    clock.now += 0.5  # one token back
    assert (await limiter.hit("k")).allowed and not (await limiter.hit("k")).allowed
    clock.now += 100  # full, never more than the capacity
    assert (await limiter.hit("k")).remaining == 3
    assert (await limiter.hit("k", cost=5)).retry_after is None
    # A clock that went backwards refills nothing.
    _, decision = token_bucket(Rate(4, 2), b"1.0,20", 10.0, 1)
    assert decision.allowed and decision.remaining == 0


def test_result_headers() -> None:
    async def run() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        clock = Clock(1_000_040.0)
        limiter = RateLimiter(
            MemoryStore(), "2/minute", algorithm="fixed_window", name="api", clock=clock
        )
        ok = await limiter.hit("k")
        await limiter.hit("k")
        refused = await limiter.hit("k")
        return ok.headers(), refused.headers()

    ok, refused = asyncio.run(run())
    assert ok == [("ratelimit-policy", '"api";q=2;w=60'), ("ratelimit", '"api";r=1;t=40')]
    assert refused[-1] == ("retry-after", "40") and ("ratelimit", '"api";r=0;t=40') in refused


def test_limiter_arguments() -> None:
    with pytest.raises(ValueError, match="algorithm"):
        RateLimiter(MemoryStore(), "1/s", algorithm="leaky")
    for name in ("", 'a"b', "x" * 65, "with space"):
        with pytest.raises(ValueError, match="policy name"):
            RateLimiter(MemoryStore(), "1/s", name=name)
    limiter = RateLimiter(MemoryStore(), "1/s")
    for cost in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="cost"):
            asyncio.run(limiter.hit("k", cost))  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["fixed_window", "sliding_window", "token_bucket"])
async def test_never_more_than_the_limit_on_every_backend(store: Store, algorithm: str) -> None:
    limiter = RateLimiter(store, "15/minute", algorithm=algorithm, clock=Clock())
    results = await asyncio.gather(*(limiter.hit("hot") for _ in range(40)))
    assert sum(r.allowed for r in results) == 15
    with pytest.raises(RateLimitExceeded) as info:
        await limiter.check("hot")
    assert info.value.status_code == 429 and "retry-after" in info.value.headers  # type: ignore[operator]
    assert (await limiter.check("cold")).allowed


# -- across processes ---------------------------------------------------------------------

WORKER = """
import asyncio, sys
from vivace.db import Database
from vivace.ratelimit import RateLimiter
from vivace.stores import DatabaseStore, RedisStore

async def main(backend, url, name, algorithm, now):
    if backend == "redis":
        store = RedisStore(url, prefix=name)
    else:
        store = DatabaseStore(Database(url, max_size=4), table=name, create=False)
    async with store:
        # One fixed time for every process: no window ends in the middle of the test.
        limiter = RateLimiter(store, "25/minute", algorithm=algorithm, clock=lambda: float(now))
        print("ready", flush=True)
        sys.stdin.readline()
        results = await asyncio.gather(*(limiter.hit("shared") for _ in range(20)))
        print(sum(r.allowed for r in results), flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


# Redis and one database: the limiter is the same on every store; its atomic primitives
# are tested across processes on every backend in tests/stores.
@pytest.mark.slow
@pytest.mark.parametrize("backend", backends("redis", "postgresql"))
async def test_exact_across_processes(backend: str, tmp_path: Path) -> None:
    # The sliding window is a compare-and-set read-modify-write (as the token bucket);
    # the fixed window's atomic incr is tested across processes in tests/stores.
    algorithm = "sliding_window"
    store, name = await make_store(backend, tmp_path)
    try:
        url = store_url(backend, tmp_path)
        args = ["-c", WORKER, backend, url, name, algorithm, "1000040"]
        outputs = await asyncio.get_running_loop().run_in_executor(None, run_workers, args)
        # 60 hits from 3 processes: exactly the limit let through.
        assert sum(int(out) for out in outputs) == 25
    finally:
        await drop_store(store, backend, name)


# -- the middleware -----------------------------------------------------------------------


async def home(request: Any) -> Any:
    return {"ok": True}


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


def app_with(limiter: RateLimiter, **options: Any) -> App:
    return App(
        routes=[Route("/", home), Route("/health", home), WebSocketRoute("/ws", socket)],
        middleware=[Middleware(RateLimitMiddleware, limiter=limiter, **options)],
    )


def test_middleware_answers_429_with_headers() -> None:
    clock = Clock(1_000_040.0)  # a fixed time: no window ends during the test
    limiter = RateLimiter(MemoryStore(), "2/minute", algorithm="fixed_window", clock=clock)
    client = TestClient(app_with(limiter, exempt=["/health"]))
    first = client.get("/")
    assert first.status_code == 200
    assert first.headers["ratelimit-policy"] == '"default";q=2;w=60'
    assert first.headers["ratelimit"].startswith('"default";r=1;t=')
    client.get("/")
    refused = client.get("/")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit"].startswith('"default";r=0;')
    assert client.get("/health").status_code == 200  # exempt
    other = TestClient(app_with(limiter), client=("198.51.100.1", 1))
    assert other.get("/").status_code == 200  # another address, another quota
    with pytest.raises(WebSocketRejected) as rejected, client.websocket_connect("/ws"):
        pass
    assert rejected.value.response.status_code == 429


def test_middleware_options() -> None:
    limiter = RateLimiter(MemoryStore(), "1/minute", clock=Clock())
    client = TestClient(app_with(limiter, websockets=False, headers=False))
    assert "ratelimit" not in client.get("/").headers
    assert client.get("/").status_code == 429
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hi"
    no_client = TestClient(app_with(RateLimiter(MemoryStore(), "1/minute")), client=None)
    assert [no_client.get("/").status_code for _ in range(3)] == [200] * 3  # no key: no limit
    sockets = TestClient(app_with(RateLimiter(MemoryStore(), "5/minute")))
    with sockets.websocket_connect("/ws") as ws:  # a counted handshake gets no headers
        assert ws.receive_text() == "hi"


def test_keys_by_user_and_header() -> None:
    class Backend:
        async def authenticate(self, conn: Any) -> Any:
            name = conn.headers.get("x-user")
            return (AuthCredentials(), SimpleUser(name)) if name else None

    limiter = RateLimiter(MemoryStore(), "1/minute", clock=Clock())
    app = App(
        routes=[Route("/", home)],
        middleware=[
            Middleware(AuthenticationMiddleware, backend=Backend()),
            Middleware(RateLimitMiddleware, limiter=limiter, key=by_user),
        ],
    )
    client = TestClient(app)
    assert client.get("/", headers={"x-user": "ada"}).status_code == 200
    assert client.get("/", headers={"x-user": "ada"}).status_code == 429
    assert client.get("/", headers={"x-user": "bob"}).status_code == 200
    assert client.get("/").status_code == 200  # anonymous: by address
    assert client.get("/").status_code == 429
    key = by_header("X-API-Key")
    assert key({"headers": [(b"x-api-key", b"k" * 1000)]}) == "key:" + "k" * 200
    assert key({"headers": [(b"x-api-key", b"")]}) is None
    assert key({"headers": []}) is None
    assert by_address({"client": None}) is None
    assert by_user({"client": ("1.2.3.4", 5), "user": SimpleUser("")}) == "addr:1.2.3.4"


async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    limiter = RateLimiter(MemoryStore(), "1/minute")
    await RateLimitMiddleware(app, limiter)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def test_reprs() -> None:
    limiter = RateLimiter(MemoryStore(), Rate(1, 60), name="login")
    result = asyncio.run(limiter.hit("k"))
    assert (
        repr(result)
        == "RateLimitResult(policy='login', allowed=True, remaining=0, retry_after=None)"
    )
    assert "allowed=True" in repr(token_bucket(Rate(1, 1), None, 0.0, 1)[1])
    with pytest.raises(ValueError, match="window"):
        Rate(1)
    assert str(Rate("5/10s")) == "5/10s"
