"""``Cookies``: the client's cookie jar, following RFC 6265 section 5 as a browser does.

Cookies a server sets are stored with their scope: a *host-only* cookie (no ``Domain``
attribute) goes back only to the host that set it; a ``Domain=example.com`` cookie to
that domain and its subdomains (section 5.1.3), never to an IP address by suffix, and a
server cannot set one for a domain it is not in. ``Path`` limits it to a path prefix
(section 5.1.4); ``Secure`` cookies are sent only over https; expired cookies are dropped
(``Max-Age`` wins over ``Expires``). The ``Cookie`` header lists longer paths first
(section 5.4).

Cookies you set yourself (``jar["name"] = "value"``, ``cookies=`` on a client) have no
domain and are sent to every host, which is what a test client or an API client wants.
There is no public-suffix list: a ``Domain`` with no dot (``Domain=com``) is refused
unless it is the host itself.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING

from vivace.http import URL, InvalidCookie, is_token, parse_set_cookie

if TYPE_CHECKING:
    from vivace.client._models import Response

__all__ = ["CookieTypes", "Cookies"]

# Outside cookie-octet (RFC 6265 section 4.1.1), except DQUOTE which may wrap a value.
_BAD_VALUE = re.compile(r"[\x00-\x20\x7f,;\\]")


class _Cookie:
    __slots__ = ("created", "domain", "expires", "host_only", "name", "path", "secure", "value")

    def __init__(
        self,
        name: str,
        value: str,
        domain: str,
        path: str,
        *,
        host_only: bool = False,
        expires: float | None = None,
        secure: bool = False,
        created: float = 0.0,
    ) -> None:
        self.name = name
        self.value = value
        self.domain = domain
        self.path = path
        self.host_only = host_only
        self.expires = expires
        self.secure = secure
        self.created = created

    def matches(self, host: str, path: str, secure: bool, now: float) -> bool:
        if self.expires is not None and self.expires <= now:
            return False
        if self.secure and not secure:
            return False
        if self.domain and not (
            host == self.domain if self.host_only else _domain_match(host, self.domain)
        ):
            return False
        return _path_match(path, self.path)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _domain_match(host: str, domain: str) -> bool:
    # RFC 6265 section 5.1.3: identical, or a suffix after a "." of a host that is not an IP.
    return host == domain or (host.endswith("." + domain) and not _is_ip(host))


def _path_match(request_path: str, cookie_path: str) -> bool:
    # RFC 6265 section 5.1.4.
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    )


def _default_path(path: str) -> str:
    # RFC 6265 section 5.1.4: the request path up to, not including, its last "/".
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rindex("/")]


class Cookies(MutableMapping[str, str]):
    """A cookie jar: a mapping of name to value that also remembers each cookie's scope.

    >>> jar = Cookies({"theme": "dark"})
    >>> jar.extract(URL("https://api.example.com/v1/login"),
    ...             ["sid=abc; Path=/v1; Secure", "lang=en; Domain=example.com; Path=/"])
    >>> jar.header_for(URL("https://api.example.com/v1/items"))
    'sid=abc; theme=dark; lang=en'
    >>> jar.header_for(URL("http://www.example.com/"))   # not secure, other path
    'theme=dark; lang=en'
    >>> jar["sid"]
    'abc'
    """

    __slots__ = ("_cookies",)

    def __init__(
        self, cookies: Cookies | Mapping[str, str] | Iterable[tuple[str, str]] | None = None
    ) -> None:
        self._cookies: dict[tuple[str, str, str], _Cookie] = {}
        if cookies is not None:
            self.update(cookies)

    # -- mapping view: name -> value (the first match when a name has several scopes) ---

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        """Set a cookie; with no ``domain`` it is sent to every host.

        A name must be a token and a value may not hold ``;``, ``,``, spaces or control
        characters (RFC 6265 section 4.1.1), so a cookie can never split the header.
        """
        if not is_token(name):
            raise InvalidCookie(f"invalid cookie name {name!r}", name=name)
        if _BAD_VALUE.search(value) is not None:
            raise InvalidCookie(f"invalid value for cookie {name!r}: {value!r}", name=name)
        domain = domain.lstrip(".").lower()
        self._cookies[(domain, path, name)] = _Cookie(
            name, value, domain, path, created=time.time()
        )

    def get(  # type: ignore[override]
        self,
        name: str,
        default: str | None = None,
        domain: str | None = None,
        path: str | None = None,
    ) -> str | None:
        """The value of cookie ``name`` (optionally of one domain and path), or ``default``."""
        for (d, p, n), cookie in self._cookies.items():
            if n == name and (domain is None or d == domain) and (path is None or p == path):
                return cookie.value
        return default

    def delete(self, name: str, domain: str | None = None, path: str | None = None) -> None:
        """Remove cookie ``name`` (in every scope, or only the given domain / path)."""
        for key in [
            (d, p, n)
            for (d, p, n) in self._cookies
            if n == name and (domain is None or d == domain) and (path is None or p == path)
        ]:
            del self._cookies[key]

    def clear(self, domain: str | None = None, path: str | None = None) -> None:
        """Remove every cookie, or those of one domain (and path)."""
        if domain is None and path is None:
            self._cookies.clear()
            return
        for key in [
            (d, p, n)
            for (d, p, n) in self._cookies
            if (domain is None or d == domain) and (path is None or p == path)
        ]:
            del self._cookies[key]

    def update(  # type: ignore[override]
        self, cookies: Cookies | Mapping[str, str] | Iterable[tuple[str, str]] = ()
    ) -> None:
        if isinstance(cookies, Cookies):
            for key, cookie in cookies._cookies.items():
                self._cookies[key] = cookie
            return
        pairs = cookies.items() if isinstance(cookies, Mapping) else cookies
        for name, value in pairs:
            self.set(name, value)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        if self.get(name) is None:
            raise KeyError(name)
        self.delete(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(dict.fromkeys(n for (_, _, n) in self._cookies)))

    def __len__(self) -> int:
        return len({n for (_, _, n) in self._cookies})

    def __bool__(self) -> bool:
        return bool(self._cookies)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{c.name}={c.value!r} for {c.domain or '*'}{c.path}" for c in self._cookies.values()
        )
        return f"<Cookies [{inner}]>"

    # -- the jar: storing Set-Cookie, building Cookie ---------------------------------

    def extract(self, url: URL, set_cookie_headers: Iterable[str]) -> None:
        """Store the cookies of ``Set-Cookie`` headers received for a request to ``url``."""
        host = (url.hostname or "").lower()
        now = time.time()
        for header in set_cookie_headers:
            parsed = parse_set_cookie(header, now)
            if parsed is None:
                continue
            if parsed.domain:
                # RFC 6265 section 5.3 step 6: a server may only widen to a domain it is in.
                if not _domain_match(host, parsed.domain) or (
                    "." not in parsed.domain and parsed.domain != host
                ):
                    continue
                domain, host_only = parsed.domain, False
            else:
                domain, host_only = host, True
            path = parsed.path or _default_path(url.path)
            key = (domain, path, parsed.name)
            if parsed.expires is not None and parsed.expires <= now:
                self._cookies.pop(key, None)
                continue
            old = self._cookies.get(key)
            self._cookies[key] = _Cookie(
                parsed.name,
                parsed.value,
                domain,
                path,
                host_only=host_only,
                expires=parsed.expires,
                secure=parsed.secure,
                created=old.created if old is not None else now,
            )

    def extract_response(self, response: Response) -> None:
        """Store the cookies a response sets."""
        values = response.headers.getlist("set-cookie")
        if values:
            self.extract(response.request.url, values)

    def header_for(self, url: URL, extra: Mapping[str, str] | None = None) -> str | None:
        """The ``Cookie`` header value to send to ``url`` (``None`` when there is none).

        ``extra`` cookies are added for this request only and win over stored ones.
        """
        pairs: dict[str, str] = {}
        if self._cookies:
            host = (url.hostname or "").lower()
            path = url.path or "/"
            secure = url.is_secure
            now = time.time()
            matching = [c for c in self._cookies.values() if c.matches(host, path, secure, now)]
            # RFC 6265 section 5.4 step 2: longer paths first, then earlier creation.
            matching.sort(key=lambda c: (-len(c.path), c.created))
            for cookie in matching:
                pairs.setdefault(cookie.name, cookie.value)
        if extra:
            pairs.update(extra)
        if not pairs:
            return None
        return "; ".join(f"{name}={value}" for name, value in pairs.items())


#: What a ``cookies=`` argument accepts.
CookieTypes = Cookies | Mapping[str, str] | Iterable[tuple[str, str]]
