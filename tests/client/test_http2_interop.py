"""vivace.client over HTTP/2 against third-party servers: nghttpd (nghttp2's server) and
h2o, over h2c with prior knowledge and TLS with ALPN (a trustme CA). Debian packages
nghttp2-server and h2o, installed by ``scripts/test``; skipped with the reason otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from vivace.client import Client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    async with asyncio.timeout(10):
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            return


@contextlib.contextmanager
def running(args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import trustme

    root = tmp_path_factory.mktemp("site")
    docs = root / "docs"
    docs.mkdir()
    (docs / "small.txt").write_bytes(b"hello over h2")
    (docs / "large.bin").write_bytes(bytes(range(256)) * 20_000)  # 5 MB
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    paths = {"docs": str(docs)}
    for name in ("cert", "key", "ca"):
        paths[name] = str(root / f"{name}.pem")
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    ca.cert_pem.write_to_path(paths["ca"])
    return paths


async def exercise(client: Client, base: str) -> None:
    r = await client.get(base + "/small.txt")
    assert (r.status_code, r.http_version, r.content) == (200, "HTTP/2", b"hello over h2")
    responses = await asyncio.gather(*(client.get(base + "/small.txt") for _ in range(100)))
    assert {x.content for x in responses} == {b"hello over h2"}
    r = await client.get(base + "/large.bin")
    assert r.content == bytes(range(256)) * 20_000
    assert (await client.get(base + "/missing")).status_code == 404


@pytest.fixture
async def nghttpd(site: dict[str, str]) -> AsyncIterator[tuple[int, int]]:
    if shutil.which("nghttpd") is None:
        pytest.skip("nghttpd is not installed (apt-get install nghttp2-server; scripts/test)")
    plain, tls = free_port(), free_port()
    with (
        running(["nghttpd", "--no-tls", "-d", site["docs"], str(plain)]) as one,
        running(["nghttpd", "-d", site["docs"], str(tls), site["key"], site["cert"]]) as two,
    ):
        await wait_listening(plain, one)
        await wait_listening(tls, two)
        yield plain, tls


async def test_nghttpd_h2c(nghttpd: tuple[int, int]) -> None:
    async with Client(http1=False, http2=True, timeout=10) as client:
        await exercise(client, f"http://127.0.0.1:{nghttpd[0]}")


async def test_nghttpd_tls(nghttpd: tuple[int, int], site: dict[str, str]) -> None:
    async with Client(http2=True, verify=site["ca"], timeout=10) as client:
        await exercise(client, f"https://127.0.0.1:{nghttpd[1]}")


H2O_CONFIG = """user: root
error-log: {log}
hosts:
  default:
    listen:
      port: {plain}
      host: 127.0.0.1
    paths:
      /:
        file.dir: {docs}
  tls:
    listen:
      port: {tls}
      host: 127.0.0.1
      ssl:
        certificate-file: {cert}
        key-file: {key}
    paths:
      /:
        file.dir: {docs}
"""


@pytest.fixture
async def h2o(site: dict[str, str], tmp_path: Path) -> AsyncIterator[tuple[int, int]]:
    if shutil.which("h2o") is None:
        pytest.skip("h2o is not installed (apt-get install h2o; scripts/test)")
    plain, tls = free_port(), free_port()
    config = tmp_path / "h2o.conf"
    config.write_text(H2O_CONFIG.format(log=tmp_path / "error.log", plain=plain, tls=tls, **site))
    with running(["h2o", "-c", str(config)]) as proc:
        await wait_listening(plain, proc)
        await wait_listening(tls, proc)
        yield plain, tls


async def test_h2o_h2c(h2o: tuple[int, int]) -> None:
    async with Client(http1=False, http2=True, timeout=10) as client:
        await exercise(client, f"http://127.0.0.1:{h2o[0]}")


async def test_h2o_tls(h2o: tuple[int, int], site: dict[str, str]) -> None:
    async with Client(http2=True, verify=site["ca"], timeout=10) as client:
        await exercise(client, f"https://127.0.0.1:{h2o[1]}")
