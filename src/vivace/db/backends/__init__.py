"""Backends: one module per database family, each wrapping its driver.

A backend module exposes a ``Backend`` class (a subclass of ``vivace.db.backends.base.
Backend``) that knows how to open connections, which placeholder style and SQLAlchemy
dialect its driver uses, and how to translate the driver's errors.  The driver is
imported only inside its backend module, with an error naming the extra to install.
"""

from __future__ import annotations

from .base import Backend, BackendConnection

__all__ = ["Backend", "BackendConnection", "get_backend"]


def get_backend(name: str) -> type[Backend]:
    """The Backend class for ``postgresql``, ``mysql`` or ``sqlite``."""
    if name == "postgresql":
        from .postgres import PostgresBackend

        return PostgresBackend
    if name == "mysql":
        from .mysql import MySQLBackend

        return MySQLBackend
    from .sqlite import SQLiteBackend

    return SQLiteBackend
