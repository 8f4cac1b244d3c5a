"""``vivace db ...``: Alembic migrations from the command line.

The ``vivace`` command registers this group with ``add_parser(subparsers)``; until then,
and always, ``python -m vivace.db ...`` runs the same commands.

    vivace db init [--metadata app.models:metadata]
    vivace db revision -m "add users" --autogenerate
    vivace db makemigrations [-m "add users"]    (revision --autogenerate: vivace.orm models)
    vivace db upgrade [head] [--sql]
    vivace db downgrade [-1] [--sql]
    vivace db current | history
Common options, before or after the command: --url (else VIVACE_DATABASE_URL),
--directory (migrations), --metadata (else VIVACE_DB_METADATA, else what init wrote),
--version-table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ._errors import DatabaseError
from .migrations import MigrationConfig

__all__ = ["add_parser", "main", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``db`` command group to an argparse ``add_subparsers()`` object.

    The parsed namespace gets ``func`` (and ``handler``): call ``args.func(args)``,
    which returns the exit status.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "db", help="database migrations (Alembic)", description=__doc__.split("\n\n")[0]
    )
    configure(parser)
    return parser


def _common_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options every ``db`` command takes.

    They are accepted before the command (``vivace db --url X upgrade``) and after it
    (``vivace db upgrade --url X``, as people type it).  After the command they default
    to ``SUPPRESS``: argparse copies a subcommand's defaults over the values parsed
    before it, so a real default there would erase ``--url`` given in front.
    """

    def default(value: str | None) -> str | None:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--url", default=default(None), help="database URL (default: $VIVACE_DATABASE_URL)"
    )
    parser.add_argument(
        "--directory",
        default=default("migrations"),
        help="migrations folder (default: migrations)",
    )
    parser.add_argument(
        "--metadata",
        default=default(None),
        help="the app's SQLAlchemy MetaData as module:attribute (default: $VIVACE_DB_METADATA, "
        "else the one `db init` recorded in env.py)",
    )
    parser.add_argument(
        "--version-table",
        default=default("alembic_version"),
        help="Alembic's version table name (default: alembic_version)",
    )


def configure(parser: argparse.ArgumentParser) -> None:
    _common_options(parser, defaults=True)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, defaults=False)
    commands = parser.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    commands.add_parser("init", help="create the migrations folder", parents=[common])
    revision = commands.add_parser("revision", help="create a new revision file", parents=[common])
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument(
        "--autogenerate", action="store_true", help="compare the database with the metadata"
    )
    make = commands.add_parser(
        "makemigrations",
        help="autogenerate a revision from the metadata (e.g. vivace.orm models' tables)",
        parents=[common],
    )
    make.add_argument("-m", "--message", default="auto", help="the revision's message")
    for name, default, text in (
        ("upgrade", "head", "upgrade to a revision"),
        ("downgrade", "-1", "downgrade to a revision"),
    ):
        command = commands.add_parser(name, help=text, parents=[common])
        command.add_argument("revision", nargs="?", default=default)
        command.add_argument("--sql", action="store_true", help="print the SQL, run nothing")
    commands.add_parser("current", help="show the database's revision", parents=[common])
    commands.add_parser("history", help="list the revisions", parents=[common])
    parser.set_defaults(func=run, handler=run)


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``db`` command; returns the exit status (errors go to stderr)."""
    from alembic import command
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    settings = MigrationConfig(
        directory=args.directory,
        url=args.url,
        metadata=args.metadata,
        version_table=args.version_table,
    )
    try:
        if args.db_command == "init":
            folder = settings.init()
            print(f"created {folder}/ (env.py, script.py.mako, versions/)")
            return 0
        config = settings.alembic()
        if args.db_command == "revision":
            if args.autogenerate:
                settings.require_url()
            command.revision(config, message=args.message, autogenerate=args.autogenerate)
        elif args.db_command == "makemigrations":
            settings.require_url()
            if not settings.metadata and "METADATA = None" in _env_text(settings):
                print(
                    "vivace db makemigrations: no metadata to compare with: pass --metadata "
                    "module:attribute (for vivace.orm models, a module that imports them "
                    "and vivace.orm's metadata) or set VIVACE_DB_METADATA",
                    file=sys.stderr,
                )
                return 1
            command.revision(config, message=args.message, autogenerate=True)
        elif args.db_command == "upgrade":
            command.upgrade(config, args.revision, sql=args.sql)
        elif args.db_command == "downgrade":
            command.downgrade(config, args.revision, sql=args.sql)
        elif args.db_command == "current":
            command.current(config)
        else:
            command.history(config)
    except (DatabaseError, CommandError) as exc:
        print(f"vivace db {args.db_command}: {exc}", file=sys.stderr)
        return 1
    except DBAPIError as exc:  # the server refused: a missing database, a failing step
        print(f"vivace db {args.db_command}: {_driver_message(exc)}", file=sys.stderr)
        if exc.statement:
            print(f"  SQL: {exc.statement}", file=sys.stderr)
        return 1
    return 0


def _driver_message(exc: Any) -> str:
    """The driver's own words, without SQLAlchemy's wrapping and background link."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _env_text(settings: MigrationConfig) -> str:
    from pathlib import Path

    env = Path(settings.directory) / "env.py"
    return env.read_text() if env.exists() else ""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vivace.db``: the same commands as ``vivace db``."""
    parser = argparse.ArgumentParser(prog="python -m vivace.db", description=__doc__)
    configure(parser)
    args = parser.parse_args(argv)
    return run(args)
