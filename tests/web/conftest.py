"""Fixtures shared by the vivace.web tests: the Redis the broadcast tests talk to
(tests marked ``redis``; see tests/conftest.py), and the uploads a test opened."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import REDIS_URL
from vivace.web import UploadFile

__all__ = ["REDIS_URL"]


@pytest.fixture
def opened_uploads(monkeypatch: pytest.MonkeyPatch) -> list[UploadFile]:
    """Every ``UploadFile`` made while the test runs, to check that each was closed."""
    opened: list[UploadFile] = []
    original = UploadFile.__init__

    def tracking(self: UploadFile, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(UploadFile, "__init__", tracking)
    return opened


@pytest.fixture
def prefix() -> str:
    """A channel prefix of the test's own (other sessions may share the Redis)."""
    return f"vivace-test-{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_admin() -> AsyncIterator[Any]:
    """A plain redis-py client for checking the server side (tests marked ``redis``)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def drop_redis_keys(*prefixes: str) -> None:
    """Delete every key under ``prefixes`` (what a test made on the shared Redis)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        for prefix in prefixes:
            keys = [key async for key in client.scan_iter(match=prefix + "*")]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()
