"""The pytest plugin: registered under the ``vivace`` entry point, fixtures work."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

import pytest

import vivace
import vivace.testing
import vivace.testing._fixtures_client
import vivace.testing.pytest_plugin

from .apps import echo_app


def test_entry_point_registered() -> None:
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "vivace"]
    assert entry.value == "vivace.testing.pytest_plugin"


def test_plugin_loaded_by_pytest(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("vivace")


def test_plugin_modules_reload_cleanly() -> None:
    # pytest imports the plugin before coverage starts; reloading runs the module code
    # under measurement and checks that it stays importable on its own.
    importlib.reload(vivace)
    importlib.reload(vivace.testing)
    importlib.reload(vivace.testing._fixtures_client)
    plugin = importlib.reload(vivace.testing.pytest_plugin)
    assert set(plugin.__all__) == {"vivace_client_factory", "vivace_async_client_factory"}
    assert "TestClient" in dir(vivace.testing)
    with pytest.raises(AttributeError, match="Nope"):
        vivace.testing.Nope  # noqa: B018


def test_client_factory(vivace_client_factory: Any) -> None:
    client = vivace_client_factory(echo_app)
    assert client.get("/f").json()["scope"]["state"] == {"started": True}
    other = vivace_client_factory(echo_app, base_url="http://other")
    assert other.get("/").json()["scope"]["server"] == ["other", 80]


async def test_async_client_factory(vivace_async_client_factory: Any) -> None:
    client = await vivace_async_client_factory(echo_app)
    r = await client.get("/a")
    assert r.json()["scope"]["path"] == "/a"
