"""Shared test configuration for the whole suite.

Redis: tests marked ``@pytest.mark.redis`` talk to the Redis at ``VIVACE_REDIS_URL``
(default redis://127.0.0.1:6379/0), as the database tests talk to their servers. A Redis
that cannot be reached fails those tests with the reason; to leave them out on purpose,
set ``VIVACE_TEST_SKIP_REDIS=1``. Each test uses keys and channels under a prefix of its
own: other runs share the server.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("VIVACE_REDIS_URL", "redis://127.0.0.1:6379/0")


@cache
def redis_unreachable() -> str | None:
    """Why Redis cannot be reached (checked once per run), or None when it answers PING."""
    target = urlsplit(REDIS_URL)
    address = (target.hostname or "127.0.0.1", target.port or 6379)
    try:
        with socket.create_connection(address, timeout=5) as sock:
            if target.password:
                user = target.username or "default"
                sock.sendall(f"AUTH {user} {target.password}\r\n".encode())
                sock.recv(128)
            sock.sendall(b"PING\r\n")
            answer = sock.recv(128)
    except OSError as exc:
        return str(exc)
    return None if answer.startswith(b"+PONG") else f"PING answered {answer!r}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("redis") is None:
        return
    if os.environ.get("VIVACE_TEST_SKIP_REDIS", "") not in ("", "0"):
        pytest.skip("Redis tests disabled by VIVACE_TEST_SKIP_REDIS")
    reason = redis_unreachable()
    if reason is not None:
        pytest.fail(
            f"Redis at {REDIS_URL} is unreachable ({reason}); start it, point "
            f"VIVACE_REDIS_URL at it, or set VIVACE_TEST_SKIP_REDIS=1",
            pytrace=False,
        )
