"""The ``vivace`` command. Each layer adds its own subcommand from its ``_cli`` module.

    vivace run examples.app:app --port 8000

A layer contributes a function that adds its subcommand to argparse's subparsers and sets
``handler`` (the function that runs it and returns the exit status); adding a layer is one
line in ``COMMANDS``. A layer whose optional dependencies are missing is left out of the
command rather than breaking the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main", "parser"]

#: ``module:function`` of each layer's subcommand registration.
COMMANDS = [
    "vivace.server._cli:register",
    "vivace.db._cli:add_parser",
    "vivace.auth._cli:add_parser",
]


def parser() -> argparse.ArgumentParser:
    """The argument parser with every layer's subcommand registered."""
    from vivace import __version__

    root = argparse.ArgumentParser(prog="vivace", description="vivace: an async web stack")
    root.add_argument("--version", action="version", version=f"vivace {__version__}")
    subparsers = root.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for entry in COMMANDS:
        module_name, _, function = entry.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # the layer's optional dependencies are not installed
            continue
        getattr(module, function)(subparsers)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``vivace`` command; returns the exit status."""
    args = parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
