"""The ``vivace`` command. Each layer adds its own subcommand from its ``_cli`` module.

    vivace run examples.app:app --port 8000

A layer contributes a function that adds its subcommand to argparse's subparsers and sets
``handler`` (the function that runs it and returns the exit status); adding a layer is one
line in ``COMMANDS``. A layer whose optional dependencies are missing is left out of the
command rather than breaking the others.

``vivace <command> ...`` imports only that command's layer: importing ``vivace.auth``
puts its tables in ``vivace.orm.metadata``, so ``vivace db makemigrations`` would
otherwise write them into every app's migrations (and ``python -m vivace.db
makemigrations``, which never imports them, would then propose dropping them).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main", "parser"]

#: Each subcommand -> the ``module:function`` of its layer's registration.
COMMANDS = {
    "run": "vivace.server._cli:register",
    "db": "vivace.db._cli:add_parser",
    "auth": "vivace.auth._cli:add_parser",
}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with ``command``'s subcommand registered (every layer's when
    ``command`` is None or names none)."""
    from vivace import __version__

    root = argparse.ArgumentParser(prog="vivace", description="vivace: an async web stack")
    root.add_argument("--version", action="version", version=f"vivace {__version__}")
    subparsers = root.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    entries = [COMMANDS[command]] if command in COMMANDS else list(COMMANDS.values())
    for entry in entries:
        module_name, _, function = entry.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # the layer's optional dependencies are not installed
            continue
        getattr(module, function)(subparsers)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``vivace`` command; returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser(words[0] if words else None).parse_args(words)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
