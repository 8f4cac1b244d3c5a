"""``Scalar``: the Scalar API reference page (npm ``@scalar/api-reference``,
``dist/browser/standalone.js``).

Defaults that differ from Scalar's own, and why (the page must work offline and tell no
one it was opened):

- ``withDefaultFonts: false``: the default loads Inter and JetBrains Mono from
  fonts.scalar.com; the system's fonts are used instead;
- ``telemetry: false``;
- ``showDeveloperTools: "never"``: the toolbar links to Scalar's hosted services;
- ``agent: {"disabled": true}`` and ``mcp: {"disabled": true}``: the "Ask AI" agent and
  the MCP buttons talk to Scalar's servers;
- ``hideClientButton: true``: "Open API Client" sends the spec's URL to client.scalar.com
  (the page's own "Test Request" client stays);
- no ``proxyUrl``: requests from "Test request" go straight to the API (proxy.scalar.com
  is only used when configured).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vivace.web.openapi._ui import DocsUI, json_config

__all__ = ["Scalar"]


class Scalar(DocsUI):
    """Scalar's configuration.

    >>> Scalar(config={"theme": "purple"}).options
    {'theme': 'purple'}

    ``config`` holds Scalar's configuration (JSON values only), given last so it wins.
    """

    folder = "scalar"
    asset_names = ("standalone.js",)
    route_name = "scalar"
    label = "Scalar"
    script = (
        "(() => {"
        'const c = JSON.parse(document.getElementById("vivace-docs-config").textContent);'
        'Scalar.createApiReference("#scalar", c.configuration);'
        "})();"
    )

    def __init__(self, *, config: Mapping[str, Any] | None = None) -> None:
        self.options = json_config(config, "config")

    def config(self, spec_url: str, assets: Mapping[str, str], base: str) -> dict[str, Any]:
        configuration: dict[str, Any] = {
            "url": spec_url,
            "withDefaultFonts": False,
            "telemetry": False,
            "showDeveloperTools": "never",
            "agent": {"disabled": True},
            "mcp": {"disabled": True},
            "hideClientButton": True,
        }
        configuration.update(self.options)
        return {"configuration": configuration}

    def markup(self, assets: Mapping[str, str]) -> tuple[str, str]:
        body = f'<div id="scalar"></div>\n<script src="{assets["standalone.js"]}"></script>\n'
        return "", body
