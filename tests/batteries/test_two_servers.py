"""Two server processes share sessions, the cache, rate limits and broadcast (tests/
batteries/app.py): once on Redis (store and Redis Streams), once on PostgreSQL (store
and LISTEN/NOTIFY). A client moving between the two must not notice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.conftest import REDIS_URL
from tests.db.conftest import DEFAULT_URLS, unique_name
from tests.examples.chat_servers import app_servers
from tests.web.conftest import drop_redis_keys
from vivace.client import Client
from vivace.db import Database
from vivace.stores import DatabaseStore, RedisStore, Store

PG_URL = DEFAULT_URLS["postgresql"]
STREAMS_URL = "redis+streams://" + REDIS_URL.partition("://")[2]

pytestmark = pytest.mark.slow


class Servers:
    def __init__(self, urls: list[str], store: Store) -> None:
        self.a, self.b = urls
        self.store = store


@pytest.fixture(
    scope="module", params=[pytest.param("redis", marks=pytest.mark.redis), "postgresql"]
)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def servers(kind: str) -> Iterator[tuple[list[str], str, str]]:
    if kind == "redis":
        name = f"vivace-test-{uuid.uuid4().hex}:"
        channels = f"vivace-test-{uuid.uuid4().hex}:"
        env = {"BATTERIES_STORE": "redis", "BATTERIES_BROADCAST": STREAMS_URL}
    else:
        name = unique_name("vbstore")
        channels = unique_name("vbchan")
        env = {"BATTERIES_STORE": "postgresql", "BATTERIES_BROADCAST": PG_URL}
    env |= {"BATTERIES_NAME": name, "BATTERIES_CHANNELS": channels}
    try:
        with app_servers("tests.batteries.app:app", 2, env) as urls:
            yield urls, name, channels
    finally:
        asyncio.run(_drop(kind, name, channels))


async def _drop(kind: str, name: str, channels: str) -> None:
    if kind == "redis":
        await drop_redis_keys(name, channels)
    else:
        async with Database(PG_URL) as db:
            await db.execute(f"DROP TABLE IF EXISTS {name}")
            await db.execute(f"DROP TABLE IF EXISTS {channels}")


@pytest.fixture
async def shared(kind: str, servers: tuple[list[str], str, str]) -> AsyncIterator[Servers]:
    urls, name, _ = servers
    store: Store
    if kind == "redis":
        store = RedisStore(REDIS_URL, prefix=name)
    else:
        store = DatabaseStore(Database(PG_URL), table=name, create=False)
    async with store:
        yield Servers(urls, store)


async def json(client: Client, method: str, url: str, **options: Any) -> Any:
    response = await client.request(method, url, **options)
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


async def test_sessions_and_csrf_tokens_are_shared(shared: Servers) -> None:
    async with Client(timeout=10) as client:
        token = (await json(client, "GET", shared.a + "/token"))["token"]
        headers = {"x-csrf-token": token}
        # The token issued by A is good on B: the session (and its CSRF secret) is shared.
        b = await json(client, "POST", shared.b + "/login", json={"user": "ada"}, headers=headers)
        a = await json(client, "GET", shared.a + "/me")
        assert a["user"] == "ada" and a["pid"] != b["pid"]
        assert (await json(client, "GET", shared.b + "/me"))["user"] == "ada"
        token = (await json(client, "GET", shared.b + "/token"))["token"]
        refused = await client.post(shared.a + "/logout")
        assert refused.status_code == 403  # no token: refused on either server
        await json(client, "POST", shared.a + "/logout", headers={"x-csrf-token": token})
        assert (await json(client, "GET", shared.b + "/me"))["user"] is None


async def test_cache_is_shared_and_computed_once(shared: Servers) -> None:
    await shared.store.delete("expensive-runs")
    await shared.store.namespace("cache:").clear()
    # Both servers behind one name, as behind a load balancer (the host is in the key).
    host = {"host": "app.example"}
    async with Client(timeout=10) as client:
        # Concurrent misses on both servers: one computation in all.
        responses = await asyncio.gather(
            *(client.get(url + "/expensive", headers=host) for url in [shared.a, shared.b] * 4)
        )
        assert [r.status_code for r in responses] == [200] * 8, responses[0].text
        assert {r.json()["runs"] for r in responses} == {1}
        assert len({r.json()["pid"] for r in responses}) == 1
        assert await shared.store.get("expensive-runs") == b"1"
        later = await client.get(shared.b + "/expensive", headers=host)
        assert later.json()["runs"] == 1 and "age" in later.headers


async def test_rate_limit_is_exact_across_servers(shared: Servers) -> None:
    client_key = f"client-{uuid.uuid4().hex}"
    async with Client(timeout=10) as client:
        responses = await asyncio.gather(
            *(
                client.get(url + "/limited", headers={"x-client": client_key})
                for url in [shared.a, shared.b] * 8
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [429] * 6
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-policy"] == '"api";q=10;w=86400'


async def read_events(
    client: Client, url: str, count: int, published: asyncio.Event, last_event_id: str | None = None
) -> list[tuple[str, str]]:
    headers = {"last-event-id": last_event_id} if last_event_id else {}
    events: list[tuple[str, str]] = []
    async with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        event_id = data = ""
        async for line in response.aiter_lines():
            if line.startswith(": subscribed"):
                published.set()  # subscribed: the test may publish now
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                events.append((event_id, data))
                event_id = data = ""
                if len(events) == count:
                    return events
    return events


async def test_broadcast_across_servers_with_replay(shared: Servers) -> None:
    channel = f"room-{uuid.uuid4().hex[:8]}"
    async with Client(timeout=10) as client:
        subscribed = asyncio.Event()
        reader = asyncio.ensure_future(
            read_events(client, f"{shared.b}/events?channel={channel}", 2, subscribed)
        )
        await asyncio.wait_for(subscribed.wait(), 10)
        ids = []
        for message in ("one", "two"):
            body = {"channel": channel, "message": message}
            ids.append((await json(client, "POST", shared.a + "/publish", json=body))["id"])
        events = await asyncio.wait_for(reader, 10)
        assert events == list(zip(ids, ["one", "two"], strict=True))
        # The client was away for "three" and "four"; it comes back to the other server.
        for message in ("three", "four"):
            body = {"channel": channel, "message": message}
            ids.append((await json(client, "POST", shared.b + "/publish", json=body))["id"])
        again = asyncio.Event()
        replayed = await asyncio.wait_for(
            read_events(client, f"{shared.a}/events?channel={channel}", 2, again, ids[1]),
            10,
        )
        assert replayed == list(zip(ids[2:], ["three", "four"], strict=True))
