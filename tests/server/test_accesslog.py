"""The access log: compiled formats, batched writes, handlers, flush."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Callable, Iterator

import pytest

from tests.server.conftest import Harness
from vivace.server._accesslog import AccessLogger, compile_format

FACTS = (("10.0.0.1", 5), "GET", b"/a", b"", "1.1", 200, 13, 0.0123, [])


@pytest.fixture
def access() -> Iterator[logging.Logger]:
    """A private logger tree (no propagation to the root), restored after the test."""
    parent = logging.getLogger("test-access")
    logger = logging.getLogger("test-access.child")
    saved = (parent.handlers[:], parent.propagate, logger.handlers[:], logger.filters[:])
    parent.propagate = False
    parent.setLevel(logging.INFO)
    try:
        yield logger
    finally:
        parent.handlers[:], parent.propagate = saved[0], saved[1]
        logger.handlers[:], logger.filters[:] = saved[2], saved[3]
        logger.setLevel(logging.NOTSET)
        parent.setLevel(logging.NOTSET)


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_compile_every_key() -> None:
    fmt = (
        "%(client)s|%(method)s|%(path)s|%(http_version)s|%(request_line)s|%(status)d|"
        "%(bytes)5d|%(duration_ms)s|%(user_agent)s|%(referer)s|100%%"
    )
    line = compile_format(fmt)
    headers = [(b"user-agent", b"curl\x1b[31m"), (b"referer", b"http://r/\r\n")]
    text = line(("::1", 80), "G\x7fT", b"/p", b"x=\n", "1.0", 404, 7, 0.5, headers)
    assert text == (
        "::1:80|G\\x7fT|/p?x=\\x0a|1.0|G\\x7fT /p?x=\\x0a HTTP/1.0|404|    7|500.00|"
        "curl\\x1b[31m|http://r/\\x0d\\x0a|100%"
    )
    # Cached forms come back the same; no headers give "-".
    again = line(("::1", 80), "G\x7fT", b"/p", b"x=\n", "1.0", 404, 7, 0.5, [])
    assert again.endswith("|-|-|100%")
    assert compile_format("%(client)s")(None, "GET", b"/", b"", "1.1", 200, 0, 0.0, []) == "-"


def test_compile_caches_are_bounded() -> None:
    line = compile_format("%(client)s %(path)s %(method)s")
    for n in range(1100):
        assert line(("h", n), f"M{n}", b"/%d" % n, b"", "1.1", 200, 0, 0.0, []) == (
            f"h:{n} /{n} M{n}"
        )
    assert line.__globals__["clients"].__len__() == 1024
    assert len(line.__globals__["targets"]) == 1024
    assert len(line.__globals__["methods"]) == 1024


@pytest.mark.parametrize("fmt", ["%(nope)s", "%s %(status)s", "%(status)q", "%(status"])
def test_compile_bad_formats(fmt: str) -> None:
    text = compile_format(fmt)(*FACTS)
    assert text.startswith("GET 200 (bad access log format: ")


def test_format_is_data_not_code() -> None:
    # Quotes and braces in the format stay text; they never reach the generated source.
    fmt = "'''\"\"\" {status} %(status)s __import__('os') %%(x)s"
    assert compile_format(fmt)(*FACTS) == "'''\"\"\" {status} 200 __import__('os') %(x)s"


def test_batched_lines_are_one_write(access: logging.Logger) -> None:
    stream = CountingStream()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s [%(name)s] %(message)s!"))
    logging.getLogger("test-access").addHandler(handler)
    loop = asyncio.new_event_loop()
    try:
        logger = AccessLogger("%(method)s %(path)s %(status)s", access, loop)
        assert logger.needs_duration is False
        logger.log(*FACTS)
        logger.log(("h", 1), "POST", b"/b", b"", "1.1", 201, 0, 0.0, [])
        assert stream.getvalue() == ""  # written when the loop iteration ends
        loop.call_soon(loop.stop)
        loop.run_forever()
    finally:
        loop.close()
    assert stream.getvalue() == (
        "INFO [test-access.child] GET /a 200!\nINFO [test-access.child] POST /b 201!\n"
    )
    assert stream.writes == 1


def test_flush_writes_what_is_buffered(access: logging.Logger) -> None:
    stream = io.StringIO()
    access.addHandler(logging.StreamHandler(stream))  # no formatter: the message alone
    loop = asyncio.new_event_loop()
    try:
        logger = AccessLogger("%(status)s %(duration_ms)s", access, loop)
        assert logger.needs_duration is True
        logger.log(*FACTS)
        logger.flush()  # as the server does at shutdown, before the loop runs again
        assert stream.getvalue() == "200 12.30\n"
        logger.flush()
        assert stream.getvalue() == "200 12.30\n"
    finally:
        loop.close()
    logger.log(*FACTS)  # a closed loop: written at once
    assert stream.getvalue() == "200 12.30\n200 12.30\n"


def test_other_handlers_get_one_record_per_line(access: logging.Logger) -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    class Json(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f'{{"msg": {record.getMessage()!r}}}'

    json_stream = io.StringIO()
    json_handler = logging.StreamHandler(json_stream)
    json_handler.setFormatter(Json())
    quiet = logging.StreamHandler(io.StringIO())
    quiet.setLevel(logging.WARNING)
    no_message = logging.StreamHandler(io.StringIO())  # a format without the message
    no_message.setFormatter(logging.Formatter("%(levelname)s"))
    access.addHandler(Collect())
    access.addHandler(json_handler)
    access.addHandler(quiet)
    access.addHandler(no_message)
    logger = AccessLogger("%(path)s", access)
    logger.log(*FACTS)
    logger.log(("h", 1), "GET", b"/b", b"", "1.1", 200, 0, 0.0, [])
    assert records == ["/a", "/b"]
    assert json_stream.getvalue() == "{\"msg\": '/a'}\n{\"msg\": '/b'}\n"
    assert quiet.stream.getvalue() == ""
    assert no_message.stream.getvalue() == "INFO\nINFO\n"


def test_logger_filters_see_every_line(access: logging.Logger) -> None:
    stream = io.StringIO()
    access.addHandler(logging.StreamHandler(stream))
    access.addFilter(lambda record: "/secret" not in record.getMessage())
    logger = AccessLogger("%(path)s", access)
    logger.log(*FACTS)
    logger.log(("h", 1), "GET", b"/secret", b"", "1.1", 200, 0, 0.0, [])
    assert stream.getvalue() == "/a\n"


def test_disabled_logger_drops_lines(access: logging.Logger) -> None:
    stream = io.StringIO()
    access.addHandler(logging.StreamHandler(stream))
    access.setLevel(logging.WARNING)
    logger = AccessLogger("%(path)s", access)
    assert not logger.enabled
    logger.log(*FACTS)
    assert stream.getvalue() == ""


def test_file_handler_opened_lazily(access: logging.Logger, tmp_path: object) -> None:
    path = f"{tmp_path}/access.log"
    handler = logging.FileHandler(path, delay=True)  # no stream until the first record
    access.addHandler(handler)
    logger = AccessLogger("%(path)s", access)
    logger.log(*FACTS)
    logger.log(*FACTS)
    handler.close()
    with open(path) as file:
        assert file.read() == "/a\n/a\n"


def test_write_errors_go_to_handle_error(
    access: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("disk full")

    errors: list[str] = []
    broken = logging.StreamHandler(Broken())
    monkeypatch.setattr(broken, "handleError", lambda record: errors.append("write"))
    bad_format = logging.StreamHandler(io.StringIO())
    bad_format.setFormatter(logging.Formatter("%(nope)s"))
    monkeypatch.setattr(bad_format, "handleError", lambda record: errors.append("format"))
    access.addHandler(broken)
    access.addHandler(bad_format)
    AccessLogger("%(path)s", access).log(*FACTS)
    assert errors == ["write", "format"]


async def test_server_logs_each_response_with_its_duration(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vivace.access")
    h = make(access_log=True)  # the default format, which shows duration_ms
    await h.send(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.responses(2)
    await h.wait_for(lambda: len(caplog.records) == 2)  # written at the iteration's end
    lines = [r.getMessage() for r in caplog.records if r.name == "vivace.access"]
    assert len(lines) == 2
    assert re.fullmatch(r'127\.0\.0\.1:50000 - "GET /a\?b=1 HTTP/1\.1" 200 5 \d+\.\d\d', lines[0])
    assert re.fullmatch(r'127\.0\.0\.1:50000 - "GET /c HTTP/1\.1" 200 5 \d+\.\d\d', lines[1])
