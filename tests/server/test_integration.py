"""A real server on 127.0.0.1 talked to by real clients: http.client, raw sockets, curl."""

from __future__ import annotations

import asyncio
import datetime
import http.client
import logging
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import DEADLINE, parse_responses, raw_request, serve, text_app
from vivace.server import Config, Server
from vivace.types import Receive, Scope, Send


def make_certificate(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost, made with ``cryptography``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(0.5)
    await text_app(scope, receive, send)


def test_http_client_keep_alive() -> None:
    with serve(text_app) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=DEADLINE)
        for _ in range(3):
            conn.request("GET", "/")
            response = conn.getresponse()
            assert response.status == 200 and response.read() == b"hello"
        conn.request("POST", "/", body=b"x" * 100_000)
        assert conn.getresponse().read() == b"x" * 100_000
        sock = conn.sock
        conn.request("GET", "/")
        conn.getresponse().read()
        assert conn.sock is sock  # the same connection all along
        conn.close()


def test_raw_socket_pipelining() -> None:
    with serve(slow_app) as server:
        data = raw_request(
            server.port,
            b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        assert [r.body for r in parse_responses(data)] == [b"hello", b"body", b"hello"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_chunked_upload_and_http10() -> None:
    with serve(text_app) as server:
        out = subprocess.run(
            ["curl", "-s", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-", server.url],
            input=b"streamed body",
            capture_output=True,
            timeout=DEADLINE,
            check=True,
        )
        assert out.stdout == b"streamed body"
        out = subprocess.run(
            ["curl", "-s", "-0", "-i", server.url],
            capture_output=True,
            timeout=DEADLINE,
            check=True,
        )
        assert out.stdout.startswith(b"HTTP/1.1 200 OK") and out.stdout.endswith(b"hello")
        assert b"connection: close" in out.stdout


def test_tls(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append(scope["scheme"])
        await text_app(scope, receive, send)

    with serve(app, ssl_certfile=cert, ssl_keyfile=key) as server:
        context = ssl.create_default_context(cafile=cert)
        conn = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=context, timeout=DEADLINE
        )
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"hello"
        conn.close()
    assert seen == ["https"]


def test_unix_domain_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "vivace.sock")
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append((scope["client"], scope["server"]))
        await text_app(scope, receive, send)

    with serve(app, uds=path), socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(DEADLINE)
        sock.connect(path)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.endswith(b"hello")
    assert seen == [(None, (path, None))]
    assert not Path(path).exists()


def test_fd_socket() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    with serve(text_app, fd=listener.fileno()):
        data = raw_request(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert data.endswith(b"hello")
    listener.detach()  # the server owned and closed the descriptor


def test_slowloris_gets_408() -> None:
    with serve(text_app, timeout_request_head=0.3) as server:
        started = time.monotonic()
        data = raw_request(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert data.startswith(b"HTTP/1.1 408 Request Timeout")
        assert time.monotonic() - started < 3


def test_keep_alive_idle_timeout() -> None:
    with (
        serve(text_app, timeout_keep_alive=0.3) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as sock,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        started = time.monotonic()
        while chunk := sock.recv(4096):
            data += chunk
        assert data.endswith(b"hello")  # then the server closed the idle connection
        assert time.monotonic() - started < 3


def test_graceful_shutdown_finishes_in_flight_requests() -> None:
    server = serve(slow_app, timeout_graceful_shutdown=5)
    with server as running:
        results: list[bytes] = []

        def client() -> None:
            results.append(raw_request(running.port, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"))

        threads = [threading.Thread(target=client) for _ in range(5)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + DEADLINE
        while running.server.state is None or running.server.state.active < 5:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        idle = socket.create_connection(("127.0.0.1", running.port))
        running.server.exit()
        for thread in threads:
            thread.join(DEADLINE)
        assert idle.recv(10) == b""  # idle connection closed without a response
        idle.close()
    assert len(results) == 5
    for data in results:
        assert data.endswith(b"hello") and b"connection: close" in data


def test_graceful_shutdown_timeout_cancels(caplog: pytest.LogCaptureFixture) -> None:
    started = threading.Event()

    async def stuck(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            started.set()
            await asyncio.sleep(60)

    with serve(stuck, timeout_graceful_shutdown=0.2) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(DEADLINE)
        server.server.exit()
        server.thread.join(DEADLINE)
        # Cancelled before it answered: a 500 and the connection closes.
        assert sock.recv(100).startswith(b"HTTP/1.1 500 Internal Server Error")
        sock.close()
    assert "graceful shutdown timed out" in caplog.text


def test_a_second_sigint_ends_the_grace_at_once_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = threading.Event()

    async def stuck(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            started.set()
            await asyncio.sleep(60)

    caplog.set_level(logging.INFO, logger="vivace.server")
    with serve(stuck, timeout_graceful_shutdown=30) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(DEADLINE)
        loop = server.server.state.loop
        loop.call_soon_threadsafe(server.server._on_signal, signal.SIGINT)
        time.sleep(0.2)  # inside the 30 s grace: the request is still running
        assert server.thread.is_alive()
        begun = time.monotonic()
        loop.call_soon_threadsafe(server.server._on_signal, signal.SIGINT)
        server.thread.join(DEADLINE)
        assert not server.thread.is_alive()
        assert time.monotonic() - begun < 5  # not the 30 s of the grace
        assert sock.recv(100).startswith(b"HTTP/1.1 500 Internal Server Error")
        sock.close()
    assert "received SIGINT: shutting down" in caplog.text
    assert "received SIGINT again: closing every connection now" in caplog.text
    assert "second interrupt: cancelling 1 connection(s) still busy" in caplog.text
    assert "timed out" not in caplog.text


def test_limit_max_requests_stops_server() -> None:
    server = serve(text_app, limit_max_requests=2)
    with server as running:
        for _ in range(2):
            raw_request(running.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        running.thread.join(DEADLINE)
        assert not running.thread.is_alive()


def test_lifespan_state_reaches_requests() -> None:
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    scope["state"]["pool"] = "ready"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        seen.append(dict(scope["state"]))
        scope["state"]["mutated"] = True  # a shallow copy: later requests do not see it
        await text_app(scope, receive, send)

    with serve(app) as server:
        for _ in range(2):
            raw_request(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert seen == [{"pool": "ready"}, {"pool": "ready"}]


def test_startup_failure_raises_and_releases_port() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    config = Config(app, port=0, log_level="critical")
    from vivace.server import LifespanFailure

    with pytest.raises(LifespanFailure, match="no database"):
        Server(config).run()


def test_asyncio_loop_and_sendfile(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"z" * 3_000_000)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.pathsend", "path": str(path)})

    for loop in ("asyncio", "uvloop"):
        with serve(app, loop=loop) as server:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=DEADLINE)
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"z" * 3_000_000
            conn.close()


def test_large_streaming_response_with_flow_control() -> None:
    chunk = b"y" * 65536

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200})
        for _ in range(100):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body"})

    with serve(app) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while part := sock.recv(1 << 20):
                data += part
        assert parse_responses(data)[0].body == chunk * 100
