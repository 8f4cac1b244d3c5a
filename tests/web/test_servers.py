"""Integration: one vivace.web app served by vivace.server, uvicorn, granian and hypercorn.

Each server runs in its own process on 127.0.0.1 (a socket bound to port 0 handed over by
file descriptor) or on a Unix socket in a temporary directory (granian, which takes no
descriptor); requests go over real sockets with ``http.client``.
"""

from __future__ import annotations

import gzip
import http.client
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
TESTS = Path(__file__).resolve().parent
TARGET = "interop_app:app"


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], address: tuple[str, int] | str) -> None:
        self.proc = proc
        self.address = address

    def connection(self) -> http.client.HTTPConnection:
        if isinstance(self.address, str):
            return UnixConnection(self.address)
        return http.client.HTTPConnection(*self.address, timeout=10)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _start(name: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], tuple[str, int] | str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    sock = None
    if name == "granian":
        path = str(tmp_path / f"granian-{uuid.uuid4().hex[:8]}.sock")
        cmd = [
            str(BIN / "granian"),
            "--interface",
            "asgi",
            "--uds",
            path,
            "--workers",
            "1",
            "--log-level",
            "warning",
            TARGET,
        ]
        address: tuple[str, int] | str = path
        proc = subprocess.Popen(
            cmd, env=env, cwd=TESTS, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        return proc, address, sock
    sock = _bound_socket()
    fd = sock.fileno()
    address = sock.getsockname()
    if name == "uvicorn":
        cmd = [str(BIN / "uvicorn"), TARGET, "--fd", str(fd), "--log-level", "warning"]
    elif name == "hypercorn":
        cmd = [str(BIN / "hypercorn"), TARGET, "--bind", f"fd://{fd}", "--log-level", "warning"]
    else:
        cmd = [str(BIN / "vivace"), "run", TARGET, "--fd", str(fd), "--log-level", "warning"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=TESTS, pass_fds=[fd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return proc, address, sock


SERVERS = ["vivace", "uvicorn", "granian", "hypercorn"]


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    proc, address, sock = _start(request.param, tmp_path)
    served = Server(proc, address)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"{request.param} exited with {proc.returncode}: {err}")
            try:
                if served.request("GET", "/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{request.param} did not start within 30 s")
            time.sleep(0.1)
        yield served
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
        if sock is not None:
            sock.close()


def test_app_on_server(server: Server) -> None:
    status, headers, body = server.request("GET", "/")
    assert (status, body) == (200, b"Hello, World!")
    assert headers["content-type"] == "text/plain; charset=utf-8"

    status, _, body = server.request("GET", "/items/42?q=x")
    assert status == 200 and orjson.loads(body) == {"id": 42, "q": "x"}

    payload = {"a": [1, 2, 3], "b": "é"}
    status, _, body = server.request(
        "POST", "/echo", orjson.dumps(payload), {"content-type": "application/json"}
    )
    assert status == 200 and orjson.loads(body) == payload

    status, _, body = server.request(
        "POST", "/echo", b"{broken", {"content-type": "application/json"}
    )
    assert status == 400 and b"malformed JSON" in body

    boundary = "vivaceInterop"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nada\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n{'x' * 100000}\r\n--{boundary}--\r\n"
    ).encode()
    status, _, body = server.request(
        "POST", "/form", form, {"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert status == 200 and orjson.loads(body) == {
        "name": "ada",
        "file": "x" * 100000,
        "size": 100000,
    }

    status, headers, body = server.request("GET", "/events")
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert body == b"data: event 0\n\ndata: event 1\n\ndata: event 2\n\n"

    status, _, body = server.request("GET", "/state")
    assert orjson.loads(body) == {"started": "yes"}

    status, headers, _ = server.request("GET", "/counter")
    cookie = headers["set-cookie"].split(";")[0]
    status, _, body = server.request("GET", "/counter", headers={"cookie": cookie})
    assert orjson.loads(body) == {"n": 2}

    status, headers, body = server.request("GET", "/big", headers={"accept-encoding": "gzip"})
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == b"compress me " * 1000

    status, headers, body = server.request("GET", "/file")
    assert status == 200 and body == b"static hello\n" * 100
    status, headers, body = server.request(
        "GET", "/static/hello.txt", headers={"range": "bytes=0-5"}
    )
    assert status == 206 and body == b"static"
    etag = headers["etag"]
    status, _, body = server.request("GET", "/static/hello.txt", headers={"if-none-match": etag})
    assert status == 304 and body == b""
    status, _, _ = server.request("GET", "/static/../interop_app.py")
    assert status == 404
    status, headers, body = server.request("HEAD", "/")
    assert status == 200 and body == b""
    status, headers, _ = server.request("DELETE", "/")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert server.request("GET", "/nope")[0] == 404
