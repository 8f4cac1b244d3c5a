"""The vivace pytest plugin, registered through the ``pytest11`` entry point ``vivace``.

Each layer keeps its fixtures in its own module; this module imports them, so a layer
adds its fixtures by adding one import line here.

- ``vivace_client_factory``: entered sync ``TestClient`` objects, closed at teardown;
- ``vivace_async_client_factory``: the same for ``AsyncTestClient`` (needs pytest-asyncio).
"""

from vivace.testing._fixtures_client import vivace_async_client_factory, vivace_client_factory
from vivace.testing._fixtures_db import vivace_database, vivace_db  # noqa: F401

__all__ = ["vivace_async_client_factory", "vivace_client_factory"]
