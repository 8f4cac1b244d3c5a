"""``vivace auth createuser``: on a SQLite file, in-process and as a real command."""

from __future__ import annotations

import asyncio
import getpass
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vivace import cli
from vivace.auth import Auth, User, create_tables
from vivace.db import Database

from .conftest import fast_passwords


def make_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"

    async def setup() -> None:
        async with Database(url) as database:
            await create_tables(using=database)

    asyncio.run(setup())
    return url


def check(url: str, username: str, password: str) -> User | None:
    async def run() -> User | None:
        async with Database(url) as database:
            auth = Auth(passwords=fast_passwords(), using=database)
            user = await auth.authenticate(username, password)
            auth.passwords.close()
            return user  # type: ignore[return-value]

    return asyncio.run(run())


def test_createuser_with_the_password_on_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_database(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse\n"))
    args = ["auth", "createuser", "ada", "--email", "a@x.org", "--superuser", "--url", url]
    assert cli.main([*args, "--password-stdin"]) == 0
    assert "created user 'ada'" in capsys.readouterr().out
    user = check(url, "ada", "correct horse")
    assert user is not None and user.is_superuser and user.email == "a@x.org"
    assert user.password.startswith("argon2$argon2id$")
    # The same name again is refused.
    monkeypatch.setattr(sys, "stdin", io.StringIO("x\n"))
    assert cli.main([*args, "--password-stdin"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_createuser_asks_on_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIVACE_DATABASE_URL", make_database(tmp_path))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["one", "two", "pw", "pw", "", ""])
    monkeypatch.setattr(getpass, "getpass", lambda prompt: next(answers))
    assert cli.main(["auth", "createuser", "ada"]) == 1
    assert "do not match" in capsys.readouterr().err
    assert cli.main(["auth", "createuser", "ada"]) == 0
    assert check(os.environ["VIVACE_DATABASE_URL"], "ada", "pw") is not None
    assert cli.main(["auth", "createuser", "bob"]) == 1
    assert "empty password" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "stdin", "message"),
    [
        ([], "", "no terminal"),
        (["--password-stdin"], "", "no password"),
        (["--no-password", "--user-model", "nomodule_xyz:User"], "", "nomodule_xyz"),
        (["--no-password", "--user-model", "vivace.auth"], "", "module:Class"),
        (["--no-password", "--user-model", "vivace.auth:Nope"], "", "Nope"),
    ],
)
def test_createuser_refusals(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    stdin: str,
    message: str,
) -> None:
    url = make_database(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert cli.main(["auth", "createuser", "ada", "--url", url, *extra]) == 1
    assert message in capsys.readouterr().err


def test_createuser_needs_a_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VIVACE_DATABASE_URL", raising=False)
    assert cli.main(["auth", "createuser", "ada", "--no-password"]) == 1
    assert "VIVACE_DATABASE_URL" in capsys.readouterr().err


def test_the_vivace_command(tmp_path: Path) -> None:
    url = make_database(tmp_path)
    command = [sys.executable, "-c", "import sys, vivace.cli; sys.exit(vivace.cli.main())"]
    done = subprocess.run(
        [*command, "auth", "createuser", "bot", "--no-password", "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "created user 'bot'" in done.stdout
    assert check(url, "bot", "") is None


@pytest.mark.parametrize(
    ("username", "message"),
    [("", "username"), ("a" * 151, "username")],
)
def test_createuser_checks_the_username(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    username: str,
    message: str,
) -> None:
    # As Django's createsuperuser: the model's rules hold (SQLite kept an empty or a
    # 200-character username; PostgreSQL refused the latter with a traceback).
    url = make_database(tmp_path)
    assert cli.main(["auth", "createuser", username, "--url", url, "--no-password"]) == 1
    assert message in capsys.readouterr().err


def test_createuser_without_the_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before the migrations ran: one line saying so, not a traceback.
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    assert cli.main(["auth", "createuser", "ada", "--url", url, "--no-password"]) == 1
    err = capsys.readouterr().err
    assert "auth_user" in err and "vivace db upgrade" in err and "Traceback" not in err
    missing = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.sqlite3'}"
    assert cli.main(["auth", "createuser", "ada", "--url", missing, "--no-password"]) == 1
    assert "cannot open" in capsys.readouterr().err
