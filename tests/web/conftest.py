"""Fixtures shared by the vivace.web tests: the Redis the broadcast tests talk to."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

REDIS_URL = os.environ.get("VIVACE_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def prefix() -> str:
    """A channel prefix of the test's own (other sessions may share the Redis)."""
    return f"vivace-test-{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_admin() -> AsyncIterator[Any]:
    """A plain redis-py client for checking the server side, or a skip without Redis."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - Redis runs on the test machines
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()
