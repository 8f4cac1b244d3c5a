"""``DocsUI``: what the three docs UIs share: a page, the packaged files it loads, routes.

A UI's page is HTML made from fixed markup and three kinds of values, each put where it
cannot become markup or script:

- the title, HTML-escaped (``html.escape`` with quotes) into ``<title>``;
- URLs (the spec, the assets, the favicon) in attributes, HTML-escaped, after a check
  at construction that each is a relative reference or an ``http``/``https`` URL (so no
  ``javascript:``), with no control character or space a browser would strip;
- the UI's configuration as JSON in a ``<script type="application/json">`` data block,
  read by the page's script with ``JSON.parse``. The JSON has ``<``, ``>`` and ``&``
  escaped as ``\\u003c``..., so no ``</script>`` or ``<!--`` can end or change the block
  (HTML's script data states, WHATWG HTML section 13.2.5.4).

The page's own script is a constant (no value is ever formatted into script), so the
page is sent with a ``Content-Security-Policy`` that allows scripts from the app's origin
and that one inline script by its sha256 only: an injection that got past the escaping
still could not run.

The URLs in a page depend on where the app is mounted: a path starting with ``/`` (the
spec's, the assets') is prefixed with the request's ``root_path``. Pages are rendered on
first request for each ``root_path`` and kept (a bounded number of them).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import orjson

from vivace.types import Receive, Scope, Send
from vivace.web._responses import length_header
from vivace.web._routes import BaseRoute, Route
from vivace.web.openapi._assets import Asset, versioned_url

__all__ = [
    "DocsUI",
    "check_url",
    "csp_sources",
    "json_config",
    "json_for_html",
    "unique_paths",
    "url_origin",
]

_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f]")
_SAFE_SCHEMES = frozenset({"", "http", "https"})
_CSP_SOURCE = re.compile(r"[!-+\--:<-~]+")  # visible ASCII but ";" and ","
#: ``root_path`` characters kept as they are in a URL path (RFC 3986 pchar and "/").
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
#: Pages kept per UI, one per ``root_path`` seen (a mount with path parameters can give
#: many; past this they are rendered per request).
_MAX_CACHED_PAGES = 64
_JSON_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def check_url(url: str, what: str, *, allow_data: bool = False) -> str:
    """``url`` if it is a relative reference or an http(s) URL, else ``ValueError``.

    >>> check_url("/openapi.json", "openapi_url")
    '/openapi.json'
    >>> check_url("javascript:alert(1)", "openapi_url")
    Traceback (most recent call last):
    ...
    ValueError: openapi_url must be a path or an http(s) URL, not 'javascript:alert(1)'
    """
    if not isinstance(url, str):
        raise TypeError(f"{what} must be a string, not {type(url).__name__}")
    scheme = urlsplit(url).scheme.lower() if not _UNSAFE_URL.search(url) else None
    if scheme in _SAFE_SCHEMES:
        url_origin(url)  # a bad port is an error now, not in a page later
        return url
    if allow_data and scheme == "data":
        return url
    raise ValueError(f"{what} must be a path or an http(s) URL, not {url!r}")


def json_for_html(value: Any) -> str:
    """JSON that can sit inside a ``<script type="application/json">`` block.

    >>> json_for_html({"title": "</script><script>alert(1)</script>"})
    '{"title":"\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
    """
    return orjson.dumps(value).decode().translate(_JSON_ESCAPES)


def json_config(config: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """A copy of a UI's ``config``, checked now to be JSON (``TypeError`` if not)."""
    if config is None:
        return {}
    try:
        orjson.dumps(config)
    except TypeError as exc:
        raise TypeError(f"{what} must hold JSON values only (str keys): {exc}") from None
    return dict(config)


def url_origin(url: str) -> str | None:
    """The CSP source expression for the origin of an absolute (or scheme-relative) URL;
    ``None`` for a path, which is the app's own origin.

    >>> url_origin("https://User@API.example:8443/openapi.json"), url_origin("/openapi.json")
    ('https://api.example:8443', None)
    """
    parts = urlsplit(url)
    if not parts.netloc:
        return None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"not a valid port in {url!r}") from None
    origin = (f"{parts.scheme}://" if parts.scheme else "") + host
    return origin + (f":{port}" if port is not None else "")


def csp_sources(sources: Sequence[str], what: str) -> str:
    """CSP source expressions, checked: one token each (no space, ``;`` or ``,`` that
    would start another directive or policy, RFC 9110 header characters only)."""
    for source in sources:
        if not isinstance(source, str) or not _CSP_SOURCE.fullmatch(source):
            raise ValueError(f"{what}: not a CSP source expression: {source!r}")
    return " ".join(sources)


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


class DocsUI:
    """A docs UI: a page at a path, the packaged files it loads, and its routes.

    Subclasses (``SwaggerUI``, ``ReDoc``, ``Scalar``) set the class attributes, ``config``
    and ``markup``; the page around them, its CSP and the routes are the same for all.
    """

    #: The folder of the UI's files under ``assets/`` and the names it serves.
    folder: ClassVar[str]
    asset_names: ClassVar[tuple[str, ...]]
    #: The route name of the page (``app.url_path_for(name)``) and the title's suffix.
    route_name: ClassVar[str]
    label: ClassVar[str]
    #: The page's one inline script (a constant; allowed by its hash in the CSP).
    script: ClassVar[str]

    #: `` type="module"`` for a UI whose script imports an ES module.
    script_type: ClassVar[str] = ""

    def config(self, spec_url: str, assets: Mapping[str, str], base: str) -> dict[str, Any]:
        """The JSON the page's script reads (``assets``: name -> URL)."""
        raise NotImplementedError

    def markup(self, assets: Mapping[str, str]) -> tuple[str, str]:
        """The UI's ``<head>`` additions and ``<body>`` (its container and the
        ``<script src>`` of its bundle) for ``assets`` (name -> URL, HTML-escaped)."""
        raise NotImplementedError

    def extra_routes(self, path: str) -> list[BaseRoute]:
        """Routes besides the page and its assets (Swagger UI's OAuth2 redirect page)."""
        return []

    def csp_directives(self, spec_url: str) -> dict[str, str]:
        """The page's CSP for a spec at ``spec_url``: scripts from the app's origin and the
        page's own script only; fonts from the app only (no outside fonts, whatever a UI's
        next version does)."""
        return {
            "script-src": f"'self' {_csp_hash(self.script)}",
            "font-src": "'self' data:",
            "object-src": "'none'",
            "base-uri": "'none'",
        }

    def content_security_policy(self, spec_url: str) -> str:
        directives = self.csp_directives(spec_url)
        return "; ".join(f"{name} {value}" for name, value in directives.items())

    def page(self, spec_url: str, base: str, *, title: str, favicon_url: str) -> str:
        """The page's HTML for a spec at ``spec_url`` and the page at ``base``."""
        assets = {name: versioned_url(f"{self.folder}/{name}", base) for name in self.asset_names}
        head, body = self.markup({name: html.escape(url) for name, url in assets.items()})
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n"
            f'<link rel="icon" href="{html.escape(favicon_url)}">\n'
            f"{head}</head>\n<body>\n{body}"
            '<script id="vivace-docs-config" type="application/json">'
            f"{json_for_html(self.config(spec_url, assets, base))}</script>\n"
            f"<script{self.script_type}>{self.script}</script>\n"
            "</body>\n</html>\n"
        )

    def routes(
        self,
        path: str,
        openapi_url: str,
        *,
        title: str = "API documentation",
        favicon_url: str = "data:,",
    ) -> list[BaseRoute]:
        """The page at ``path``, its files under ``path/``, for the spec at
        ``openapi_url`` (a path is taken relative to where the routes are included)."""
        if not isinstance(path, str) or not path.startswith("/") or "{" in path:
            raise ValueError(f"a docs UI path is a fixed path starting with '/', not {path!r}")
        check_url(openapi_url, "openapi_url")
        check_url(favicon_url, "favicon_url", allow_data=True)
        if not isinstance(title, str):
            raise TypeError(f"title must be a string, not {type(title).__name__}")
        page = _Page(self, path, openapi_url, f"{title} - {self.label}", favicon_url)
        base = path.rstrip("/")
        routes: list[BaseRoute] = [
            Route(path, page, methods=["GET"], name=self.route_name, include_in_schema=False)
        ]
        for name in self.asset_names:
            asset = Asset(f"{self.folder}/{name}")
            routes.append(
                Route(
                    f"{base}/{name}",
                    asset,
                    methods=["GET"],
                    name=f"{self.route_name}_asset",
                    include_in_schema=False,
                )
            )
        routes += self.extra_routes(path)
        return routes


def _prefixed(root_path: str, url: str) -> str:
    """``url`` under ``root_path`` when it is a path (``/x``, not ``//host/x``)."""
    if url.startswith("/") and not url.startswith("//"):
        return quote(root_path, safe=_PATH_SAFE) + url
    return url


class _Page:
    """The ASGI app sending a UI's page (rendered once per ``root_path``)."""

    __slots__ = ("_headers", "_rendered", "favicon_url", "openapi_url", "path", "title", "ui")

    def __init__(
        self, ui: DocsUI, path: str, openapi_url: str, title: str, favicon_url: str
    ) -> None:
        self.ui = ui
        self.path = path
        self.openapi_url = openapi_url
        self.title = title
        self.favicon_url = favicon_url
        self._rendered: dict[str, bytes] = {}
        self._headers = (
            (b"content-type", b"text/html; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"content-security-policy", ui.content_security_policy(openapi_url).encode()),
            (b"x-content-type-options", b"nosniff"),
        )

    def render(self, root_path: str) -> bytes:
        body = self._rendered.get(root_path)
        if body is None:
            body = self.ui.page(
                _prefixed(root_path, self.openapi_url),
                _prefixed(root_path, self.path),
                title=self.title,
                favicon_url=_prefixed(root_path, self.favicon_url),
            ).encode()
            if len(self._rendered) < _MAX_CACHED_PAGES:
                self._rendered[root_path] = body
        return body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("a docs page only serves HTTP requests")
        body = self.render(scope.get("root_path", ""))
        headers = [*self._headers, length_header(len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )


def unique_paths(paths: Sequence[str]) -> None:
    """``ValueError`` if two UIs would be at one path (``/docs`` and ``/docs/`` too)."""
    seen = set()
    for path in paths:
        key = path.rstrip("/") or "/"
        if key in seen:
            raise ValueError(f"two docs UIs at one path: {path!r}")
        seen.add(key)
