"""The docs UIs' packaged files: what is shipped, and how it is served (gzip as stored,
decompressed for a client that takes no gzip, validators, caching, methods)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.resources
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vivace.client import Client
from vivace.testing import TestClient
from vivace.web import App
from vivace.web.middleware import CompressionMiddleware, Middleware
from vivace.web.openapi import _assets, docs_routes
from vivace.web.openapi._assets import Asset, asset_manifest

ROOT = Path(__file__).resolve().parents[3]
ASSETS = Path(str(importlib.resources.files("vivace.web.openapi") / "assets"))
PINS = json.loads((ROOT / "scripts" / "docs-assets.json").read_text())
BUNDLE = "/docs/swagger-ui-bundle.js"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def http(**options: Any) -> TestClient:
    return TestClient(App(routes=docs_routes(), **options))


@dataclasses.dataclass
class Raw:
    """A response as it came, its body not decoded by the client."""

    status_code: int
    headers: dict[str, str]
    content: bytes


def raw(client: TestClient, path: str, method: str = "GET", **headers: str) -> Raw:
    with client.stream(method, path, headers=headers) as response:
        body = b"".join(response.iter_raw())
        return Raw(response.status_code, dict(response.headers.items()), body)


def test_shipped_files_match_the_pins() -> None:
    manifest = asset_manifest()
    pinned = {
        f"{ui}/{name}": entry["sha256"]
        for ui, pin in PINS.items()
        if not ui.startswith("_")
        for name, entry in pin["files"].items()
    }
    assert {key: entry["sha256"] for key, entry in manifest["files"].items()} == pinned
    for key, entry in manifest["files"].items():
        stored = (ASSETS / (key + ".gz" if entry["gzip"] else key)).read_bytes()
        data = gzip.decompress(stored) if entry["gzip"] else stored
        assert sha256(data) == entry["sha256"], key
        assert len(data) == entry["size"], key


def test_docs_assets_check_passes() -> None:
    # The script's own check (no network): the folder is exactly what it writes.
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "docs-assets"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "match" in done.stdout


def test_licences_are_recorded() -> None:
    text = (ASSETS / "LICENSES.md").read_text()
    for pin in (p for key, p in PINS.items() if not key.startswith("_")):
        assert f"## {pin['package']} {pin['version']}" in text
        assert pin["license"] in text and pin["tarball_sha256"] in text
    # Apache-2.0 section 4(d): the NOTICE goes with the files.
    assert "Copyright 2020-2021 SmartBear Software Inc." in text
    assert "Copyright (c) 2023-present Scalar" in text
    assert "Copyright (c) 2015-present, Rebilly, Inc." in text


def test_gzip_goes_out_as_stored() -> None:
    stored = (ASSETS / "swagger-ui" / "swagger-ui-bundle.js.gz").read_bytes()
    with http() as client:
        response = raw(client, BUNDLE, **{"accept-encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.content == stored
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-length"] == str(len(stored))
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["vary"] == "accept-encoding"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["etag"].endswith('-gzip"')


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br", "gzip;q=nan", "*;q=0"])
def test_identity_for_a_client_without_gzip(accept: str | None) -> None:
    headers = {} if accept is None else {"accept-encoding": accept}
    with http() as client:
        # (The test client asks for gzip unless told otherwise: "" sends no header.)
        first = raw(client, BUNDLE, **{"accept-encoding": "", **headers})
        again = raw(client, BUNDLE, **{"accept-encoding": "", **headers})
    assert first.status_code == 200
    assert "content-encoding" not in first.headers
    assert (
        sha256(first.content)
        == asset_manifest()["files"]["swagger-ui/swagger-ui-bundle.js"]["sha256"]
    )
    assert again.content == first.content
    assert first.headers["etag"] != raw_gzip_etag()
    assert first.headers["vary"] == "accept-encoding"


def raw_gzip_etag() -> str:
    return Asset("swagger-ui/swagger-ui-bundle.js").gzip_etag


def test_versioned_urls_are_cached_for_good_others_revalidate() -> None:
    version = Asset("swagger-ui/swagger-ui-bundle.js").version
    with http() as client:
        current = raw(client, f"{BUNDLE}?v={version}")
        old = raw(client, f"{BUNDLE}?v=000000000000")
        bare = raw(client, BUNDLE)
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert old.headers["cache-control"] == "no-cache"
    assert bare.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_if_none_match(encoding: str) -> None:
    with http() as client:
        first = raw(client, BUNDLE, **{"accept-encoding": encoding})
        etag = first.headers["etag"]
        for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            again = raw(client, BUNDLE, **{"accept-encoding": encoding, "if-none-match": value})
            assert again.status_code == 304, value
            assert again.content == b""
            assert again.headers["etag"] == etag
            assert "content-length" not in again.headers
        other = raw(client, BUNDLE, **{"accept-encoding": encoding, "if-none-match": '"x"'})
        assert other.status_code == 200


def test_the_other_representations_etag_does_not_match() -> None:
    asset = Asset("swagger-ui/swagger-ui-bundle.js")
    with http() as client:
        response = raw(client, BUNDLE, **{"accept-encoding": "gzip", "if-none-match": asset.etag})
    assert response.status_code == 200


def test_head_sends_the_headers_only() -> None:
    with http() as client:
        head = raw(client, BUNDLE, "HEAD", **{"accept-encoding": "gzip"})
        get = raw(client, BUNDLE, **{"accept-encoding": "gzip"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers == get.headers


def test_a_file_stored_as_is_has_one_representation() -> None:
    with http() as client:
        response = raw(client, "/docs/oauth2-redirect.js", **{"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers and "vary" not in response.headers
    assert sha256(response.content) == PINS["swagger-ui"]["files"]["oauth2-redirect.js"]["sha256"]


def test_compression_middleware_leaves_the_gzip_alone() -> None:
    stored = (ASSETS / "scalar" / "standalone.js.gz").read_bytes()
    with http(middleware=[Middleware(CompressionMiddleware)]) as client:
        response = raw(client, "/scalar/standalone.js", **{"accept-encoding": "gzip, br"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == stored


def test_every_asset_of_every_ui_is_served() -> None:
    routes = docs_routes()
    pages = {"swagger_ui", "redoc", "scalar"}
    paths = [r.path for r in routes if r.name not in pages]  # type: ignore[attr-defined]
    assert len(paths) == len(asset_manifest()["files"]) == 6
    with http() as client:
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.content, path


def test_unknown_asset() -> None:
    with pytest.raises(LookupError, match=r"no docs asset 'swagger-ui/nope\.js'"):
        Asset("swagger-ui/nope.js")


def test_a_package_missing_its_assets_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "manifest.json").write_bytes((ASSETS / "manifest.json").read_bytes())
    monkeypatch.setattr(_assets, "_folder", lambda: tmp_path / "assets")
    asset_manifest.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="missing from the installed package"):
            docs_routes()
    finally:
        asset_manifest.cache_clear()


async def test_served_by_a_real_server() -> None:
    # Over the network, from vivace.server, as a browser asks for it.
    from tests.server.conftest import serve

    stored = (ASSETS / "redoc" / "redoc.standalone.js.gz").read_bytes()
    with serve(App(routes=docs_routes())) as server:
        async with Client(timeout=20) as client:
            response = await client.get(
                server.url + "/redoc/redoc.standalone.js",
                headers={"accept-encoding": "gzip, deflate, br, zstd"},
            )
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert (
        sha256(response.content) == asset_manifest()["files"]["redoc/redoc.standalone.js"]["sha256"]
    )
    assert len(stored) < 0.3 * len(response.content)


def test_assets_folder_is_plain_data() -> None:
    # Only the files the script writes; nothing executable or importable sneaks in.
    files = sorted(
        str(p.relative_to(ASSETS)).replace(os.sep, "/") for p in ASSETS.rglob("*") if p.is_file()
    )
    shipped = [key + (".gz" if e["gzip"] else "") for key, e in asset_manifest()["files"].items()]
    assert files == sorted(["LICENSES.md", "manifest.json", *shipped])
