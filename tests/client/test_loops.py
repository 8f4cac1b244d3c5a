"""One Client across event loops: a client kept in a global and used from one
``asyncio.run`` after another keeps working; the pool drops the connections of a loop that
is gone and refuses to be shared with a loop running in another thread."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Iterator

import pytest
import uvloop

from vivace.client import Client, Timeout
from vivace.client._pool import ConnectionPool

from .servers import stdlib_server


@pytest.fixture
def url() -> Iterator[str]:
    with stdlib_server() as base:
        yield base


def pool_of(client: Client) -> ConnectionPool:
    return client.transport.pool  # type: ignore[attr-defined,no-any-return]


async def peer_port(client: Client, url: str) -> str:
    response = await client.get(url + "/x")
    assert response.text == "GET /x"
    return response.headers["x-peer-port"]


async def two_ports(client: Client, url: str) -> tuple[str, str]:
    return await peer_port(client, url), await peer_port(client, url)


def test_client_reused_across_asyncio_run(url: str) -> None:
    client = Client(timeout=Timeout(5.0))
    first = asyncio.run(two_ports(client, url))
    assert first[0] == first[1]  # kept alive within the loop
    pool = pool_of(client)
    # asyncio.run's shutdown_asyncgens closed the loop's connections before closing it.
    assert pool.connection_count == 0 and pool.idle_count == 0
    for _ in range(5):
        again = asyncio.run(two_ports(client, url))
        assert again[0] == again[1] and again[0] != first[0]
    asyncio.run(client.aclose())
    gc.collect()  # nothing was left to a dead loop: no ResourceWarning (warnings are errors)


def test_client_reused_across_uvloop_run(url: str) -> None:
    client = Client(timeout=Timeout(5.0))
    first = uvloop.run(two_ports(client, url))
    second = uvloop.run(two_ports(client, url))
    assert first[0] == first[1] and second[0] == second[1] and first[0] != second[0]
    uvloop.run(client.aclose())
    gc.collect()


def test_asyncio_then_uvloop_then_asyncio(url: str) -> None:
    client = Client(timeout=Timeout(5.0))
    ports = [
        asyncio.run(peer_port(client, url)),
        uvloop.run(peer_port(client, url)),
        asyncio.run(peer_port(client, url)),
    ]
    assert len(set(ports)) == 3
    asyncio.run(client.aclose())


def test_loop_closed_without_shutting_down_asyncgens(url: str) -> None:
    # A hand-run loop closed without loop.shutdown_asyncgens(): the pool only learns on the
    # next request, from another loop, and drops what it had.
    client = Client(timeout=Timeout(5.0))
    loop = asyncio.new_event_loop()
    first = loop.run_until_complete(peer_port(client, url))
    assert pool_of(client).idle_count == 1
    loop.close()
    with warnings.catch_warnings():
        # The old loop can no longer run the close callback of its socket, so the
        # transport closes it when collected, with Python's ResourceWarning.
        warnings.simplefilter("ignore", ResourceWarning)
        second = asyncio.run(two_ports(client, url))
        gc.collect()
    assert second[0] == second[1] != first
    asyncio.run(client.aclose())


def test_stopped_loop_then_other_loop_then_back(url: str) -> None:
    client = Client(timeout=Timeout(5.0))
    loop = asyncio.new_event_loop()
    try:
        a1 = loop.run_until_complete(peer_port(client, url))
        b = asyncio.run(peer_port(client, url))  # loop is stopped, not closed: dropped
        a2 = loop.run_until_complete(peer_port(client, url))  # and back
        assert len({a1, b, a2}) == 3
        assert pool_of(client).idle_count == 1
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


def test_streamed_response_left_open_on_a_finished_loop(url: str) -> None:
    client = Client(timeout=Timeout(5.0))
    holder = []

    async def open_stream() -> None:
        response = await client.send(client.build_request("GET", url + "/s"), stream=True)
        holder.append(response)

    asyncio.run(open_stream())

    async def later() -> str:
        # Closing the old loop's response from a new loop is harmless.
        await holder[0].aclose()
        return await peer_port(client, url)

    assert asyncio.run(later())
    asyncio.run(client.aclose())


def test_pool_in_use_by_a_running_loop_in_another_thread(url: str) -> None:
    client = Client(timeout=Timeout(5.0))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        port = asyncio.run_coroutine_threadsafe(peer_port(client, url), loop).result(10)

        async def from_here() -> None:
            with pytest.raises(RuntimeError, match="one Client per event loop"):
                await client.get(url)
            with pytest.raises(RuntimeError, match="close it from that loop"):
                await client.aclose()

        asyncio.run(from_here())
        # The owner loop's pool is untouched: its kept-alive connection is still reused.
        again = asyncio.run_coroutine_threadsafe(peer_port(client, url), loop).result(10)
        assert again == port
        asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(10)
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_aclose_from_a_new_loop_after_the_old_one_ended(url: str) -> None:
    client = Client(timeout=Timeout(5.0))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(peer_port(client, url))
    loop.run_until_complete(asyncio.sleep(0))
    try:
        asyncio.run(client.aclose())  # the old loop is stopped: its connections dropped
        assert pool_of(client).connection_count == 0
        with pytest.raises(RuntimeError, match="closed"):
            asyncio.run(client.get(url))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def test_same_loop_keeps_one_watcher(url: str) -> None:
    async with Client(timeout=Timeout(5.0)) as client:
        ports = {await peer_port(client, url) for _ in range(5)}
        assert len(ports) == 1
        watcher = pool_of(client)._watcher
        assert watcher is not None
        await peer_port(client, url)
        assert pool_of(client)._watcher is watcher
    assert pool_of(client)._watcher is None
