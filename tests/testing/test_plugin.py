"""The pytest plugin: registered under the ``vivace`` entry point, fixtures work."""

from __future__ import annotations

import importlib
import re
import site
import subprocess
import sys
import textwrap
import venv
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

import vivace
import vivace.testing
import vivace.testing._fixtures_async
import vivace.testing._fixtures_client
import vivace.testing._fixtures_db
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
    importlib.reload(vivace.testing._fixtures_async)
    importlib.reload(vivace.testing._fixtures_client)
    importlib.reload(vivace.testing._fixtures_db)
    importlib.reload(vivace.testing._fixtures_orm)
    plugin = importlib.reload(vivace.testing.pytest_plugin)
    assert set(plugin.__all__) == FIXTURES
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


LOOP_SCOPE = "asyncio_default_fixture_loop_scope=function"
FIXTURES = {
    "vivace_client_factory",
    "vivace_async_client_factory",
    "vivace_database",
    "vivace_db",
    "vivace_orm",
}


@pytest.fixture(scope="module")
def python_without_pytest_asyncio(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python with this environment's packages except pytest-asyncio, as a user may have.

    A new virtual environment (no pip, no download) whose site-packages links every entry
    of this one's but pytest_asyncio and its metadata: `import pytest_asyncio` fails as
    when it is not installed, and pytest finds no entry point for it. vivace (installed
    in editable mode, a .pth file) loads through its own pytest11 entry point.
    """
    env = tmp_path_factory.mktemp("env")
    venv.create(env, with_pip=False, symlinks=True)
    (here,) = (Path(p) for p in site.getsitepackages() if Path(p).name == "site-packages")
    (there,) = env.glob("lib/python*/site-packages")
    for entry in here.iterdir():
        if not entry.name.startswith("pytest_asyncio"):
            (there / entry.name).symlink_to(entry)
    return str(env / "bin" / "python")


SAMPLE = """
    import sys

    from vivace.web import App, PlainTextResponse

    app = App()

    @app.route("/")
    async def home(request):
        return PlainTextResponse("ok")

    def test_pytest_asyncio_is_absent():
        assert "pytest_asyncio" not in sys.modules
        try:
            import pytest_asyncio
        except ImportError:
            pass
        else:
            raise AssertionError(f"pytest_asyncio imported from {pytest_asyncio.__file__}")

    def test_sync_client(vivace_client_factory):
        client = vivace_client_factory(app)
        assert client.get("/").text == "ok"
"""

ASYNC_SAMPLE = """
    def test_async_client(vivace_async_client_factory):
        pass

    def test_db(vivace_db):
        pass
"""


def run_pytest(python: str, folder: Path, *args: str) -> str:
    if python == sys.executable:
        args = ("-o", LOOP_SCOPE, *args)
    done = subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return f"exit={done.returncode}\n{done.stdout}{done.stderr}"


def test_plugin_loads_and_works_without_pytest_asyncio(
    tmp_path: Path, python_without_pytest_asyncio: str
) -> None:
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(SAMPLE))
    out = run_pytest(python_without_pytest_asyncio, tmp_path, "-q")
    assert out.startswith("exit=0"), out
    assert "2 passed" in out


def test_async_fixture_without_pytest_asyncio_says_what_to_install(
    tmp_path: Path, python_without_pytest_asyncio: str
) -> None:
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(SAMPLE + ASYNC_SAMPLE))
    out = run_pytest(python_without_pytest_asyncio, tmp_path, "-q", "-rE")
    assert out.startswith("exit=1"), out
    assert "2 passed, 2 errors" in out
    for name in ("vivace_async_client_factory", "vivace_db"):
        assert (
            f"the fixture {name!r} is async and needs pytest-asyncio: pip install pytest-asyncio"
            in out
        )


def test_all_lists_every_fixture_the_plugin_offers(
    tmp_path: Path, python_without_pytest_asyncio: str
) -> None:
    (tmp_path / "test_sample.py").write_text("")
    for python in (python_without_pytest_asyncio, sys.executable):
        out = run_pytest(python, tmp_path, "--fixtures")
        offered: set[str] = set()
        for section in re.split(r"\n-+ fixtures defined from ", out)[1:]:
            module, _, body = section.partition("\n")
            if module.startswith("vivace."):
                offered.update(re.findall(r"^(\w+) -- ", body, re.MULTILINE))
        assert offered == FIXTURES == set(vivace.testing.pytest_plugin.__all__), out
