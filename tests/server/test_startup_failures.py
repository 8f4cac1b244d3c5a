"""``vivace run`` when the app cannot start: exit status 3, one clear last line naming the
cause and where, and the user's traceback printed once — in one process, with
``--workers 2`` and with ``--reload`` (issue 19).  The CLI runs as a subprocess."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

APPS = {
    "missing_dependency.py": "import os\n\nimport nonexistent_dependency_xyz\n\napp = None\n",
    "bad_syntax.py": "async def app(scope, receive, send)\n    pass\n",
    "raises_on_import.py": "def helper():\n    return 1 / 0\n\n\nVALUE = helper()\n",
    "startup.py": """
from contextlib import asynccontextmanager

from vivace.web import App


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})


def factory():
    raise ValueError("the factory broke")


async def raw_lifespan(scope, receive, send):
    await receive()
    raise RuntimeError("cannot reach the database")


async def reported(scope, receive, send):
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})


@asynccontextmanager
async def lifespan(app):
    raise ConnectionError("database refused the connection")
    yield


web = App(lifespan=lifespan)
""",
}

# (app, extra flags, expected last line, traceback line expected once or None)
CASES = [
    (
        "missing_module_xyz:app",
        [],
        "vivace: could not import module 'missing_module_xyz'",
        None,
    ),
    (
        "missing_dependency:app",
        [],
        "vivace: could not import 'missing_dependency:app': ModuleNotFoundError: No module "
        "named 'nonexistent_dependency_xyz' (missing_dependency.py, line 3)",
        "import nonexistent_dependency_xyz",
    ),
    (
        "bad_syntax:app",
        [],
        "vivace: could not import 'bad_syntax:app': SyntaxError: expected ':' "
        "(bad_syntax.py, line 1)",
        "async def app(scope, receive, send)",
    ),
    (
        "raises_on_import:app",
        [],
        "vivace: could not import 'raises_on_import:app': ZeroDivisionError: division by zero "
        "(raises_on_import.py, line 2)",
        "return 1 / 0",
    ),
    ("startup:nope", [], "vivace: module 'startup' has no attribute 'nope'", None),
    (
        "startup:factory",
        ["--factory"],
        "vivace: the app factory 'startup:factory' raised ValueError: the factory broke "
        "(startup.py, line 16)",
        'raise ValueError("the factory broke")',
    ),
    (
        "startup:raw_lifespan",
        [],
        "vivace: lifespan startup failed: RuntimeError: cannot reach the database "
        "(startup.py, line 21)",
        'raise RuntimeError("cannot reach the database")',
    ),
    ("startup:reported", [], "vivace: lifespan startup failed: no database", None),
    (
        "startup:web",
        [],
        "vivace: lifespan startup failed: ConnectionError: database refused the connection "
        "(startup.py, line 31)",
        'raise ConnectionError("database refused the connection")',
    ),
]
MODES = {"one process": [], "two workers": ["--workers", "2"], "reload": ["--reload"]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("startup")
    for name, text in APPS.items():
        (path / name).write_text(text)
    return path


def start(folder: Path, app: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    command = [sys.executable, "-m", "vivace.cli", "run", app, "--port", "0", *args]
    return subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("mode", list(MODES))
def test_every_startup_failure_exits_3_with_one_line(folder: Path, mode: str) -> None:
    extra = MODES[mode]
    if mode == "reload":
        extra = [*extra, "--reload-dir", str(folder / "nothing-to-watch")]
    # All cases at once: each is a few interpreters that fail within a second or two.
    running = [(case, start(folder, case[0], *case[1], *extra)) for case in CASES]
    for (app, _, last_line, code_line), proc in running:
        out, err = proc.communicate(timeout=60)
        lines = [line for line in err.splitlines() if line.strip()]
        where = f"{mode}, {app}:\n{err}"
        assert proc.returncode == 3, where
        assert lines[-1] == last_line, where
        assert out == "", where
        if code_line is None:
            assert "Traceback" not in err and "  File " not in err, where
        else:
            assert err.count(code_line) == 1, where  # the traceback, once
            assert err.count("Traceback (most recent call last)") <= 1, where
            # Only the user's frames: no event loop, importlib or server frames.
            assert "importlib" not in err and "vivace/server" not in err, where
            assert "asyncio" not in err, where


@pytest.mark.parametrize("mode", list(MODES))
def test_port_in_use_exits_3(folder: Path, mode: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(folder, "startup:app", *MODES[mode], "--port", str(port))
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"vivace: cannot listen on 127.0.0.1:{port}: "), err
    assert "Address already in use" in last and "Traceback" not in err


def test_a_bad_host_is_a_startup_failure(folder: Path) -> None:
    proc = start(folder, "startup:app", "--host", "256.1.1.1")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert err.strip().splitlines()[-1].startswith("vivace: cannot listen on 256.1.1.1:0: ")


def test_a_worker_that_dies_without_a_report(folder: Path) -> None:
    (folder / "vanishes.py").write_text("import os\n\nos._exit(7)\n")
    proc = start(folder, "vanishes:app", "--workers", "2")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert re.fullmatch(
        r"vivace: worker \d+ exited with status 7 before serving", err.strip().splitlines()[-1]
    ), err


def test_a_replacement_worker_that_cannot_start_is_reported_once(tmp_path: Path) -> None:
    app = tmp_path / "flaky.py"
    good = "import os\n\n\nasync def app(scope, receive, send):\n    pass\n"
    app.write_text(good)
    proc = start(tmp_path, "flaky:app", "--workers", "2", "--lifespan", "off")
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                match = re.search(pattern, lines.get(timeout=1))
            except queue.Empty:
                continue
            if match:
                return match
        raise AssertionError(f"no {pattern!r} in:\n{''.join(log)}")

    try:
        pid = int(wait_for(r"worker (\d+) serving").group(1))
        wait_for(r"worker \d+ serving")
        app.write_text("def broken(:\n")
        os.kill(pid, signal.SIGKILL)
        wait_for(r"a replacement worker could not start: could not import 'flaky:app': SyntaxError")
        wait_for(r"a replacement worker could not start: could not import 'flaky:app': SyntaxError")
        app.write_text(good + "\n")
        wait_for(r"worker \d+ serving")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        reader.join(10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    text = "".join(log)
    assert text.count("def broken(:") == 1, text  # the traceback once, then the line only
    assert proc.returncode == 0, text
