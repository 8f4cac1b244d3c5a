"""TLS: verification against a CA bundle, failures as ConnectError, verify=False, client
certificates, cached contexts. Certificates come from a throwaway trustme CA."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
import trustme

from vivace.client import Client, ConnectError
from vivace.client._network import HTTPTransport
from vivace.client._tls import ssl_context

from .servers import raw_server, read_request


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while (await read_request(reader))[0]:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure")
        await writer.drain()


async def test_verified_against_ca_bundle(ca: trustme.CA, ca_file: str) -> None:
    async with raw_server(hello, server_context(ca)) as url, Client(verify=ca_file) as client:
        assert (await client.get(url)).text == "secure"
        assert (await client.get(url)).text == "secure"
        assert client.transport.pool.connection_count == 1  # type: ignore[attr-defined]
    async with raw_server(hello, server_context(ca)) as url:
        localhost = url.replace("127.0.0.1", "localhost")
        async with Client(verify=Path(ca_file)) as client:
            assert (await client.get(localhost)).text == "secure"


async def test_untrusted_certificate_fails(ca: trustme.CA) -> None:
    async with raw_server(hello, server_context(ca)) as url, Client() as client:
        with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(url)
        assert client.transport.pool.connection_count == 0  # type: ignore[attr-defined]


async def test_hostname_mismatch_fails(ca: trustme.CA, ca_file: str) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("other.example").configure_cert(context)
    async with raw_server(hello, context) as url, Client(verify=ca_file) as client:
        with pytest.raises(ConnectError):
            await client.get(url)


async def test_verify_false(ca: trustme.CA) -> None:
    async with raw_server(hello, server_context(ca)) as url, Client(verify=False) as client:
        assert (await client.get(url)).text == "secure"


async def test_client_certificate(ca: trustme.CA, ca_file: str, tmp_path: Path) -> None:
    pem = tmp_path / "client.pem"
    ca.issue_cert("client@example").private_key_and_cert_chain_pem.write_to_path(str(pem))
    context = server_context(ca, require_client_cert=True)
    async with raw_server(hello, context) as url:
        async with Client(verify=ca_file, cert=str(pem)) as client:
            assert (await client.get(url)).text == "secure"
        custom = ssl.create_default_context(cafile=ca_file)
        async with Client(transport=HTTPTransport(verify=custom, cert=(str(pem), str(pem)))) as c:
            assert (await c.get(url)).text == "secure"


def test_contexts_are_cached(tmp_path: Path, ca: trustme.CA) -> None:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ca_dir = tmp_path / "certs"
    ca_dir.mkdir()
    assert ssl_context(True) is ssl_context(True)
    assert ssl_context(str(tmp_path / "ca.pem")) is ssl_context(str(tmp_path / "ca.pem"))
    assert ssl_context(str(ca_dir)).verify_mode == ssl.CERT_REQUIRED
    assert ssl_context(False) is not ssl_context(True)
    assert ssl_context(True).minimum_version == ssl.TLSVersion.TLSv1_2
