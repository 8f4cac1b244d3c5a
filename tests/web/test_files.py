"""FileResponse (validators, 304/412, ranges, pathsend) and StaticFiles (traversal, HTML)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from vivace.http import format_http_date
from vivace.testing import TestClient
from vivace.types import Message
from vivace.web import App, FileResponse, Mount, Request, Route, StaticFiles
from vivace.web._fileresponse import parse_range_header

DATA = bytes(range(256)) * 1000  # 256,000 bytes: several read chunks


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    return path


def file_client(path: Path, **kwargs: Any) -> TestClient:
    async def handler(request: Request) -> FileResponse:
        return FileResponse(path, **kwargs)

    return TestClient(App(routes=[Route("/f", handler, methods=["GET", "HEAD", "POST"])]))


def test_full_file_and_validators(data_file: Path) -> None:
    c = file_client(data_file)
    r = c.get("/f")
    assert r.status_code == 200 and r.content == DATA
    assert r.headers["content-length"] == str(len(DATA))
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["last-modified"] == format_http_date(1_700_000_000)
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    h = c.head("/f")
    assert h.content == b"" and h.headers["content-length"] == str(len(DATA))


def test_small_file_media_type_and_disposition(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<p>hi</p>")
    r = file_client(path, filename='résumé "v2".html').get("/f")
    assert r.text == "<p>hi</p>" and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-disposition"] == (
        'attachment; filename="r?sum? \\"v2\\".html"; '
        "filename*=utf-8''r%C3%A9sum%C3%A9%20%22v2%22.html"
    )
    r = file_client(path, filename="a.txt", content_disposition_type="inline").get("/f")
    assert r.headers["content-disposition"] == 'inline; filename="a.txt"'


def test_conditional_requests(data_file: Path) -> None:
    c = file_client(data_file)
    etag = c.get("/f").headers["etag"]
    last_modified = format_http_date(1_700_000_000)
    r = c.get("/f", headers={"if-none-match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert "content-length" not in r.headers
    assert c.get("/f", headers={"if-none-match": f'"other", W/{etag}'}).status_code == 304
    assert c.get("/f", headers={"if-none-match": "*"}).status_code == 304
    assert c.get("/f", headers={"if-none-match": '"other"'}).status_code == 200
    assert c.post("/f", headers={"if-none-match": etag}).status_code == 412
    assert c.get("/f", headers={"if-modified-since": last_modified}).status_code == 304
    older = format_http_date(1_600_000_000)
    assert c.get("/f", headers={"if-modified-since": older}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 section 13.1.3).
    r = c.get("/f", headers={"if-none-match": '"x"', "if-modified-since": last_modified})
    assert r.status_code == 200
    assert c.get("/f", headers={"if-modified-since": "garbage"}).status_code == 200
    assert c.get("/f", headers={"if-match": etag}).status_code == 200
    assert c.get("/f", headers={"if-match": '"other"'}).status_code == 412
    assert c.get("/f", headers={"if-match": "*"}).status_code == 200
    assert c.get("/f", headers={"if-unmodified-since": older}).status_code == 412
    assert c.get("/f", headers={"if-unmodified-since": last_modified}).status_code == 200


def test_weak_etag_never_strongly_matches(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"x")
    c = file_client(path, headers={"etag": 'W/"weak"'})
    assert c.get("/f", headers={"if-match": 'W/"weak"'}).status_code == 412
    assert c.get("/f", headers={"if-none-match": '"weak"'}).status_code == 304
    r = c.get("/f", headers={"range": "bytes=0-0", "if-range": 'W/"weak"'})
    assert r.status_code == 200


def test_error_pages_ignore_conditions(tmp_path: Path) -> None:
    path = tmp_path / "404.html"
    path.write_text("missing")
    c = file_client(path, status_code=404)
    r = c.get(
        "/f", headers={"if-modified-since": format_http_date(4_000_000_000), "range": "bytes=0-1"}
    )
    assert r.status_code == 404 and r.text == "missing"


def test_single_range(data_file: Path) -> None:
    c = file_client(data_file)
    r = c.get("/f", headers={"range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == DATA[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(DATA)}"
    assert r.headers["content-length"] == "10"
    r = c.get("/f", headers={"range": "bytes=-5"})
    assert r.content == DATA[-5:]
    r = c.get("/f", headers={"range": "bytes=200000-"})
    assert r.content == DATA[200000:] and r.status_code == 206
    r = c.get("/f", headers={"range": "bytes=0-999999999"})
    assert r.status_code == 206 and r.content == DATA
    assert c.head("/f", headers={"range": "bytes=0-1"}).status_code == 200


def test_multiple_ranges(data_file: Path) -> None:
    c = file_client(data_file)
    r = c.get("/f", headers={"range": "bytes=0-3, 100-103, 2-5"})
    assert r.status_code == 206
    content_type = r.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=")[1].encode()
    assert r.headers["content-length"] == str(len(r.content))
    parts = r.content.split(b"--" + boundary)
    assert parts[0] == b"" and parts[-1] == b"--\r\n"
    bodies = [p.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n") for p in parts[1:-1]]
    heads = [p.split(b"\r\n\r\n", 1)[0] for p in parts[1:-1]]
    assert bodies == [DATA[0:6], DATA[100:104]]  # 0-3 and 2-5 were merged
    assert b"Content-Range: bytes 0-5/256000" in heads[0]


def test_range_edge_cases(data_file: Path) -> None:
    c = file_client(data_file)
    r = c.get("/f", headers={"range": "bytes=999999-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(DATA)}"
    for ignored in ("bytes=5-1", "bytes=abc", "items=0-1", "bytes=-", "bytes=1-2-3"):
        assert c.get("/f", headers={"range": ignored}).status_code == 200, ignored
    many = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(20))
    r = c.get("/f", headers={"range": many})
    assert r.status_code == 200 and len(r.content) == len(DATA)
    etag = c.get("/f").headers["etag"]
    assert c.get("/f", headers={"range": "bytes=0-1", "if-range": etag}).status_code == 206
    assert c.get("/f", headers={"range": "bytes=0-1", "if-range": '"old"'}).status_code == 200
    date = format_http_date(1_700_000_000)
    assert c.get("/f", headers={"range": "bytes=0-1", "if-range": date}).status_code == 206
    old = format_http_date(1_600_000_000)
    assert c.get("/f", headers={"range": "bytes=0-1", "if-range": old}).status_code == 200


def test_parse_range_header() -> None:
    assert parse_range_header("bytes=0-0,-0", 10) == [(0, 1)]
    assert parse_range_header("bytes=,0-1,", 10) == [(0, 2)]
    assert parse_range_header("bytes=0-1," + "2-3," * 120, 10) is None
    assert parse_range_header("bytes=٣-4", 10) is None
    assert parse_range_header("bytes=-20", 10) == [(0, 10)]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert file_client(tmp_path / "nope").get("/f").status_code == 404
    with pytest.raises(RuntimeError, match="not a regular file"):
        file_client(tmp_path).get("/f")


async def test_pathsend_used_when_offered(data_file: Path) -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        raise AssertionError

    scope = {
        "type": "http",
        "method": "GET",
        "headers": [],
        "extensions": {"http.response.pathsend": {}},
    }
    await FileResponse(data_file)(scope, receive, send)
    assert sent[1] == {"type": "http.response.pathsend", "path": str(data_file)}
    sent.clear()
    scope["headers"] = [(b"range", b"bytes=0-1")]
    await FileResponse(data_file)(scope, receive, send)
    assert sent[0]["status"] == 206 and sent[1]["body"] == DATA[:2]


def test_testclient_pathsend_round_trip(data_file: Path) -> None:
    r = file_client(data_file).get("/f")
    assert r.content == DATA


# -- StaticFiles ---------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "css").mkdir(parents=True)
    (root / "css" / "a.css").write_text("body{}")
    (root / "docs").mkdir()
    (root / "docs" / "index.html").write_text("<h1>docs</h1>")
    (root / "empty").mkdir()
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "404.html").write_text("<h1>custom 404</h1>")
    (tmp_path / "secret.txt").write_text("top secret")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (root / "inside.txt").symlink_to(root / "css" / "a.css")
    return root


def static_client(root: Path, **kwargs: Any) -> TestClient:
    app = App(routes=[Mount("/static", StaticFiles(directory=root, **kwargs), name="static")])
    return TestClient(app, follow_redirects=False)


def test_static_serves_files(site: Path) -> None:
    c = static_client(site, cache_control="public, max-age=60")
    r = c.get("/static/css/a.css")
    assert r.status_code == 200 and r.text == "body{}"
    assert r.headers["content-type"] == "text/css; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=60"
    assert (
        c.get("/static/css/a.css", headers={"if-none-match": r.headers["etag"]}).status_code == 304
    )
    assert c.head("/static/css/a.css").content == b""
    assert c.get("/static/./css//a.css").text == "body{}"
    assert c.get("/static/inside.txt").text == "body{}"  # a symlink that stays inside
    r = c.post("/static/css/a.css")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    assert c.get("/static/docs/").status_code == 404  # html mode is off
    assert c.get("/static/missing.css").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/css/%2e%2e/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/..\\secret.txt",
        "/static/css\\..\\..\\secret.txt",
        "/static/%5c..%5csecret.txt",
        "/static/escape.txt",
        "/static/css/a.css%00.png",
        "/static/%00",
        "/static//etc/passwd",
        "/static/%252e%252e/secret.txt",
    ],
)
def test_static_refuses_traversal(site: Path, path: str) -> None:
    r = static_client(site).get(path)
    assert r.status_code == 404, path
    assert "secret" not in r.text


def test_static_follow_symlinks(site: Path) -> None:
    assert static_client(site, follow_symlinks=True).get("/static/escape.txt").text == "top secret"
    assert static_client(site, follow_symlinks=True).get("/static/../secret.txt").status_code == 404


def test_static_html_mode(site: Path) -> None:
    c = static_client(site, html=True)
    assert c.get("/static/").text == "<h1>home</h1>"
    assert c.get("/static/docs/").text == "<h1>docs</h1>"
    r = c.get("/static/docs")
    assert r.status_code == 307 and r.headers["location"] == "/static/docs/"
    r = c.get("/static/nothing-here")
    assert r.status_code == 404 and r.text == "<h1>custom 404</h1>"
    assert c.get("/static/empty/").status_code == 404


def test_static_html_mode_without_404_page(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    c = static_client(tmp_path, html=True)
    assert c.get("/static/b.txt").status_code == 404


def test_static_directory_checks_and_packages(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="does not exist"):
        StaticFiles(directory=tmp_path / "missing")
    StaticFiles(directory=tmp_path / "missing", check_dir=False)
    with pytest.raises(RuntimeError, match="not found"):
        StaticFiles(packages=["no_such_package_xyz"])
    with pytest.raises(RuntimeError, match="has no"):
        StaticFiles(packages=["vivace"])
    pkg = StaticFiles(packages=[("vivace", "web")])
    c = TestClient(App(routes=[Mount("/pkg", pkg)]))
    assert c.get("/pkg/_app.py").status_code == 200


def test_static_custom_404_handler_applies(site: Path) -> None:
    from vivace.web import PlainTextResponse

    async def not_found(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("nothing at " + request.url.path, 404)

    app = App(
        routes=[Mount("/static", StaticFiles(directory=site))],
        exception_handlers={404: not_found},
    )
    assert TestClient(app).get("/static/x.css").text == "nothing at /static/x.css"


async def test_static_refuses_websocket(site: Path) -> None:
    async def receive() -> Message:
        raise AssertionError

    async def send(message: Message) -> None:
        raise AssertionError

    with pytest.raises(RuntimeError, match="only serves HTTP"):
        await StaticFiles(directory=site)({"type": "websocket"}, receive, send)


@pytest.mark.parametrize(
    "path",
    ["/../secret.txt", "/css/../../secret.txt", "/..\\secret.txt", "/escape.txt", "/a\x00b", "/.."],
)
async def test_static_traversal_at_the_asgi_level(site: Path, path: str) -> None:
    # The scope path as a server hands it over (already percent-decoded), no client
    # normalisation in between.
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    await StaticFiles(directory=site)(scope, receive, send)
    assert sent[0]["status"] == 404
    assert b"secret" not in b"".join(m.get("body", b"") for m in sent)
