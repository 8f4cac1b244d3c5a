"""docs/tutorial.md, followed as a newcomer would: in an empty folder, in page order.

A block ``python file=NAME`` (or ``html file=NAME``) is written to NAME; ``sh run`` runs
each of its lines, which must succeed; ``sh serve=URL`` starts its command as a server,
waits for URL to answer 200, then stops it with SIGTERM, which must end it cleanly. The
server gets a free port instead of the page's 8000. A plain ``sh`` block (installing) is
shown only: the suite's own environment has vivace installed.
"""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from .test_docs import DOCS, blocks, project_environment, run_commands, write_file_block

pytestmark = pytest.mark.slow
PAGE = DOCS / "tutorial.md"


def environment() -> dict[str, str]:
    env = project_environment()
    for name in ("NOTES_DATABASE_URL", "NOTES_BROADCAST_URL"):
        env.pop(name, None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def serve(command: str, url: str, folder: Path, env: dict[str, str]) -> None:
    port = free_port()
    url = url.replace(":8000", f":{port}")
    proc = subprocess.Popen(
        [*shlex.split(command), "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                _, err = proc.communicate(timeout=10)
                pytest.fail(f"{command!r} did not serve {url}: {err.decode()}")
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, f"{command!r} exited with {proc.returncode}: {err.decode()}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_tutorial(tmp_path: Path) -> None:
    env = environment()
    done: dict[str, int] = {"file": 0, "run": 0, "serve": 0, "shown": 0}
    for info, code, line in blocks(PAGE):
        _, _, option = info.partition(" ")
        if option.startswith("file="):
            write_file_block(option, code, tmp_path)
            done["file"] += 1
        elif info == "sh run":
            run_commands(code, tmp_path, env, f"tutorial.md:{line}")
            done["run"] += 1
        elif option.startswith("serve="):
            serve(code.strip(), option.removeprefix("serve="), tmp_path, env)
            done["serve"] += 1
        else:
            assert info == "sh", f"tutorial.md:{line}: a block of unknown kind {info!r}"
            done["shown"] += 1
    assert done == {"file": 4, "run": 1, "serve": 2, "shown": 1}


def test_every_block_kind_is_known() -> None:
    kinds = {re.sub(r"=.*", "=", info) for info, _, _ in blocks(PAGE)}
    assert kinds <= {"sh", "sh run", "sh serve=", "python file=", "html file="}
