"""``vivace run``: the server's subcommand, its flags built from the options table."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vivace.server._config import OPTIONS, Config
from vivace.server._errors import LifespanFailure
from vivace.server._startup import Failure, describe

__all__ = ["register"]

STARTUP_FAILURE = 3


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand to the ``vivace`` command's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="serve an ASGI app",
        description=(
            "Serve an ASGI app. Every option can also be set with an environment variable "
            "VIVACE_<OPTION> (for example VIVACE_PORT=9000); a flag wins over the variable."
        ),
    )
    parser.add_argument("app", help="the app as module:attribute (module:factory with --factory)")
    for option in OPTIONS:
        flags = [option.flag, *option.aliases]
        help_text = f"{option.help} [env {option.env}; default {option.default!r}]"
        help_text = help_text.replace("%", "%%")  # argparse formats help with %
        kwargs: dict[str, Any] = {"dest": option.name, "default": argparse.SUPPRESS}
        if option.kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.kind == "list":
            kwargs["action"] = "append"
            kwargs["metavar"] = option.metavar or "VALUE"
        elif option.kind == "choice":
            kwargs["choices"] = option.choices
        else:
            kwargs["type"] = {"int": int, "float": float}.get(option.kind, str)
            if option.metavar:
                kwargs["metavar"] = option.metavar
        parser.add_argument(*flags, help=help_text, **kwargs)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    """Serve; a failure to start prints the user's traceback and one line, exit status 3."""
    options = {k: v for k, v in vars(args).items() if k not in ("app", "handler", "command")}
    for name, value in list(options.items()):
        if isinstance(value, list):  # repeated list flags, each possibly comma-separated
            options[name] = [part for item in value for part in item.split(",") if part]
    config: Config | None = None
    server = None
    try:
        config = Config(args.app, **options)
        config.configure_logging()
        if config.supervised:
            from vivace.server._supervisor import Supervisor

            supervisor = Supervisor(config)
            status = supervisor.run()
            if status == STARTUP_FAILURE and supervisor.failure is not None:
                _report(supervisor.failure)
            return status
        from vivace.server._server import Server

        server = Server(config)
        server.run()
    except KeyboardInterrupt:  # pragma: no cover - a second Ctrl-C
        return 130
    except Exception as exc:
        if server is not None and server.started.is_set():
            if isinstance(exc, LifespanFailure):
                # The lifespan shutdown failed: its traceback was logged when it happened
                # (_lifespan), so one line, not the server's own frames on top.
                print(f"vivace: lifespan {exc.phase} failed: {exc}", file=sys.stderr)
                return 1
            if isinstance(exc, OSError):
                print(f"vivace: {exc}", file=sys.stderr)
                return 1
            raise  # a failure while serving, not at start-up: the full traceback
        _report(
            describe(
                exc,
                args.app,
                factory=config is not None and config.factory,
                where=_address(config),
            )
        )
        return STARTUP_FAILURE
    return 0


def _address(config: Config | None) -> str:
    if config is None:
        return ""
    if config.uds is not None:
        return f"unix:{config.uds}"
    if config.fd is not None:
        return f"fd {config.fd}"
    return f"{config.host}:{config.port}"


def _report(failure: Failure) -> None:
    if failure.traceback:
        print(failure.traceback, end="", file=sys.stderr)
    print(f"vivace: {failure.line}", file=sys.stderr)
