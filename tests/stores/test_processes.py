"""incr, compare-and-set and add are atomic across processes, on every shared backend:
several processes hammer the same keys at once and not one update is lost."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stores.conftest import SHARED, drop_store, make_store, store_url

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3
ROUNDS = 24  # per process; a multiple of the worker's 4 tasks


def _start(backend: str, url: str, name: str) -> subprocess.Popen[str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.stores.worker", backend, url, name, str(ROUNDS)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_workers(backend: str, url: str, name: str) -> None:
    procs = [_start(backend, url, name) for _ in range(PROCESSES)]
    try:
        for proc in procs:  # every worker connected before any starts
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", (
                proc.stderr.read() if proc.stderr else ""
            )
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            out, err = proc.communicate(timeout=45)
            assert proc.returncode == 0 and out.strip() == "done", err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("backend", SHARED)
async def test_no_update_is_lost_across_processes(backend: str, tmp_path: Path) -> None:
    store, name = await make_store(backend, tmp_path)
    try:
        url = store_url(backend, tmp_path)
        await asyncio.get_running_loop().run_in_executor(None, _run_workers, backend, url, name)
        total = PROCESSES * ROUNDS
        assert await store.get_many(["counter", "cas", "winners"]) == [
            b"%d" % total,
            b"%d" % total,
            b"1",
        ]
    finally:
        await drop_store(store, backend, name)
