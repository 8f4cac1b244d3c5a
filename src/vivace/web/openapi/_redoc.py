"""``ReDoc``: the ReDoc page (npm ``redoc``, ``bundles/redoc.standalone.js``).

ReDoc 3's bundle is an ES module exporting ``init``; the page imports it (the URL comes
from the config block, so the page's script stays a constant) and calls
``init(specUrl, options, element)``.

What keeps the page from talking to anyone but the app:

- ``disableTelemetry: true``: ReDoc 3 otherwise sends OpenTelemetry traces of the page's
  use to otel.cloud.redocly.com;
- the page's CSP allows images from the app (and ``data:``/``blob:``) only: ReDoc 3 shows
  Redocly's logo from cdn.redoc.ly on every page, with no option to turn it off; blocked,
  the image is removed by ReDoc itself and the "API docs by" link stays;
- it allows connections to the app and the spec's origin only (``connect-src``): ReDoc
  has no "try it" console, it only fetches the spec, so the telemetry endpoint (or any
  other) stays out of reach even if a later version turned telemetry back on.

Images the spec's descriptions or ``x-logo`` load from elsewhere, and ``$ref`` documents
on other hosts, need their origins in ``ReDoc(allow_origins=[...])``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vivace.web.openapi._ui import DocsUI, csp_sources, json_config, url_origin

__all__ = ["ReDoc"]


class ReDoc(DocsUI):
    """ReDoc's options.

    >>> ui = ReDoc(config={"hideDownloadButtons": True}, allow_origins=["https://img.example"])
    >>> ui.options
    {'hideDownloadButtons': True}
    >>> csp = ui.csp_directives("https://api.example/openapi.json")
    >>> csp["img-src"], csp["connect-src"]
    ("'self' data: blob: https://img.example", "'self' https://api.example https://img.example")

    ``config`` holds ReDoc's options (JSON values only), given last so they win.
    """

    folder = "redoc"
    asset_names = ("redoc.standalone.js",)
    route_name = "redoc"
    label = "ReDoc"
    script_type = ' type="module"'
    script = (
        'const c = JSON.parse(document.getElementById("vivace-docs-config").textContent);'
        "const { init } = await import(c.bundle);"
        'init(c.specUrl, c.options, document.getElementById("redoc"));'
    )

    def __init__(
        self,
        *,
        config: Mapping[str, Any] | None = None,
        allow_origins: Sequence[str] = (),
    ) -> None:
        self.options = json_config(config, "config")
        self.allow_origins = csp_sources(allow_origins, "allow_origins")

    def csp_directives(self, spec_url: str) -> dict[str, str]:
        extra = f" {self.allow_origins}" if self.allow_origins else ""
        spec_origin = url_origin(spec_url)
        connect = "'self'" + (f" {spec_origin}" if spec_origin else "") + extra
        return {
            **super().csp_directives(spec_url),
            "img-src": "'self' data: blob:" + extra,
            "connect-src": connect,
        }

    def config(self, spec_url: str, assets: Mapping[str, str], base: str) -> dict[str, Any]:
        options: dict[str, Any] = {"disableTelemetry": True}
        options.update(self.options)
        return {"bundle": assets["redoc.standalone.js"], "specUrl": spec_url, "options": options}

    def markup(self, assets: Mapping[str, str]) -> tuple[str, str]:
        head = f'<link rel="modulepreload" href="{assets["redoc.standalone.js"]}">\n'
        return head, '<div id="redoc"></div>\n'
