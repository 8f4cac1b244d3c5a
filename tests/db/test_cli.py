"""``vivace db`` (Alembic): init, revision --autogenerate, upgrade, downgrade.

Run in-process through ``_cli.main`` and end to end as a subprocess
(``python -m vivace.db``, the same code the ``vivace db`` command group runs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vivace.db import Database, DatabaseURL
from vivace.db._cli import add_parser, main
from vivace.db.migrations import load_object

from .conftest import backend_url, open_database, unique_name

MODEL = """
import sqlalchemy as sa

metadata = sa.MetaData()
people = sa.Table(
    "{table}",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    {extra}
)
"""


def write_model(folder: Path, module: str, table: str, extra: str = "") -> None:
    (folder / f"{module}.py").write_text(MODEL.format(table=table, extra=extra))
    sys.modules.pop(module, None)


async def table_columns(db: Database, table: str) -> set[str]:
    if db.url.backend == "sqlite":
        return {r.name for r in await db.fetch_all(f"PRAGMA table_info({table})")}
    query = "SELECT column_name AS c FROM information_schema.columns WHERE table_name = :t" + (
        " AND table_schema = DATABASE()" if db.url.backend == "mysql" else ""
    )
    return {r.c for r in await db.fetch_all(query, {"t": table})}


async def fresh_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own: autogenerate compares the whole schema, and the test
    servers are shared with other runs whose tables must not show up as "removed"."""
    url = backend_url(backend, tmp_path)
    if backend == "sqlite":
        yield url
        return
    name = unique_name("vtdb")
    admin = await open_database(url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield str(DatabaseURL(url)._text).rsplit("/", 1)[0].rsplit("?", 1)[0] + "/" + name
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        await admin.execute(f"DROP DATABASE IF EXISTS {name}{force}")
        await admin.disconnect()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
async def cli_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async for url in fresh_database(str(request.param), tmp_path):
        yield url


def run_cli(args: list[str], cwd: Path, url: str, version_table: str) -> int:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return main(["--url", url, "--version-table", version_table, *args])
    finally:
        os.chdir(old)


async def test_migration_cycle_in_process(
    cli_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, version = unique_name("vm"), unique_name("vv")
    module = unique_name("models")
    write_model(tmp_path, module, table)
    db = await open_database(cli_url)
    try:
        assert (
            run_cli(["--metadata", f"{module}:metadata", "init"], tmp_path, cli_url, version) == 0
        )
        assert f"{module}:metadata" in (tmp_path / "migrations" / "env.py").read_text()
        assert run_cli(["init"], tmp_path, cli_url, version) == 1  # not twice
        assert "already exists" in capsys.readouterr().err
        rc = run_cli(
            ["revision", "-m", "create people", "--autogenerate"], tmp_path, cli_url, version
        )
        assert rc == 0
        (first,) = (tmp_path / "migrations" / "versions").glob("*.py")
        assert "create_table" in first.read_text()
        assert run_cli(["upgrade"], tmp_path, cli_url, version) == 0
        assert await table_columns(db, table) == {"id", "name"}
        write_model(tmp_path, module, table, 'sa.Column("email", sa.String(80)),')
        assert (
            run_cli(["revision", "-m", "email", "--autogenerate"], tmp_path, cli_url, version) == 0
        )
        assert run_cli(["upgrade", "head"], tmp_path, cli_url, version) == 0
        assert await table_columns(db, table) == {"id", "name", "email"}
        assert run_cli(["current"], tmp_path, cli_url, version) == 0
        assert run_cli(["history"], tmp_path, cli_url, version) == 0
        assert run_cli(["upgrade", "--sql"], tmp_path, cli_url, version) == 0
        assert run_cli(["downgrade"], tmp_path, cli_url, version) == 0
        assert await table_columns(db, table) == {"id", "name"}
        assert run_cli(["downgrade", "base"], tmp_path, cli_url, version) == 0
        assert await table_columns(db, table) == set()
    finally:
        await db.execute(f"DROP TABLE IF EXISTS {table}")
        await db.execute(f"DROP TABLE IF EXISTS {version}")
        await db.disconnect()


def test_cli_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIVACE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert main(["revision", "-m", "x", "--autogenerate"]) == 1
    assert "VIVACE_DATABASE_URL" in capsys.readouterr().err
    assert main(["--directory", "nowhere", "upgrade"]) == 1
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_a_server_error_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server_backend: str
) -> None:
    # A database that does not exist (or a step the server refuses) printed
    # SQLAlchemy's traceback; now the driver's message and the statement, exit status 1.
    server = backend_url(server_backend, tmp_path).split("?")[0].rsplit("/", 1)[0]
    url = f"{server}/{unique_name('nodb')}"
    args = ["--directory", str(tmp_path / "m"), "--url", url]
    assert main([*args, "init"]) == 0
    capsys.readouterr()
    assert main([*args, "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vivace db upgrade: ") and "nodb_" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2


def test_add_parser_registers_the_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser(prog="vivace")
    add_parser(parser.add_subparsers(dest="command"))
    monkeypatch.chdir(tmp_path)
    args = parser.parse_args(["db", "--directory", "m2", "init"])
    assert args.func(args) == 0
    assert (tmp_path / "m2" / "env.py").exists()


def test_common_options_before_and_after_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 19: `vivace db init --metadata m:x` was "unrecognized arguments".
    parser = argparse.ArgumentParser(prog="vivace")
    add_parser(parser.add_subparsers(dest="command"))
    before = parser.parse_args(["db", "--metadata", "m:x", "--url", "sqlite://", "init"])
    after = parser.parse_args(["db", "init", "--metadata", "m:x", "--url", "sqlite://"])
    for args in (before, after):
        assert (args.metadata, args.url) == ("m:x", "sqlite://")
        assert (args.directory, args.version_table) == ("migrations", "alembic_version")
    # Given in front only, a value is not erased by the command's (absent) default;
    # given in both places, the later one wins.
    args = parser.parse_args(["db", "--directory", "d1", "--version-table", "v", "current"])
    assert (args.directory, args.version_table, args.url) == ("d1", "v", None)
    args = parser.parse_args(["db", "--url", "a://", "upgrade", "base", "--url", "b://", "--sql"])
    assert (args.url, args.revision, args.sql) == ("b://", "base", True)
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--directory", "m3", "--metadata", "pkg.models:metadata"]) == 0
    assert "pkg.models:metadata" in (tmp_path / "m3" / "env.py").read_text()
    with pytest.raises(SystemExit):
        parser.parse_args(["db", "init", "--frobnicate"])


def test_load_object_errors() -> None:
    from vivace.db import InterfaceError

    for bad in ("nocolon", "no_such_module_xyz:a", "vivace.db:Nope"):
        with pytest.raises(InterfaceError):
            load_object(bad)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_migration_cycle_as_subprocess(backend: str, tmp_path: Path) -> None:
    async for url in fresh_database(backend, tmp_path):
        await subprocess_cycle(url, tmp_path)


async def subprocess_cycle(url: str, tmp_path: Path) -> None:
    table, version = unique_name("vm"), unique_name("vv")
    module = unique_name("models")
    write_model(tmp_path, module, table)
    env = dict(os.environ, VIVACE_DATABASE_URL=url, VIVACE_DB_METADATA=f"{module}:metadata")

    def vivace_db(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "vivace.db", "--version-table", version, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    db = await open_database(url)
    try:
        vivace_db("init")
        vivace_db("revision", "-m", "people", "--autogenerate")
        vivace_db("upgrade")
        assert await table_columns(db, table) == {"id", "name"}
        vivace_db("downgrade")
        assert await table_columns(db, table) == set()
    finally:
        await db.execute(f"DROP TABLE IF EXISTS {table}")
        await db.execute(f"DROP TABLE IF EXISTS {version}")
        await db.disconnect()


def test_env_template_is_valid_python() -> None:
    from vivace.db.migrations import ENV_TEMPLATE

    compile(textwrap.dedent(ENV_TEMPLATE.format(metadata="a:b")), "env.py", "exec")
