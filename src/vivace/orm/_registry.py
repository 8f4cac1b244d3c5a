"""The model registry: names to classes, lazy references, and the database binding.

Models refer to each other by class or by name (``ForeignKey("Author")``, ``"self"``,
``"blog.models.Author"``); a name may point at a model defined later.  Such references
wait in ``pending`` and are resolved the moment their target is defined; a model's
table is built once every model it refers to is known.

The database: ``vivace.orm.bind(db)`` makes ``db`` (a ``vivace.db.Database``) the one
every model uses; ``queryset.using(db)`` and ``save(using=db)`` pick another.  Per
database the ORM keeps a ``Connection`` with what depends on the backend: the dialect
the SQL is rendered for, the backend's value converters, and the compiled-SQL cache.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import ModelDefinitionError, ORMError

if TYPE_CHECKING:
    from vivace.db import Database

    from ._model import Model

__all__ = ["Connection", "Registry", "bind", "connection_for", "registry", "unbind"]

# Compiled shapes kept per database before the oldest half is dropped: querysets of
# changing shapes (IN lists of many lengths) must not grow memory without bound.
CACHE_SIZE = 4000


class Registry:
    """Every model class, by qualified name (``module.Class``) and by class name."""

    def __init__(self) -> None:
        self.by_qualified: dict[str, type[Model]] = {}
        self.by_name: dict[str, list[type[Model]]] = {}
        self.pending: list[tuple[str, str, Callable[[type[Model]], None]]] = []
        self._resolving = False
        self.version = 0  # bumped when a relation is added (deletion plans depend on it)

    def register(self, model: type[Model]) -> None:
        qualified = f"{model.__module__}.{model.__qualname__}"
        self.by_qualified[qualified] = model
        same = self.by_name.setdefault(model.__name__, [])
        same[:] = [m for m in same if f"{m.__module__}.{m.__qualname__}" != qualified]
        same.append(model)
        self.by_qualified[f"{model.__module__}.{model.__name__}"] = model
        self.resolve_pending()

    def lookup(self, reference: str, module: str) -> type[Model] | None:
        """The model ``reference`` names, seen from a model defined in ``module``: a
        class name means that class in the same module (defined before or after); a
        model of another module is named ``"package.module.Class"`` (or passed itself)."""
        found = self.by_qualified.get(reference)
        if found is not None:
            return found
        for model in reversed(self.by_name.get(reference, [])):
            if model.__module__ == module:
                return model
        return None

    def later(self, reference: str, module: str, callback: Callable[[type[Model]], None]) -> None:
        """Call ``callback(model)`` once ``reference`` names a defined model."""
        model = self.lookup(reference, module)
        if model is not None:
            callback(model)
        else:
            self.pending.append((reference, module, callback))

    def resolve_pending(self) -> None:
        if self._resolving:
            return  # a model defined by a callback (a join table): the outer loop goes on
        self._resolving = True
        try:
            progress = True
            while progress and self.pending:
                progress = False
                for entry in list(self.pending):
                    if entry not in self.pending:
                        continue
                    reference, module, callback = entry
                    model = self.lookup(reference, module)
                    if model is not None:
                        self.pending.remove(entry)
                        callback(model)
                        progress = True
        finally:
            self._resolving = False

    def unresolved(self, module: str | None = None) -> list[str]:
        return [ref for ref, mod, _ in self.pending if module is None or mod == module]


registry = Registry()


class Connection:
    """What the ORM keeps per database: dialect, converters, compiled shapes."""

    __slots__ = ("backend", "cache", "database", "dialect", "returning")

    def __init__(self, database: Database) -> None:
        self.database = database
        self.backend: str = database.url.backend
        self.cache: dict[Any, Any] = {}
        self.dialect: Any = None  # set by prepare() once the database is connected
        self.returning = True

    def prepare(self) -> None:
        """Copy the database's dialect (after connect: it knows the server version) and
        switch it to ``:name`` parameters, which vivace.db rewrites for the driver."""
        dialect = copy.copy(self.database.dialect)
        dialect.paramstyle = "named"
        dialect.positional = False
        self.dialect = dialect
        self.returning = bool(dialect.insert_returning)

    def remember(self, key: Any, value: Any) -> Any:
        cache = self.cache
        if len(cache) >= CACHE_SIZE:
            for old in list(cache)[: CACHE_SIZE // 2]:
                del cache[old]
        cache[key] = value
        return value


_connections: dict[Any, Connection] = {}
_default: list[Connection] = []


def bind(database: Database) -> Database | None:
    """Make ``database`` the one every model uses (until ``unbind()`` or another bind);
    returns the database bound before, if any.

    >>> from vivace.db import Database
    >>> first, second = Database("sqlite://"), Database("sqlite://")
    >>> _ = bind(first)
    >>> bind(second) is first
    True
    >>> unbind()
    """
    previous = _default[0].database if _default else None
    _default[:] = [_connection(database)]
    return previous


def unbind() -> None:
    """Forget the default database."""
    _default.clear()


def database(using: Database | None = None) -> Database:
    """The database a query with ``.using(using)`` runs on: ``using``, else the bound one.

    For work that must share a transaction with the ORM's queries:
    ``async with orm.database(using).transaction(): ...``.
    """
    return connection_for(using).database


def _connection(database: Database) -> Connection:
    found = _connections.get(database)
    if found is None:
        found = _connections[database] = Connection(database)
    return found


def connection_for(database: Database | None) -> Connection:
    """The ORM's Connection for ``database`` (the bound default when None)."""
    if database is None:
        if not _default:
            raise ORMError(
                "no database: call vivace.orm.bind(db) with a vivace.db.Database first, "
                "or pick one per query with .using(db)"
            )
        connection = _default[0]
    else:
        connection = _connection(database)
    if connection.dialect is None:
        if not connection.database.is_connected:
            from vivace.db import DatabaseNotConnected

            raise DatabaseNotConnected(
                f"database {connection.database.url} is not connected: call "
                f"`await db.connect()` first (or use `async with db:` / the lifespan)"
            )
        connection.prepare()
    return connection


def check_resolved(model: type[Model]) -> None:
    """Raise if ``model`` still refers to a model that was never defined."""
    missing = [
        ref for ref, _, callback in registry.pending if getattr(callback, "owner", None) is model
    ]
    if missing:
        known = ", ".join(sorted(registry.by_name)) or "none"
        raise ModelDefinitionError(
            f"{model.__name__} refers to {', '.join(repr(m) for m in missing)}, which is not "
            f"a defined model (known models: {known})"
        )
