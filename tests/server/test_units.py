"""Unit tests: response heads, proxy headers, access log, options, the driver, lifespan."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from pathlib import Path
from typing import Any

import pytest

from vivace.server import (
    OPTIONS,
    AppImportError,
    Config,
    ConfigError,
    LifespanFailure,
    ProtocolViolation,
    _response_heads,
    import_from_string,
)
from vivace.server._accesslog import AccessLogger, escape
from vivace.server._driver import Resume, as_coroutine
from vivace.server._lifespan import Lifespan
from vivace.server._proxy import is_trusted, resolve_proxy
from vivace.server._reload import FileWatcher
from vivace.server._response_heads import (
    FRAME_CHUNKED,
    FRAME_CLOSE,
    FRAME_LENGTH,
    FRAME_NONE,
    render_early_hints,
    render_head,
    render_trailers,
    simple_response,
    status_line,
)
from vivace.types import Receive, Scope, Send

DEFAULTS = b"server: vivace\r\ndate: Mon, 23 Nov 2026 10:00:00 GMT\r\n"


def head(status: int = 200, headers: Any = (), **kw: Any) -> tuple[bytes, int, int, bool]:
    args = {
        "keep_alive": True,
        "http11": True,
        "body_length": None,
        "head_request": False,
        "trailers": False,
    }
    args.update(kw)
    return render_head(status, headers, DEFAULTS, **args)


# -- response heads --------------------------------------------------------------------------


def test_render_head_known_length() -> None:
    data, framing, length, keep = head(headers=[(b"x-a", b"1")], body_length=3)
    assert data == (b"HTTP/1.1 200 OK\r\nx-a: 1\r\n" + DEFAULTS + b"content-length: 3\r\n\r\n")
    assert (framing, length, keep) == (FRAME_LENGTH, 3, True)


def test_render_head_streaming_framings() -> None:
    assert head()[1] == FRAME_CHUNKED
    data, framing, _, keep = head(http11=False)
    assert framing == FRAME_CLOSE and not keep and data.endswith(b"connection: close\r\n\r\n")
    assert head(headers=[(b"content-length", b"7")])[1:3] == (FRAME_LENGTH, 7)
    data, framing, _, _ = head(headers=[(b"content-length", b"7")], trailers=True)
    assert framing == FRAME_CHUNKED and b"content-length" not in data


def test_render_head_no_body_statuses_and_head() -> None:
    data, framing, _, _ = head(204, body_length=0)
    assert framing == FRAME_NONE and b"content-length" not in data
    data, framing, length, _ = head(body_length=10, head_request=True)
    assert framing == FRAME_NONE and length == 10 and b"content-length: 10" in data
    data, framing, _, _ = head(304, headers=[(b"content-length", b"10")])
    assert framing == FRAME_NONE and b"content-length: 10" in data


def test_render_head_content_length_pairs_are_remembered() -> None:
    pair = (b"content-length", b"4321")
    first = head(headers=[pair])
    assert pair in _response_heads._LENGTH_PAIRS  # validated once, then looked up
    assert head(headers=[pair]) == first
    assert first[1:3] == (FRAME_LENGTH, 4321) and first[0].count(b"content-length") == 1
    # A remembered pair twice, or beside another length, is still refused.
    for headers in ([pair, pair], [pair, (b"content-length", b"1")]):
        with pytest.raises(ProtocolViolation, match="content-length"):
            head(headers=headers, body_length=0)
    # Unhashable pairs and invalid values are validated every time, never remembered.
    assert head(headers=[[b"content-length", b"4321"]])[2] == 4321
    with pytest.raises(ProtocolViolation):
        head(headers=[(b"content-length", b"+4")])
    assert (b"content-length", b"+4") not in _response_heads._LENGTH_PAIRS


def test_render_head_connection_headers() -> None:
    data, _, _, keep = head(headers=[(b"connection", b"close")], body_length=0)
    assert not keep and data.endswith(b"connection: close\r\n\r\n")
    data, _, _, keep = head(http11=False, body_length=1)
    assert keep and data.endswith(b"connection: keep-alive\r\n\r\n")


def test_render_head_app_server_and_date_win() -> None:
    data, *_ = head(headers=[(b"server", b"me")], body_length=0)
    assert b"server: vivace" not in data and b"date: Mon" in data
    data, *_ = head(headers=[(b"date", b"x")], body_length=0)
    assert b"server: vivace" in data and b"date: Mon" not in data


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x", b"a\r\nb: c")],
        [(b"x", b"a\nb")],
        [(b"x", b"a\rb")],
        [(b"x", b"\x00")],
        [(b"bad name", b"v")],
        [(b"", b"v")],
        [("x", b"v")],
        [(b"x", "v")],
        [(b"x",)],
        [b"xv"],
        [(b"content-length", b"-1")],
        [(b"content-length", b"1"), (b"Content-Length", b"1")],
        [(b"transfer-encoding", b"gzip")],
    ],
)
def test_render_head_refuses_bad_headers(headers: Any) -> None:
    with pytest.raises(ProtocolViolation):
        head(headers=headers, body_length=0)


def test_status_lines() -> None:
    assert status_line(200) == b"HTTP/1.1 200 OK\r\n"
    assert status_line(799) == b"HTTP/1.1 799 \r\n"
    for bad in (99, 1000, "200", 100):
        with pytest.raises(ProtocolViolation):
            status_line(bad)  # type: ignore[arg-type]
    assert head(599, body_length=0)[0].startswith(b"HTTP/1.1 599 \r\n")


def test_trailers_and_early_hints() -> None:
    assert render_trailers([]) == b"0\r\n\r\n"
    with pytest.raises(ProtocolViolation):
        render_trailers([(b"x", b"a\r\nb")])
    assert render_early_hints([]) == b"HTTP/1.1 103 Early Hints\r\n\r\n"
    with pytest.raises(ProtocolViolation):
        render_early_hints("</a>")


def test_simple_response() -> None:
    data = simple_response(503, "busy", DEFAULTS, close=False)
    assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"connection: close" not in data and data.endswith(b"\r\n\r\nbusy")


# -- proxy headers ---------------------------------------------------------------------------

TRUST = (
    False,
    (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")),
    frozenset({"unix:"}),
)


def test_is_trusted() -> None:
    assert is_trusted("10.1.2.3", TRUST)
    assert is_trusted("::1", TRUST)
    assert is_trusted("unix:", TRUST)
    assert not is_trusted("192.0.2.1", TRUST)
    assert not is_trusted(None, TRUST)
    assert not is_trusted("not-an-ip", TRUST)
    assert is_trusted("anything", (True, (), frozenset()))


def test_resolve_x_forwarded() -> None:
    headers = [
        (b"x-forwarded-for", b"198.51.100.1, 203.0.113.9"),
        (b"x-forwarded-for", b"10.0.0.5"),
    ]
    assert resolve_proxy(headers, TRUST) == (("203.0.113.9", 0), None)
    all_trusted = [(b"x-forwarded-for", b"10.0.0.1, 10.0.0.2")]
    assert resolve_proxy(all_trusted, TRUST) == (("10.0.0.1", 0), None)
    assert resolve_proxy([(b"x-forwarded-proto", b"HTTPS")], TRUST) == (None, "https")
    assert resolve_proxy([(b"x-forwarded-proto", b"gopher")], TRUST) == (None, None)


def test_resolve_forwarded_rfc7239() -> None:
    headers = [
        (b"forwarded", b'for=192.0.2.60;proto=http;by=203.0.113.43, for="198.51.100.17:8080"')
    ]
    assert resolve_proxy(headers, TRUST) == (("198.51.100.17", 8080), "http")
    assert resolve_proxy([(b"forwarded", b"for=unknown")], TRUST) == (None, None)
    assert resolve_proxy([(b"forwarded", b"for=_hidden")], TRUST) == (None, None)
    both = [(b"forwarded", b"for=192.0.2.1"), (b"x-forwarded-for", b"198.51.100.2")]
    assert resolve_proxy(both, TRUST)[0] == ("192.0.2.1", 0)
    assert resolve_proxy([(b"forwarded", b'for="[2001:db8::1]"')], TRUST)[0] == ("2001:db8::1", 0)


# -- access log ------------------------------------------------------------------------------


def test_escape() -> None:
    assert escape("a\x00b\x7f\x9b\\") == "a\\x00b\\x7f\\x9b\\\\"
    assert escape("plain text é") == "plain text é"


def test_access_logger_bad_format(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vivace.access")
    logger = AccessLogger("%(nope)s")
    assert logger.enabled
    logger.log(None, "GET", b"/", b"q=1", "1.1", 200, 3, 0.001, [(b"referer", b"r")])
    assert "bad access log format" in caplog.text
    AccessLogger("%(client)s %(path)s %(referer)s").log(
        ("1.2.3.4", 5), "GET", b"/p", b"q=1", "1.1", 200, 3, 0.001, [(b"referer", b"r")]
    )
    assert "1.2.3.4:5 /p?q=1 r" in caplog.text


# -- options ---------------------------------------------------------------------------------


def test_config_defaults_and_env() -> None:
    config = Config("m:app", env={"VIVACE_PORT": "9001", "VIVACE_ACCESS_LOG": "off"})
    assert config.port == 9001 and config.access_log is False
    assert Config("m:app", port=1, env={"VIVACE_PORT": "9001"}).port == 1
    listed = Config("m:app", env={"VIVACE_FORWARDED_ALLOW_IPS": "10.0.0.0/8, *"})
    assert listed.forwarded_allow_ips == ("10.0.0.0/8", "*")
    assert listed.trusted_proxies[0] is True
    assert {o.name for o in OPTIONS} >= {"host", "port", "uds", "fd", "workers", "reload"}
    assert Config("m:app", root_path="/").root_path == ""
    assert not Config("m:app").is_tls
    assert Config("m:app").options()["port"] == 8000


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"port": "x"}, "expected an integer"),
        ({"port": 70000}, "out of range"),
        ({"port": 1.5}, "expected an integer"),
        ({"workers": 0}, "at least 1"),
        ({"timeout_keep_alive": -1}, "negative"),
        ({"timeout_keep_alive": True}, "expected a number"),
        ({"loop": "tokio"}, "one of"),
        ({"access_log": "maybe"}, "expected a boolean"),
        ({"ssl_certfile": "cert.pem"}, "both"),
        ({"uds": "/tmp/s", "fd": 3}, "together"),
        ({"root_path": "api"}, "must start"),
    ],
)
def test_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config("m:app", env={}, **options)


def test_config_app_object_needs_string_for_workers() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    with pytest.raises(ConfigError, match="import string"):
        Config(app, workers=2)
    with pytest.raises(TypeError, match="unknown"):
        Config(app, nope=1)


def test_import_and_load_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "myapp.py").write_text(
        "async def app(scope, receive, send): pass\n"
        "def factory():\n    return app\n"
        "class Asgi2:\n    def __init__(self, scope): pass\n"
        "class Awaitable2:\n    def __init__(self, scope): pass\n"
        "    def __await__(self): yield\n"
        "class Endpoint:\n    def __init__(self, scope, receive, send): pass\n"
        "    def __await__(self): yield\n"
        "not_callable = 3\n"
        "def two(scope, receive): pass\n"
        "def star(*args): pass\n"
    )
    (tmp_path / "broken.py").write_text("import missing_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert Config("myapp:app", app_dir=str(tmp_path)).load_app().__name__ == "app"
    assert Config("myapp:factory", factory=True).load_app().__name__ == "app"
    assert Config("myapp:star").load_app().__name__ == "star"
    assert Config("myapp:Endpoint").load_app().__name__ == "Endpoint"
    for target, message in [
        ("myapp:Asgi2", "ASGI 3"),
        ("myapp:Awaitable2", "ASGI 3"),
        ("myapp:not_callable", "not a callable"),
        ("myapp:two", "ASGI 3"),
        ("myapp:nothing", "no attribute"),
        ("nomodule_xyz:app", "could not import"),
        ("no-colon", "module:attribute"),
    ]:
        with pytest.raises(AppImportError, match=message):
            Config(target).load_app()
    with pytest.raises(AppImportError, match="not callable"):
        Config("myapp:not_callable", factory=True).load_app()
    with pytest.raises(ModuleNotFoundError, match="missing_dependency_xyz"):
        Config("broken:app").load_app()
    assert import_from_string("os.path:join").__name__ == "join"


def test_ssl_context(tmp_path: Path) -> None:
    from tests.server.test_integration import make_certificate

    cert, key = make_certificate(tmp_path)
    config = Config(
        "m:app",
        ssl_certfile=cert,
        ssl_keyfile=key,
        ssl_cert_reqs="optional",
        ssl_ca_certs=cert,
        ssl_ciphers="ECDHE+AESGCM",
    )
    context = config.ssl_context()
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_OPTIONAL
    assert Config("m:app").ssl_context() is None
    with pytest.raises(ConfigError, match="cannot load"):
        Config("m:app", ssl_certfile=key, ssl_keyfile=key).ssl_context()


def test_ssl_ciphers_without_http2_blocklist(tmp_path: Path) -> None:
    # RFC 9113 section 9.2.2 / Appendix A: where h2 may be negotiated, no CBC or static
    # key exchange suite for TLS 1.2; HTTP/1.1 alone keeps Python's defaults.
    from tests.server.test_integration import make_certificate

    cert, key = make_certificate(tmp_path)

    def tls12(http: str) -> list[dict[str, object]]:
        context = Config("m:app", ssl_certfile=cert, ssl_keyfile=key, http=http).ssl_context()
        assert context is not None
        return [c for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"]

    for http in ("auto", "2"):
        ciphers = tls12(http)
        assert ciphers and all(c["aead"] and c["kea"] in ("kx-ecdhe", "kx-dhe") for c in ciphers)
    assert any(not c["aead"] for c in tls12("1"))


def test_configure_logging() -> None:
    root = logging.getLogger("vivace")
    saved = (root.handlers[:], root.level, root.propagate)
    try:
        root.handlers.clear()
        Config("m:app", log_level="debug", access_log=False).configure_logging()
        assert root.handlers and root.level == logging.DEBUG
        assert not logging.getLogger("vivace.access").isEnabledFor(logging.CRITICAL)
    finally:
        root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]
        logging.getLogger("vivace.access").setLevel(logging.NOTSET)


# -- the driver ------------------------------------------------------------------------------


async def test_resume_continues_like_a_task() -> None:
    import contextvars

    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def body() -> int:
        value = await future
        await asyncio.sleep(0)
        return value * 2

    coro = body()
    yielded = coro.send(None)
    assert yielded is future
    task = asyncio.get_running_loop().create_task(
        _await(Resume(coro, contextvars.copy_context(), yielded))
    )
    await asyncio.sleep(0)
    future.set_result(21)
    assert await task == 42


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def test_resume_delivers_cancellation_and_throw() -> None:
    import contextvars

    events: list[str] = []

    async def body() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            return "handled"
        return "slept"

    coro = body()
    yielded = coro.send(None)
    task = asyncio.get_running_loop().create_task(
        _await(Resume(coro, contextvars.copy_context(), yielded))
    )
    await asyncio.sleep(0)
    task.cancel()
    assert await task == "handled" and events == ["cancelled"]

    coro2 = body()
    yielded2 = coro2.send(None)
    yielded2.cancel()
    result = await Resume(coro2, contextvars.copy_context(), yielded2, asyncio.CancelledError())
    assert result == "handled"

    async def raises() -> None:
        await asyncio.sleep(0)

    coro3 = raises()
    yielded3 = coro3.send(None)
    with pytest.raises(KeyError):
        await Resume(coro3, contextvars.copy_context(), yielded3, KeyError("x"))


async def test_resume_close_closes_the_coroutine() -> None:
    import contextvars

    closed: list[bool] = []

    async def body() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            closed.append(True)

    coro = body()
    yielded = coro.send(None)
    generator = Resume(coro, contextvars.copy_context(), yielded).__await__()
    next(generator)
    generator.close()
    assert closed == [True]
    yielded.cancel()


async def test_as_coroutine() -> None:
    future = asyncio.get_running_loop().create_future()
    future.set_result(5)
    assert await as_coroutine(future) == 5


# -- lifespan --------------------------------------------------------------------------------


def lifespan_app(startup: str = "complete", shutdown: str = "complete") -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        if startup == "raise":
            raise RuntimeError("startup exploded")
        if startup == "return":
            return
        await send({"type": f"lifespan.startup.{startup}", "message": "db down"})
        scope["state"]["db"] = "connected"
        if startup == "failed":
            return
        await receive()
        if shutdown == "raise":
            raise RuntimeError("shutdown exploded")
        if shutdown == "return":
            return
        if shutdown == "bad":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": f"lifespan.shutdown.{shutdown}", "message": ""})

    return app


async def test_lifespan_ok_and_state() -> None:
    lifespan = Lifespan(lifespan_app())
    await lifespan.startup()
    assert lifespan.state == {"db": "connected"}
    await lifespan.shutdown()


@pytest.mark.parametrize("mode", ["auto", "on"])
async def test_lifespan_startup_failed(mode: str) -> None:
    lifespan = Lifespan(lifespan_app("failed"), mode)
    with pytest.raises(LifespanFailure, match="db down"):
        await lifespan.startup()


async def test_lifespan_raising_after_receive_fails() -> None:
    with pytest.raises(LifespanFailure, match="startup exploded"):
        await Lifespan(lifespan_app("raise")).startup()


async def test_lifespan_unsupported_in_auto_mode() -> None:
    async def http_only(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"

    lifespan = Lifespan(http_only)
    await lifespan.startup()
    assert not lifespan.supported
    await lifespan.shutdown()
    with pytest.raises(LifespanFailure):
        await Lifespan(http_only, "on").startup()


async def test_lifespan_off_and_returning_apps() -> None:
    off = Lifespan(lifespan_app(), "off")
    await off.startup()
    await off.shutdown()
    with pytest.raises(LifespanFailure, match="returned before"):
        await Lifespan(lifespan_app("return"), "on").startup()
    returns = Lifespan(lifespan_app(shutdown="return"))
    await returns.startup()
    with pytest.raises(LifespanFailure, match="returned before completing lifespan shutdown"):
        await returns.shutdown()


@pytest.mark.parametrize(
    ("shutdown", "message"),
    [("failed", "shutdown failed"), ("raise", "exploded"), ("bad", "unexpected")],
)
async def test_lifespan_shutdown_failures(shutdown: str, message: str) -> None:
    lifespan = Lifespan(lifespan_app(shutdown=shutdown))
    await lifespan.startup()
    with pytest.raises(LifespanFailure, match=message):
        await lifespan.shutdown()


# -- reload watcher --------------------------------------------------------------------------


def test_file_watcher(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.py").write_text("ignored")
    watcher = FileWatcher([str(tmp_path)], ["*.py"], ["__pycache__"])
    assert watcher.changes() == []
    import os

    os.utime(tmp_path / "a.py", (1, 1))
    (tmp_path / "b.py").write_text("y = 2")
    (tmp_path / "notes.txt").write_text("still ignored")
    assert watcher.changes() == [str(tmp_path / "a.py"), str(tmp_path / "b.py")]
    (tmp_path / "b.py").unlink()
    assert watcher.changes() == [str(tmp_path / "b.py")]
