"""The test-client fixtures of the vivace pytest plugin.

Imports of ``vivace.testing`` happen inside the fixtures: pytest loads plugins before
coverage starts, and a plugin import must stay cheap for every test run.

The async fixture needs pytest-asyncio. Without it the plugin still loads (the sync
fixtures work), and requesting the async fixture fails with what to install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from vivace.testing._fixtures_async import async_fixture

__all__ = ["vivace_async_client_factory", "vivace_client_factory"]


@pytest.fixture
def vivace_client_factory() -> Iterator[Callable[..., Any]]:
    """Make entered ``TestClient`` objects (lifespan started); all are closed at teardown.

    ``client = vivace_client_factory(app, base_url=..., raise_server_exceptions=...)``.
    """
    from vivace.testing import TestClient

    clients: list[TestClient] = []

    def make(app: Any, **kwargs: Any) -> TestClient:
        client = TestClient(app, **kwargs)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    while clients:
        clients.pop().__exit__(None, None, None)


@async_fixture
async def vivace_async_client_factory() -> AsyncIterator[Callable[..., Any]]:
    """Make entered ``AsyncTestClient`` objects; all are closed at teardown.

    ``client = await vivace_async_client_factory(app, ...)``.
    """
    from vivace.testing import AsyncTestClient

    clients: list[AsyncTestClient] = []

    async def make(app: Any, **kwargs: Any) -> AsyncTestClient:
        client = AsyncTestClient(app, **kwargs)
        await client.__aenter__()
        clients.append(client)
        return client

    yield make
    while clients:
        await clients.pop().__aexit__(None, None, None)
