"""Database URLs: which backend, where, and with which options.

Accepted forms::

    postgresql://user:password@host:5432/dbname?sslmode=require   (also postgres://)
    mysql://user:password@host:3306/dbname?charset=utf8mb4        (also mariadb://)
    sqlite:///relative/path.db        sqlite:////absolute/path.db
    sqlite:///:memory:                sqlite://            (an in-memory database)

A ``+driver`` suffix naming the driver vivace uses (``postgresql+asyncpg``,
``mysql+asyncmy``) is accepted, so URLs written for SQLAlchemy work unchanged.  Query
parameters are handed to the backend (see docs/db.md for the ones each understands).
The password never appears in ``repr`` or ``str``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ._errors import InterfaceError

__all__ = ["DatabaseURL"]

_SCHEMES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "postgresql+asyncpg": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mysql+asyncmy": "mysql",
    "mariadb+asyncmy": "mysql",
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
}


class DatabaseURL:
    """A parsed database URL.

    >>> url = DatabaseURL("postgresql://app:s3cret@db.local:5433/shop?sslmode=require")
    >>> url.backend, url.host, url.port, url.database, url.options
    ('postgresql', 'db.local', 5433, 'shop', {'sslmode': 'require'})
    >>> url
    DatabaseURL('postgresql://app:***@db.local:5433/shop?sslmode=require')
    >>> DatabaseURL("sqlite:///:memory:").database
    ':memory:'
    """

    __slots__ = (
        "_text",
        "backend",
        "database",
        "host",
        "options",
        "password",
        "port",
        "scheme",
        "username",
    )

    def __init__(self, url: str | DatabaseURL) -> None:
        text: str = url._text if isinstance(url, DatabaseURL) else url
        url = text
        self._text: str = text
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InterfaceError(f"invalid database URL {self._redacted(url)!r}: {exc}") from None
        scheme = parts.scheme.lower()
        backend = _SCHEMES.get(scheme)
        if backend is None:
            known = ", ".join(sorted({s.split("+")[0] for s in _SCHEMES}))
            raise InterfaceError(
                f"unsupported database URL scheme {parts.scheme!r} (supported: {known})"
            )
        self.scheme = scheme
        self.backend = backend
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password is not None else None
        self.host = parts.hostname or None
        self.port = port
        self.options = dict(parse_qsl(parts.query, keep_blank_values=True))
        if backend == "sqlite":
            # sqlite:///rel.db → "rel.db"; sqlite:////abs.db → "/abs.db"; sqlite:// → memory.
            path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
            if parts.netloc:
                raise InterfaceError(
                    f"a SQLite URL has no host: use sqlite:///relative.db or "
                    f"sqlite:////absolute.db, not {self._redacted(url)!r}"
                )
            self.database: str | None = path or ":memory:"
        else:
            self.database = unquote(parts.path.lstrip("/")) or None

    @property
    def is_memory(self) -> bool:
        """True for an in-memory SQLite database (one connection holds all of it)."""
        database = self.database or ""
        return self.backend == "sqlite" and (
            database == ":memory:" or database.startswith("file::memory:")
        )

    def sqlalchemy_url(self) -> str:
        """The URL SQLAlchemy (and so Alembic) takes for this database.

        >>> DatabaseURL("postgres://u@h/db").sqlalchemy_url()
        'postgresql+asyncpg://u@h/db'
        """
        driver = {
            "postgresql": "postgresql+asyncpg",
            "mysql": "mysql+asyncmy",
            "sqlite": "sqlite",
        }[self.backend]
        return driver + self._text[self._text.index(":") :]

    @staticmethod
    def _redacted(text: str) -> str:
        try:
            parts = urlsplit(text)
        except ValueError:
            return "<unparsable URL>"
        if parts.password is None:
            return text
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()

    def __str__(self) -> str:
        return self._redacted(self._text)

    def __repr__(self) -> str:
        return f"DatabaseURL({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DatabaseURL):
            return self._text == other._text
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._text)

    @classmethod
    def build(
        cls,
        backend: str,
        *,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        database: str | None = None,
    ) -> DatabaseURL:
        """Build a URL from parts, quoting them.

        >>> str(DatabaseURL.build("mysql", host="h", username="u", password="p@ss", database="d"))
        'mysql://u:***@h/d'
        """
        auth = ""
        if username is not None:
            auth = quote(username, safe="")
            if password is not None:
                auth += ":" + quote(password, safe="")
            auth += "@"
        netloc = auth + (host or "") + (f":{port}" if port is not None else "")
        return cls(f"{backend}://{netloc}/{quote(database or '', safe='/:')}")
