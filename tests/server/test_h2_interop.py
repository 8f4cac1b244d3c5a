"""HTTP/2 server against third-party clients: curl, nghttp, h2load, Node's http2 module and
headless Chromium, over h2c (prior knowledge and Upgrade) and TLS (ALPN, a trustme CA).

The tools come from Debian (nghttp2-client, curl, nodejs, chromium); ``scripts/test``
installs what is missing when it may, otherwise the test that needs one is skipped and says
which.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import serve
from vivace.types import Receive, Scope, Send

DEADLINE = 30


def need(tool: str) -> Any:
    return pytest.mark.skipif(
        shutil.which(tool) is None,
        reason=f"{tool} is not installed (scripts/test installs it with apt-get)",
    )


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Echoes the method, version and body; /trailers adds a trailer; /page is HTML."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "from lifespan"
                await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/page":
        html = b"<!doctype html><title>h2</title><p id=p>over h2</p>"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html")],
            }
        )
        await send({"type": "http.response.body", "body": html})
        return
    trailers = scope["path"] == "/trailers"
    text = f"{scope['method']} {scope['http_version']} {len(body)} {scope['state'].get('greeting')}"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
            "trailers": trailers,
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})
    if trailers:
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"42")]})


def run(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, timeout=DEADLINE, input=input, check=False)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {name: folder / f"{name}.pem" for name in ("cert", "key", "ca")}
    cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    ca.cert_pem.write_to_path(str(files["ca"]))
    leaf = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes())
    spki = leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return {
        **{k: str(v) for k, v in files.items()},
        "spki": base64.b64encode(hashlib.sha256(spki).digest()).decode(),
    }


@need("curl")
def test_curl_prior_knowledge_and_lifespan_state() -> None:
    with serve(app) as server:
        out = run("curl", "-sS", "--http2-prior-knowledge", "-d", "abc", server.url + "/x")
        assert out.stdout == b"POST 2 3 from lifespan", out.stderr


@need("curl")
def test_curl_upgrade() -> None:
    with serve(app) as server:
        out = run("curl", "-sS", "--http2", "-w", " %{http_version}", server.url + "/x")
        assert out.stdout == b"GET 2 0 from lifespan 2", out.stderr


@need("curl")
def test_curl_tls_alpn(tls: dict[str, Any]) -> None:
    with serve(app, ssl_certfile=tls["cert"], ssl_keyfile=tls["key"]) as server:
        url = f"https://127.0.0.1:{server.port}/x"
        out = run("curl", "-sS", "--http2", "--cacert", tls["ca"], "-w", " %{http_version}", url)
        assert out.stdout == b"GET 2 0 from lifespan 2", out.stderr
        out = run("curl", "-sS", "--http1.1", "--cacert", tls["ca"], url)
        assert out.stdout == b"GET 1.1 0 from lifespan", out.stderr


@need("curl")
def test_http_2_only_refuses_http11(tls: dict[str, Any]) -> None:
    with serve(app, http="2", ssl_certfile=tls["cert"], ssl_keyfile=tls["key"]) as server:
        url = f"https://127.0.0.1:{server.port}/x"
        out = run("curl", "-sS", "--http2", "--cacert", tls["ca"], url)
        assert out.stdout == b"GET 2 0 from lifespan"
        out = run("curl", "-sS", "--http1.1", "--cacert", tls["ca"], url)
        assert out.returncode != 0  # no ALPN protocol in common
    with serve(app, http="2") as server:
        out = run("curl", "-sS", "--http2-prior-knowledge", server.url + "/x")
        assert out.stdout == b"GET 2 0 from lifespan"


@need("nghttp")
@pytest.mark.parametrize("upgrade", [False, True], ids=["prior-knowledge", "upgrade"])
def test_nghttp(upgrade: bool) -> None:
    with serve(app) as server:
        args = ["nghttp", "-v", "--no-dep"] + (["-u"] if upgrade else [])
        out = run(*args, server.url + "/trailers")
        text = out.stdout.decode()
        assert out.returncode == 0, text
        assert "GET 2 0 from lifespan" in text
        assert "x-checksum: 42" in text
        assert "recv SETTINGS frame" in text and "recv GOAWAY" not in text


@need("h2load")
def test_h2load_all_requests_succeed() -> None:
    with serve(app) as server:
        out = run("h2load", "-n", "3000", "-c", "8", "-m", "10", server.url + "/x")
        text = out.stdout.decode()
        assert "3000 succeeded, 0 failed, 0 errored" in text, text
        assert "3000 2xx" in text


@need("h2load")
def test_h2load_tls(tls: dict[str, Any]) -> None:
    with serve(app, ssl_certfile=tls["cert"], ssl_keyfile=tls["key"]) as server:
        url = f"https://127.0.0.1:{server.port}/x"
        out = run("h2load", "-n", "500", "-c", "4", "-m", "10", url)
        text = out.stdout.decode()
        assert "Application protocol: h2" in text and "500 succeeded" in text, text


NODE_CLIENT = r"""
const http2 = require('http2');
const [url, ca] = process.argv.slice(2);
const session = http2.connect(url, ca ? {ca: require('fs').readFileSync(ca)} : {});
session.on('error', (e) => { console.error(e); process.exit(2); });
const results = [];
let pending = 0;
function request(headers, body) {
  pending++;
  const req = session.request(headers, {waitForTrailers: false});
  let data = '', trailers = {};
  req.setEncoding('utf8');
  req.on('response', (h) => { results.push({status: h[':status']}); });
  req.on('data', (c) => { data += c; });
  req.on('trailers', (t) => { trailers = t; });
  req.on('end', () => {
    results.push({data, trailer: trailers['x-checksum'] || null});
    if (--pending === 0) { console.log(JSON.stringify(results)); session.close(); }
  });
  if (body) req.end(body); else req.end();
}
request({':path': '/a'});
request({':path': '/trailers'});
request({':path': '/up', ':method': 'POST'}, Buffer.alloc(300000, 120));
"""


@need("node")
@pytest.mark.parametrize("secure", [False, True], ids=["h2c", "tls"])
def test_node_http2_client(tmp_path: Path, tls: dict[str, Any], secure: bool) -> None:
    import json

    script = tmp_path / "client.js"
    script.write_text(NODE_CLIENT)
    options = {"ssl_certfile": tls["cert"], "ssl_keyfile": tls["key"]} if secure else {}
    with serve(app, **options) as server:
        out = run("node", str(script), server.url, tls["ca"] if secure else "")
        assert out.returncode == 0, out.stderr.decode()
        results = json.loads(out.stdout)
        bodies = sorted(r["data"] for r in results if "data" in r)
        assert bodies == [
            "GET 2 0 from lifespan",
            "GET 2 0 from lifespan",
            "POST 2 300000 from lifespan",
        ]
        assert [r["trailer"] for r in results if "trailer" in r].count("42") == 1


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (apt-get install -y chromium, or run scripts/test)",
)
async def test_chromium_loads_a_page_over_h2(tmp_path: Path, tls: dict[str, Any]) -> None:
    from tests.examples.cdp import browser

    options = {"ssl_certfile": tls["cert"], "ssl_keyfile": tls["key"]}
    with serve(app, **options) as server:
        url = f"https://127.0.0.1:{server.port}/page"
        # The browser trusts exactly the test certificate (its public key's hash).
        flags = [f"--ignore-certificate-errors-spki-list={tls['spki']}"]
        async with browser(tmp_path / "profile", flags) as devtools:
            page = await devtools.open(url)
            await page.wait_for("document.getElementById('p').textContent === 'over h2'")
            protocol = await page.evaluate(
                "performance.getEntriesByType('navigation')[0].nextHopProtocol"
            )
            assert protocol == "h2"
        await asyncio.sleep(0)


NODE_WEBSOCKET = r"""
// An RFC 8441 WebSocket client: extended CONNECT, then RFC 6455 frames (masked) on the stream.
const http2 = require('http2');
const session = http2.connect(process.argv[2]);
session.on('error', (e) => { console.error(e); process.exit(2); });
function frame(opcode, payload) {
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}
session.on('remoteSettings', (settings) => {
  if (!settings.enableConnectProtocol) { console.log('no extended CONNECT'); process.exit(3); }
  const stream = session.request({':method': 'CONNECT', ':protocol': 'websocket',
    ':path': '/ws', ':scheme': 'http', 'sec-websocket-version': '13'});
  const got = [];
  stream.on('response', (headers) => {
    got.push('status ' + headers[':status']);
    stream.write(frame(1, [...Buffer.from('ping over h2')]));
  });
  let buffer = Buffer.alloc(0);
  stream.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 2 && buffer.length >= 2 + (buffer[1] & 0x7f)) {
      const opcode = buffer[0] & 0x0f, length = buffer[1] & 0x7f;
      const payload = buffer.subarray(2, 2 + length);
      buffer = buffer.subarray(2 + length);
      if (opcode === 1) {
        got.push('text ' + payload.toString());
        stream.write(frame(8, [0x03, 0xe8]));  // close, 1000
      } else if (opcode === 8) {
        got.push('close ' + payload.readUInt16BE(0));
        stream.end();
      }
    }
  });
  stream.on('close', () => { console.log(JSON.stringify(got)); session.close(); });
});
"""


async def ws_echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        await send(
            {"type": "websocket.send", "text": f"{scope['http_version']}: {message['text']}"}
        )


@need("node")
def test_node_rfc8441_websocket_client(tmp_path: Path) -> None:
    import json

    script = tmp_path / "ws.js"
    script.write_text(NODE_WEBSOCKET)
    with serve(ws_echo) as server:
        out = run("node", str(script), server.url)
        assert out.returncode == 0, out.stderr.decode()
        assert json.loads(out.stdout) == ["status 200", "text 2: ping over h2", "close 1000"]
