"""The vivace pytest plugin, registered through the ``pytest11`` entry point ``vivace``.

Each layer keeps its fixtures in its own module; this module imports them, so a layer
adds its fixtures by adding one import line here (and its name to ``__all__``).

- ``vivace_client_factory``: entered sync ``TestClient`` objects, closed at teardown;
- ``vivace_async_client_factory``: the same for ``AsyncTestClient``;
- ``vivace_database``: a connected ``vivace.db.Database`` (override it in a conftest.py);
- ``vivace_db``: that database in rollback mode for one test;
- ``vivace_orm``: ``vivace_db`` bound as vivace.orm's database for one test.

The plugin loads without pytest-asyncio; the async fixtures need it and, when it is
missing, fail the test that requests them with what to install.
"""

from vivace.testing._fixtures_client import vivace_async_client_factory, vivace_client_factory
from vivace.testing._fixtures_db import vivace_database, vivace_db
from vivace.testing._fixtures_orm import vivace_orm

__all__ = [
    "vivace_async_client_factory",
    "vivace_client_factory",
    "vivace_database",
    "vivace_db",
    "vivace_orm",
]
