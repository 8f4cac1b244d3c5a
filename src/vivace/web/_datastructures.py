"""Small value types of the framework: ``State``, ``Address``, ``URLPath``, ``UploadFile``
and ``FormData``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from tempfile import SpooledTemporaryFile
from typing import IO, Any, NamedTuple

from vivace.http import URL, Headers, ImmutableMultiDict
from vivace.web._concurrency import io_pool

__all__ = ["Address", "FormData", "State", "URLPath", "UploadFile"]


class State:
    """A namespace with attribute access over a dict: ``app.state``, ``request.state``.

    ``request.state`` wraps the request scope's ``"state"``: the lifespan state the server
    copied into this request, plus what middleware and handlers add to it.

    >>> state = State({"db": "pool"})
    >>> state.db
    'pool'
    >>> state.user = "ada"
    >>> state.missing
    Traceback (most recent call last):
        ...
    AttributeError: 'State' object has no attribute 'missing': it was never set (set: db, user)

    A missing name on an empty state usually means the lifespan never ran (a test client
    used without ``with``), and the message says so.
    """

    __slots__ = ("_state",)

    _state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", {} if state is None else state)

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        # Python calls this only after normal lookup failed; the message is built only
        # on a miss, so a hit costs one dict lookup as before.
        try:
            return self._state[key]
        except KeyError:
            raise self._missing(key) from None

    def __delattr__(self, key: str) -> None:
        try:
            del self._state[key]
        except KeyError:
            raise self._missing(key) from None

    def _missing(self, key: str) -> AttributeError:
        # Issue 19: "'State' object has no attribute 'db'" left a newcomer guessing that
        # TestClient(app) without ``with`` never ran the lifespan that sets it.
        message = f"'State' object has no attribute {key!r}: it was never set"
        if key.startswith("__"):  # copy, pickle and friends probing for protocols
            return AttributeError(message, name=key, obj=self)
        names = [name for name in self._state if isinstance(name, str)]
        if names:
            message += f" (set: {', '.join(sorted(names))})"
        else:
            message += (
                " and this state is empty: did the app's lifespan run? Values a lifespan "
                "stores appear only once it has started; in a test, enter the client: "
                "`with TestClient(app) as client:` (or `async with AsyncTestClient(app)`)"
            )
        return AttributeError(message, name=key, obj=self)

    def __contains__(self, key: str) -> bool:
        return key in self._state

    def __repr__(self) -> str:
        return f"State({self._state!r})"


class Address(NamedTuple):
    """A peer address: ``request.client``."""

    host: str
    port: int


class URLPath(str):
    """A path built by ``url_path_for``; a ``str`` that can be made absolute.

    >>> path = URLPath("/users/7")
    >>> str(path.make_absolute_url("https://example.com/app/"))
    'https://example.com/app/users/7'
    """

    __slots__ = ("host", "protocol")

    protocol: str
    host: str

    def __new__(cls, path: str, protocol: str = "", host: str = "") -> URLPath:
        self = super().__new__(cls, path)
        self.protocol = protocol
        self.host = host
        return self

    def make_absolute_url(self, base_url: str | URL) -> URL:
        """Join to ``base_url`` (scheme, host and root path of the app)."""
        base = base_url if isinstance(base_url, URL) else URL(base_url)
        scheme = base.scheme
        if self.protocol == "websocket":
            scheme = "wss" if base.is_secure else "ws"
        elif self.protocol == "http":
            scheme = "https" if base.is_secure else "http"
        netloc = self.host or base.netloc
        path = base.raw_path.rstrip("/") + str(self)
        return URL(scheme=scheme, netloc=netloc, path=path)


class UploadFile:
    """An uploaded file: in memory up to the spool size, then in a temporary file.

    The ``filename`` is what the client sent: untrusted text, never a safe path.
    ``read``, ``write`` and ``seek`` are async and go to a thread only once the file is
    on disk.
    """

    __slots__ = ("content_type", "file", "filename", "headers", "size")

    def __init__(
        self,
        file: IO[bytes],
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
        content_type: str | None = None,
    ) -> None:
        self.file = file
        self.size = size
        self.filename = filename
        self.headers = headers if headers is not None else Headers()
        self.content_type = (
            content_type if content_type is not None else self.headers.get("content-type")
        )

    @property
    def _in_memory(self) -> bool:
        rolled = getattr(self.file, "_rolled", True)
        return not rolled

    async def write(self, data: bytes) -> None:
        """Append ``data`` (the size grows with it)."""
        if self.size is not None:
            self.size += len(data)
        if self._in_memory:
            self.file.write(data)
        else:
            await io_pool.run(self.file.write, data)

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left by default)."""
        if self._in_memory:
            return self.file.read(size)
        return await io_pool.run(self.file.read, size)

    async def seek(self, offset: int) -> None:
        """Move to ``offset``."""
        if self._in_memory:
            self.file.seek(offset)
        else:
            await io_pool.run(self.file.seek, offset)

    async def close(self) -> None:
        """Close the file (a temporary file on disk is deleted)."""
        if self._in_memory:
            self.file.close()
        else:
            await io_pool.run(self.file.close)

    def __repr__(self) -> str:
        return (
            f"UploadFile(filename={self.filename!r}, size={self.size!r}, "
            f"content_type={self.content_type!r})"
        )


def spooled_file(spool_size: int) -> SpooledTemporaryFile[bytes]:
    """A temporary file kept in memory up to ``spool_size`` bytes."""
    return SpooledTemporaryFile(max_size=spool_size)


class FormData(ImmutableMultiDict[str, "str | UploadFile"]):
    """The fields and files of a form body; ``await form.close()`` closes the files.

    >>> form = FormData([("name", "ada"), ("tag", "a"), ("tag", "b")])
    >>> form["name"], form.getlist("tag")
    ('ada', ['a', 'b'])
    """

    __slots__ = ()

    def __init__(
        self,
        items: Mapping[str, str | UploadFile]
        | Iterable[tuple[str, str | UploadFile]]
        | None = None,
    ) -> None:
        super().__init__(items)

    async def close(self) -> None:
        """Close every uploaded file."""
        for _, value in self.multi_items():
            if isinstance(value, UploadFile):
                await value.close()
