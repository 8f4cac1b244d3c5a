"""The private parts of SQLAlchemy and asyncmy that vivace.db relies on, in one place.

vivace.db compiles SQLAlchemy Core statements once per shape and runs them on the
drivers directly (``_compile.py``), without SQLAlchemy's engine. Where SQLAlchemy has a
public way, vivace uses it (a type's processors come from ``dialect_impl(dialect)``); these
have none:

- ``statement._generate_cache_key()``: the shape of a statement and the literal values
  extracted from it, which is what lets one compiled form serve every statement of that
  shape (SQLAlchemy's own engine cache works the same way; it is not public API).
- ``compiled._bind_processors`` and ``compiled._result_columns``: the compiled statement's
  parameter converters and result column types, read once per statement shape.
- ``compiled._process_parameters_for_postcompile(params)``: renders "expanding" IN lists
  from parameters that were built with the cache key's extracted values. The public
  ``construct_expanded_state()`` builds its parameters itself and cannot take them.
- The MySQL dialect's ``_parse_server_version`` and ``_initialize_mariadb`` /
  ``_initialize_mysql``: what ``dialect.initialize(connection)`` does from the server's
  version string, without the sync DBAPI connection ``initialize`` wants.
- asyncmy's ``Connection._stream_broken``: set when a read or write on the socket failed;
  ``connected`` alone stays true after a server-side kill until the next call fails.

tests/db/test_compat.py checks each one against the installed versions and fails, naming
it, when a release changes it. SQLAlchemy and asyncmy are imported by the callers (this
module takes their objects), so importing it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "asyncmy_stream_broken",
    "bind_processors",
    "cache_key",
    "expand_postcompile",
    "initialize_mysql_dialect",
    "result_types",
]


def cache_key(statement: Any) -> Any:
    """The statement's ``CacheKey`` (``.key``, ``.bindparams``), or None if uncacheable.

    Raises AttributeError for an object that is not a SQLAlchemy statement.
    """
    return statement._generate_cache_key()


def bind_processors(compiled: Any) -> Mapping[str, Callable[[Any], Any]]:
    """Parameter name -> converter, for the parameters that need one."""
    processors: Mapping[str, Callable[[Any], Any]] = compiled._bind_processors
    return processors


def result_types(compiled: Any) -> list[Any]:
    """The SQLAlchemy type of each result column, in order (empty: no result columns)."""
    return [entry.type for entry in compiled._result_columns]


def expand_postcompile(compiled: Any, params: dict[str, Any]) -> Any:
    """``ExpandedState`` (``statement``, ``positiontup``, ``parameters``, ``processors``)."""
    return compiled._process_parameters_for_postcompile(params)


def initialize_mysql_dialect(dialect: Any, server_version: str) -> None:
    """Configure SQLAlchemy's MySQL dialect for a server from its version string."""
    dialect._parse_server_version(server_version)
    if dialect.is_mariadb:
        dialect._initialize_mariadb(None)
    else:
        dialect._initialize_mysql(None)


def asyncmy_stream_broken(connection: Any) -> bool:
    """asyncmy saw its socket fail (the connection is dead even if ``connected``)."""
    return bool(connection._stream_broken)
