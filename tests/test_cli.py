"""The ``vivace`` command: subcommands registered by layers, ``run`` flags and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vivace import cli


def test_help_lists_run(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "run" in capsys.readouterr().out


def test_run_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    from vivace.server import OPTIONS

    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = capsys.readouterr().out
    for option in OPTIONS:
        assert option.flag in out
    assert "--h11-max-incomplete-event-size" in out
    assert "--no-access-log" in out
    assert "VIVACE_PORT" in out


def test_command_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["nomodule_xyz:app"], 3, "could not import"),
        (["examples.app:app", "--workers", "0"], 3, "at least 1"),
        (["examples.app:app", "--ssl-certfile", "x.pem"], 3, "both"),
        (["examples.app:app", "--host", "256.1.1.1", "--port", "0"], 3, "cannot listen on"),
    ],
)
def test_run_errors(
    args: list[str], status: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", *args]) == status
    assert message in capsys.readouterr().err


def test_lifespan_failure_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "failing_cli_app.py").write_text(
        "async def app(scope, receive, send):\n"
        "    await receive()\n"
        "    await send({'type': 'lifespan.startup.failed', 'message': 'nope'})\n"
    )
    monkeypatch.setenv("VIVACE_PORT", "0")
    status = cli.main(
        ["run", "failing_cli_app:app", "--app-dir", str(tmp_path), "--loop", "asyncio"]
    )
    assert status == 3
    assert "lifespan startup failed: nope" in capsys.readouterr().err


def test_list_flags_repeat_and_split(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    class Stop(Exception):
        pass

    def fake_init(self: object, app: str, **options: object) -> None:
        seen.update(options)
        raise Stop

    from vivace.server import _config

    monkeypatch.setattr(_config.Config, "__init__", fake_init)
    status = cli.main(
        ["run", "a:b", "--forwarded-allow-ips", "10.0.0.1,10.0.0.2", "--forwarded-allow-ips", "::1"]
    )
    assert status == 3  # a failure before the server started is a failed start
    assert seen["forwarded_allow_ips"] == ["10.0.0.1", "10.0.0.2", "::1"]
    assert "port" not in seen  # unset flags fall back to VIVACE_* and defaults


def test_readme_command_serves_the_example(tmp_path: Path) -> None:
    """``vivace run examples.app:app`` from the repository root (the README's command)."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "VIVACE_EXAMPLE_DATABASE_URL": f"sqlite:///{tmp_path / 'ex.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vivace.cli", "run", "examples.app:app", "--port", "0"],
        cwd=root,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        port = 0
        for line in proc.stderr:
            if "serving on" in line:
                port = int(line.rsplit(":", 1)[1].split()[0])
                break
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        assert b"vivace is running" in conn.getresponse().read()
        conn.request("GET", "/api/hello")
        assert conn.getresponse().read() == b'{"message":"Hello, World!"}'
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/missing")
        assert conn.getresponse().status == 404
        conn.close()
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
        assert proc.stderr is not None
        proc.stderr.close()


def test_layers_register_their_subcommands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = {"xyz": "vivace_missing_layer_xyz._cli:add"}
    monkeypatch.setattr(cli, "COMMANDS", {**cli.COMMANDS, **missing})
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "run" in out and "db" in out and "auth" in out  # the missing layer is left out
    with pytest.raises(SystemExit):
        cli.main(["xyz"])
    assert "invalid choice" in capsys.readouterr().err


def test_a_command_imports_only_its_layer() -> None:
    # `vivace db makemigrations` compares the database with vivace.orm.metadata, which
    # importing vivace.auth fills with the auth tables: they went into every app's
    # migrations, and `python -m vivace.db makemigrations` then proposed dropping them.
    script = (
        "import sys\n"
        "from vivace import cli\n"
        "try:\n"
        "    cli.main(['db', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('vivace.auth' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(("error", "status"), [(OSError("disk gone"), 1), (KeyError("x"), None)])
def test_failures_after_start_are_not_startup_failures(
    error: Exception,
    status: int | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from vivace.server._server import Server

    def run(self: Server, sockets: object = None) -> None:
        self.started.set()
        raise error

    monkeypatch.setattr(Server, "run", run)
    if status is None:  # anything but an OSError: the full traceback, as before
        with pytest.raises(KeyError):
            cli.main(["run", "examples.app:app"])
        return
    assert cli.main(["run", "examples.app:app"]) == status
    assert capsys.readouterr().err == "vivace: disk gone\n"


def test_startup_failure_address_names_the_socket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Binding a unix socket under a missing folder, or an fd that is not open.
    uds = str(tmp_path / "missing" / "s.sock")
    assert cli.main(["run", "examples.app:app", "--uds", uds]) == 3
    assert f"vivace: cannot listen on unix:{uds}: " in capsys.readouterr().err
    assert cli.main(["run", "examples.app:app", "--fd", "987"]) == 3
    assert "vivace: cannot listen on fd 987: " in capsys.readouterr().err
