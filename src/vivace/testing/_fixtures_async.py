"""Async fixtures for the vivace pytest plugin, with or without pytest-asyncio.

pytest runs ``async def`` fixtures only through a plugin such as pytest-asyncio, which is
not a dependency of vivace: a user of the synchronous ``TestClient`` may not have it. The
plugin must still load for them (pytest stops before collecting when a plugin fails to
import), so each async fixture is declared through :func:`async_fixture`:

- with pytest-asyncio installed, it is a ``pytest_asyncio.fixture``;
- without it, it is a plain fixture that fails the requesting test with what to install,
  and the test's other fixtures keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

__all__ = ["async_fixture", "find_pytest_asyncio", "missing_pytest_asyncio"]


def find_pytest_asyncio() -> ModuleType | None:
    """The pytest_asyncio module, or None when it is not installed."""
    try:
        import pytest_asyncio
    except ImportError:
        return None
    return pytest_asyncio


def missing_pytest_asyncio(name: str) -> str:
    """The message a test gets when it asks for async fixture ``name`` without the plugin."""
    return (
        f"the fixture {name!r} is async and needs pytest-asyncio: pip install pytest-asyncio, "
        f"then mark the test with @pytest.mark.asyncio or set asyncio_mode = auto "
        f"(the synchronous fixtures, such as vivace_client_factory, work without it)"
    )


def async_fixture(function: Callable[..., Any]) -> Any:
    """Declare the async generator ``function`` as a fixture of the same name."""
    plugin = find_pytest_asyncio()
    if plugin is not None:
        return plugin.fixture(function)
    message = missing_pytest_asyncio(function.__name__)

    def unavailable() -> None:
        pytest.fail(message, pytrace=False)

    unavailable.__name__ = function.__name__
    unavailable.__doc__ = function.__doc__
    return pytest.fixture(unavailable)
