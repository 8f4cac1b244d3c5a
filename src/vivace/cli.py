"""The ``vivace`` command. Each layer adds its own subcommand from its ``_cli`` module.

    vivace run examples.app:app --port 8000

A layer contributes ``register(subparsers)``; adding one is one line in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main", "parser"]

#: Modules that each define ``register(subparsers)``.
COMMANDS = [
    "vivace.server._cli",
]


def parser() -> argparse.ArgumentParser:
    """The argument parser with every layer's subcommand registered."""
    from vivace import __version__

    root = argparse.ArgumentParser(prog="vivace", description="vivace: an async web stack")
    root.add_argument("--version", action="version", version=f"vivace {__version__}")
    subparsers = root.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMANDS:
        importlib.import_module(module).register(subparsers)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``vivace`` command; returns the exit status."""
    args = parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
