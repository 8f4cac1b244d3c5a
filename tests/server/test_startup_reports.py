"""The start-up report (``vivace.server._startup``) and the lifespan's failures, in
process: what ``vivace run`` prints, and that nothing is logged twice (issue 19)."""

from __future__ import annotations

import functools
import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from vivace.server import AppImportError, Config, ConfigError, LifespanFailure
from vivace.server._lifespan import Lifespan
from vivace.server._server import bind_sockets
from vivace.server._startup import Failure, cause_line, describe, user_traceback
from vivace.types import Receive, Scope, Send


def raised(function: Any) -> BaseException:
    """What ``function()`` raised, its traceback starting below this test module (as
    if ``vivace run`` had called it: the test's own frames would count as the user's)."""
    try:
        function()
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        return exc.with_traceback(tb)
    raise AssertionError("nothing raised")


def test_failure_round_trips_through_bytes() -> None:
    failure = Failure("could not import 'a:b': E: x (a.py, line 1)", "Traceback ...\n")
    assert Failure.from_bytes(failure.to_bytes()) == failure
    assert Failure.from_bytes(Failure("line").to_bytes()) == Failure("line", None)
    huge = Failure("x", "frame\n" * 100_000).to_bytes()
    back = Failure.from_bytes(huge)
    assert len(huge) < 40_000 and back.traceback is not None
    assert back.traceback.startswith("...\n") and back.traceback.endswith("frame\n")
    for junk in (b"", b"not json", b"[]", b'{"line": 1, "traceback": null}', b'{"line": "x"}'):
        assert Failure.from_bytes(junk).line == "a worker sent an unreadable start-up report"


def test_import_failures_name_the_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "brokenmod19.py").write_text("x = 1\nimport no_such_dependency_19\n")
    (tmp_path / "syntaxmod19.py").write_text("def f(:\n")
    for name in ("brokenmod19", "syntaxmod19"):
        sys.modules.pop(name, None)
    exc = raised(lambda: Config("brokenmod19:app").load_app())
    failure = describe(exc, "brokenmod19:app")
    assert failure.line == (
        "could not import 'brokenmod19:app': ModuleNotFoundError: No module named "
        "'no_such_dependency_19' (brokenmod19.py, line 2)"
    )
    assert failure.traceback is not None
    assert failure.traceback.startswith("Traceback (most recent call last):\n")
    assert "importlib" not in failure.traceback
    exc = raised(lambda: importlib.import_module("syntaxmod19"))
    failure = describe(exc, "syntaxmod19:app")
    assert failure.line.endswith("SyntaxError: invalid syntax (syntaxmod19.py, line 1)")
    assert failure.traceback is not None and "Traceback" not in failure.traceback
    assert "def f(:" in failure.traceback


def test_server_errors_and_other_failures() -> None:
    assert describe(ConfigError("bad option"), "a:b") == Failure("bad option")
    assert describe(AppImportError("no module", target="a:b"), "a:b") == Failure("no module")
    # An OSError the server raised while binding (no frame of the user's code).
    exc = raised(functools.partial(bind_sockets, Config("a:b", host="256.1.1.1", port=0)))
    assert describe(exc, "a:b", where="256.1.1.1:0").line.startswith(
        "cannot listen on 256.1.1.1:0: "
    )
    assert describe(exc, "a:b").line == str(exc)

    def factory() -> None:
        raise OSError("the app's own OSError")

    try:
        factory()
    except OSError as own:
        exc = own
    assert describe(exc, "m:factory", factory=True).line.startswith(
        "the app factory 'm:factory' raised OSError: the app's own OSError ("
    )
    assert describe(exc, "m:app").line.startswith("could not start 'm:app': OSError: ")
    # No traceback at all (an exception never raised): the line without a place.
    assert cause_line(ValueError()) == "ValueError"
    assert cause_line(ValueError("v")) == "ValueError: v"
    assert user_traceback(ValueError("v")) == "ValueError: v\n"


def test_a_failure_inside_libraries_points_at_the_innermost_frame() -> None:
    try:
        json.loads("{")
    except ValueError as exc:
        line = cause_line(exc)
    assert line.startswith("JSONDecodeError: ") and "test_startup_reports.py, line" in line
    # Only library frames: the innermost one is named.
    exc = raised(functools.partial(json.loads, "{"))
    assert cause_line(exc).endswith(f"({json.decoder.__file__}, line {_raise_line()})")


def _raise_line() -> int:
    exc = raised(functools.partial(json.loads, "{"))
    tb = exc.__traceback__
    assert tb is not None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_lineno


def lifespan_app(kind: str) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        if kind == "report-and-raise":  # what vivace.web and Starlette do
            await send({"type": "lifespan.startup.failed", "message": "Traceback...\nboom"})
        if kind == "report-traceback":
            await send(
                {"type": "lifespan.startup.failed", "message": "Traceback ...\n  File\nE: x\n"}
            )
            return
        raise RuntimeError("boom")

    return app


@pytest.mark.parametrize("kind", ["raise", "report-and-raise"])
async def test_lifespan_startup_failure_is_logged_by_nobody(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vivace.server")
    with pytest.raises(LifespanFailure) as caught:
        await Lifespan(lifespan_app(kind)).startup()
    assert str(caught.value) == "RuntimeError: boom"
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    failure = describe(caught.value, "m:app")
    assert failure.line.startswith("lifespan startup failed: RuntimeError: boom (")
    assert failure.traceback is not None and 'raise RuntimeError("boom")' in failure.traceback


async def test_lifespan_reporting_a_traceback_as_its_message() -> None:
    with pytest.raises(LifespanFailure) as caught:
        await Lifespan(lifespan_app("report-traceback")).startup()
    failure = describe(caught.value, "m:app")
    assert failure == Failure("lifespan startup failed: E: x", "Traceback ...\n  File\nE: x\n")
