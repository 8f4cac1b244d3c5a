"""``URL``: an immutable, parsed URL, built from a string, from parts, or from an ASGI scope.

The URL is kept as its encoded text. ``path`` gives the percent-decoded path (what
routing compares), ``raw_path`` the encoded one (what goes on the wire); ``target`` is the
request target of RFC 9112 section 3.2 (``raw_path`` plus ``?query``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

from vivace.http._errors import InvalidURL
from vivace.http._multidict import QueryParams

__all__ = ["DEFAULT_PORTS", "URL", "encoded_path"]

DEFAULT_PORTS: Mapping[str, int] = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# Characters left as they are when quoting a decoded path: RFC 3986 pchar and "/", plus "%"
# is NOT safe, so a literal "%" in a decoded path is encoded as "%25".
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _host_from_scope(scope: Mapping[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host: str = value.decode("latin-1")
            return host
    return None


def encoded_path(scope: Mapping[str, Any]) -> str:
    """The request path of an ASGI scope, percent-encoded as the client sent it.

    ``raw_path`` when it decodes to ``path``: ``/docs/a%3Fb`` stays ``/docs/a%3Fb``, not
    ``/docs/a?b`` (a query) nor ``/docs/a%253Fb``. Otherwise ``path`` quoted: ``path``
    includes ``root_path`` (ASGI), and a mount changes ``root_path`` and ``path`` but not
    ``raw_path``, so they can disagree; some servers send no ``raw_path``.

    >>> encoded_path({"path": "/docs/a?b", "raw_path": b"/docs/a%3Fb"})
    '/docs/a%3Fb'
    >>> encoded_path({"path": "/docs/100%"})
    '/docs/100%25'
    """
    path: str = scope.get("path", "/")
    raw_path = scope.get("raw_path")
    if raw_path:
        raw: str = raw_path.decode("latin-1")
        # Only a well-formed encoded path: a raw_path holding "?", "#", spaces or
        # controls (a server that passes the target through) is not one.
        if _ENCODED_PATH.fullmatch(raw) is not None and unquote(raw) == path:
            return raw
    return quote(path, safe=_PATH_SAFE)


_ENCODED_PATH = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=\-._~%]*")


class URL:
    """An immutable URL.

    >>> url = URL("https://user:pw@example.com:8443/caf%C3%A9?q=1#top")
    >>> url.scheme, url.hostname, url.port, url.path, url.query
    ('https', 'example.com', 8443, '/café', 'q=1')
    >>> str(url.replace(scheme="http", port=None, fragment=""))
    'http://user:pw@example.com/caf%C3%A9?q=1'
    >>> str(URL("http://a.test/x/y").join("../z"))
    'http://a.test/z'
    >>> url   # the password is masked in repr
    URL('https://user:********@example.com:8443/caf%C3%A9?q=1#top')
    """

    __slots__ = ("_parts", "_url")

    _url: str
    _parts: SplitResult | None

    def __init__(
        self, url: str = "", *, scope: Mapping[str, Any] | None = None, **components: Any
    ) -> None:
        if scope is not None:
            if url or components:
                raise TypeError("pass either 'url', 'scope' or components, not several")
            url = self._from_scope(scope)
        elif components:
            if url:
                raise TypeError("pass either 'url', 'scope' or components, not several")
            url = URL("").replace(**components)._url
        self._url = url
        self._parts = None

    @staticmethod
    def _from_scope(scope: Mapping[str, Any]) -> str:
        scheme = scope.get("scheme", "http")
        path = encoded_path(scope)
        query = scope.get("query_string", b"")
        host = _host_from_scope(scope)
        server = scope.get("server")
        if host is not None:
            url = f"{scheme}://{host}{path}"
        elif server is None:
            url = path
        else:
            host_, port = server
            if port is None or DEFAULT_PORTS.get(scheme) == port:
                url = f"{scheme}://{host_}{path}"
            else:
                url = f"{scheme}://{host_}:{port}{path}"
        if query:
            url += "?" + query.decode("latin-1")
        return url

    @property
    def components(self) -> SplitResult:
        """The ``urllib.parse.SplitResult`` of this URL (parsed once, on first use)."""
        parts = self._parts
        if parts is None:
            try:
                parts = self._parts = urlsplit(self._url)
            except ValueError as exc:
                raise InvalidURL(f"invalid URL {self._url!r}: {exc}", url=self._url) from None
        return parts

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        """The percent-decoded path."""
        return unquote(self.components.path)

    @property
    def raw_path(self) -> str:
        """The path as written in the URL, percent-encoding kept (``"/"`` when empty)."""
        return self.components.path or "/"

    @property
    def target(self) -> str:
        """The origin-form request target: ``raw_path`` and ``?query`` if any."""
        query = self.components.query
        return f"{self.raw_path}?{query}" if query else self.raw_path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def query_params(self) -> QueryParams:
        return QueryParams(self.components.query)

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> str | None:
        user = self.components.username
        return None if user is None else unquote(user)

    @property
    def password(self) -> str | None:
        password = self.components.password
        return None if password is None else unquote(password)

    @property
    def hostname(self) -> str | None:
        return self.components.hostname

    @property
    def port(self) -> int | None:
        """The explicit port, or ``None`` when the URL names none."""
        try:
            return self.components.port
        except ValueError as exc:
            raise InvalidURL(f"invalid port in URL {self._url!r}: {exc}", url=self._url) from None

    @property
    def effective_port(self) -> int | None:
        """The explicit port, else the scheme's default port (``None`` if unknown)."""
        port = self.port
        return port if port is not None else DEFAULT_PORTS.get(self.scheme)

    @property
    def origin(self) -> tuple[str, str, int | None]:
        """``(scheme, hostname, effective_port)``: what same-origin checks compare."""
        return (self.scheme, (self.hostname or "").lower(), self.effective_port)

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    @property
    def is_absolute(self) -> bool:
        return bool(self.components.scheme and self.components.netloc)

    def replace(self, **kwargs: Any) -> URL:
        """A copy with some parts changed.

        Accepts the ``SplitResult`` parts (``scheme``, ``netloc``, ``path``, ``query``,
        ``fragment``) and ``hostname``, ``port``, ``username``, ``password``, which rebuild
        the netloc (``port=None`` drops the port).
        """
        if {"hostname", "port", "username", "password"} & kwargs.keys():
            hostname = kwargs.pop("hostname", None)
            port = kwargs.pop("port", self.port)
            username = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)
            if hostname is None:
                netloc = self.netloc
                hostname = netloc.rpartition("@")[2]
                if hostname.startswith("["):  # IPv6 literal: keep the brackets
                    hostname = hostname[: hostname.index("]") + 1]
                else:
                    hostname = hostname.partition(":")[0]
            elif ":" in hostname and not hostname.startswith("["):
                hostname = f"[{hostname}]"
            netloc = hostname
            if port is not None:
                netloc += f":{port}"
            if username is not None:
                userinfo = quote(username, safe="")
                if password is not None:
                    userinfo += ":" + quote(password, safe="")
                netloc = f"{userinfo}@{netloc}"
            kwargs["netloc"] = netloc
        return URL(self.components._replace(**kwargs).geturl())

    def include_query_params(self, **kwargs: Any) -> URL:
        """A copy with these parameters set (others kept)."""
        params = self.query_params.multi_items()
        params = [(k, v) for k, v in params if k not in kwargs]
        params.extend((k, str(v)) for k, v in kwargs.items())
        return self.replace(query=str(QueryParams(params)))

    def replace_query_params(
        self, params: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), **kwargs: Any
    ) -> URL:
        """A copy whose query string holds exactly these parameters."""
        query = QueryParams(params, **kwargs)
        return self.replace(query=str(query))

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        """A copy without the named parameters."""
        drop = {keys} if isinstance(keys, str) else set(keys)
        kept = [(k, v) for k, v in self.query_params.multi_items() if k not in drop]
        return self.replace(query=str(QueryParams(kept)))

    def join(self, url: URL | str) -> URL:
        """Resolve ``url`` against this one, as a browser resolves a link (RFC 3986 §5)."""
        return URL(urljoin(self._url, str(url)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, URL | str):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        url = self._url
        if self.password is not None:
            parts = self.components
            userinfo, _, hostport = parts.netloc.rpartition("@")
            user = userinfo.partition(":")[0]
            url = parts._replace(netloc=f"{user}:********@{hostport}").geturl()
        return f"{type(self).__name__}({url!r})"
