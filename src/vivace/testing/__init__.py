"""vivace.testing: test clients for any ASGI app, and a pytest plugin.

``TestClient`` is synchronous (the app runs on a loop in a background thread);
``AsyncTestClient`` is the same API for async tests. Both send requests in-process through
``vivace.client.ASGITransport`` and return ``vivace.client.Response`` objects::

    >>> from vivace.testing import TestClient
    >>> async def app(scope, receive, send):
    ...     await send({"type": "http.response.start", "status": 204, "headers": []})
    ...     await send({"type": "http.response.body", "body": b""})
    >>> TestClient(app).delete("/items/1").status_code
    204

The pytest plugin (entry point ``vivace``) provides ``vivace_client_factory`` and
``vivace_async_client_factory``; see docs/testing.md.

The names are imported on first use: pytest imports the plugin (and so this package)
before coverage measurement starts, and a plugin must cost nothing to load.
"""

import importlib
import typing

__all__ = [
    "DEFAULT_TEST_TIMEOUT",
    "AsyncTestClient",
    "LifespanFailed",
    "TestClient",
    "WebSocketTestSession",
]

_LAZY = {
    "DEFAULT_TEST_TIMEOUT": "vivace.testing._async_client",
    "AsyncTestClient": "vivace.testing._async_client",
    "LifespanFailed": "vivace.testing._lifespan",
    "TestClient": "vivace.testing._testclient",
    "WebSocketTestSession": "vivace.testing._websocket",
}

if typing.TYPE_CHECKING:
    from vivace.testing._async_client import DEFAULT_TEST_TIMEOUT, AsyncTestClient
    from vivace.testing._lifespan import LifespanFailed
    from vivace.testing._testclient import TestClient
    from vivace.testing._websocket import WebSocketTestSession


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vivace.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
