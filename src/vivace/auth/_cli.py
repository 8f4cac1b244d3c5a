"""``vivace auth ...``: user administration from the command line.

    vivace auth createuser ada --email ada@example.com [--superuser]
        [--url sqlite:///app.db] [--user-model app.models:Member]
        [--password-stdin | --no-password]

The database is ``--url``, else ``$VIVACE_DATABASE_URL``. The password is asked twice
on the terminal (never taken from the command line, where ``ps`` and shell history
would show it), read from the first line of standard input with ``--password-stdin``,
or left unusable with ``--no-password``. Exit status: 0 created, 1 refused.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import os
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``auth`` command group to the ``vivace`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "auth", help="users and passwords", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="auth_command", required=True, metavar="COMMAND")
    create = commands.add_parser("createuser", help="create a user")
    create.add_argument("username")
    create.add_argument("--email", default="")
    create.add_argument("--superuser", action="store_true", help="staff and superuser")
    create.add_argument("--url", help="database URL (default: $VIVACE_DATABASE_URL)")
    create.add_argument(
        "--user-model", help="the user model as module:Class (default: vivace.auth:User)"
    )
    source = create.add_mutually_exclusive_group()
    source.add_argument("--password-stdin", action="store_true", help="read the password")
    source.add_argument("--no-password", action="store_true", help="an unusable password")
    parser.set_defaults(handler=run)
    return parser


def _user_model(spec: str | None) -> Any:
    from vivace.auth._models import User

    if not spec:
        return User
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"--user-model is module:Class, not {spec!r}")
    return getattr(importlib.import_module(module_name), attribute)


def _password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise ValueError("no password on standard input")
        return line
    if not sys.stdin.isatty():
        raise ValueError("no terminal to ask the password on: use --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise ValueError("the passwords do not match")
    if not first:
        raise ValueError("an empty password")
    return first


async def _create(args: argparse.Namespace, url: str, password: str | None) -> Any:
    from vivace.auth._core import Auth
    from vivace.auth._hashers import unusable_password
    from vivace.db import Database
    from vivace.orm import ValidationError

    auth = Auth(user_model=_user_model(args.user_model))
    try:
        async with Database(url) as database:
            auth.using = database
            model = auth.user_model
            field = model.USERNAME_FIELD
            if await model.objects.using(database).filter(**{field: args.username}).exists():
                raise ValueError(f"a user {args.username!r} already exists")
            fields: dict[str, Any] = {"email": args.email}
            if args.superuser:
                fields.update(is_staff=True, is_superuser=True)
            # The model's own rules first (blank, max_length ...), as Django's
            # createsuperuser does: SQLite would keep a 200-character username.
            candidate = model(**{field: args.username, **fields, "password": unusable_password()})
            try:
                await candidate.full_clean(validate_unique=False, using=database)
            except ValidationError as exc:
                raise ValueError(str(exc)) from None
            return await auth.create_user(args.username, password, **fields)
    finally:
        auth.passwords.close()


def run(args: argparse.Namespace) -> int:
    """Run ``vivace auth <command>``; the exit status."""
    from vivace.db import DatabaseError, ProgrammingError

    url = args.url or os.environ.get("VIVACE_DATABASE_URL")
    if not url:
        print("vivace auth: no database: give --url or set VIVACE_DATABASE_URL", file=sys.stderr)
        return 1
    try:
        password = _password(args)
        user = asyncio.run(_create(args, url, password))
    except (ValueError, ImportError, AttributeError) as exc:
        print(f"vivace auth: {exc}", file=sys.stderr)
        return 1
    except DatabaseError as exc:  # a missing table, a server that refuses ...
        missing = isinstance(exc, ProgrammingError)  # no such table
        hint = " (run the migrations: vivace db upgrade)" if missing else ""
        print(f"vivace auth: {str(exc).splitlines()[0]}{hint}", file=sys.stderr)
        return 1
    print(f"created user {user.display_name!r} (id {user.pk})")
    return 0
