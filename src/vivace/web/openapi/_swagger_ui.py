"""``SwaggerUI``: the Swagger UI page (npm ``swagger-ui-dist``), its files and its OAuth2
redirect page.

Defaults that differ from Swagger UI's own, and why:

- ``validatorUrl: null``: the default sends the spec's URL to validator.swagger.io;
- ``queryConfigEnabled: false`` (stated, though it is the default since 4.1.3): a
  ``?url=`` in the page's address must not load another spec into the page;
- ``persistAuthorization: false``: credentials typed into "Authorize" stay out of
  ``localStorage`` unless asked for;
- ``deepLinking: true``, ``showExtensions`` and ``showCommonExtensions``: as FastAPI.

The OAuth2 redirect page (for the authorization-code and implicit flows) is served at
``<path>/oauth2-redirect.html`` and passed to Swagger UI as an absolute URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vivace.web._routes import BaseRoute, Route
from vivace.web.openapi._assets import Asset
from vivace.web.openapi._ui import DocsUI, json_config

__all__ = ["SwaggerUI"]

_REDIRECT_PAGE = "oauth2-redirect.html"


class SwaggerUI(DocsUI):
    """Swagger UI's options.

    >>> ui = SwaggerUI(persist_authorization=True, config={"docExpansion": "none"})
    >>> for route in ui.routes("/docs", "/openapi.json"):
    ...     print(route.path)
    /docs
    /docs/swagger-ui-bundle.js
    /docs/swagger-ui.css
    /docs/oauth2-redirect.html
    /docs/oauth2-redirect.js

    ``config`` holds more of Swagger UI's options (JSON values only), given last so they
    win; ``init_oauth`` is passed to ``ui.initOAuth`` (client id, scopes, PKCE...).
    """

    folder = "swagger-ui"
    asset_names = ("swagger-ui-bundle.js", "swagger-ui.css")
    route_name = "swagger_ui"
    label = "Swagger UI"
    script = (
        "(() => {"
        'const c = JSON.parse(document.getElementById("vivace-docs-config").textContent);'
        "const options = c.options;"
        "if (options.oauth2RedirectUrl) {"
        "options.oauth2RedirectUrl = new URL(options.oauth2RedirectUrl, location.href).href;"
        "}"
        "options.presets = [SwaggerUIBundle.presets.apis];"
        "window.ui = SwaggerUIBundle(options);"
        "if (c.initOAuth) { window.ui.initOAuth(c.initOAuth); }"
        "})();"
    )

    def __init__(
        self,
        *,
        deep_linking: bool = True,
        persist_authorization: bool = False,
        oauth2_redirect: bool = True,
        init_oauth: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.deep_linking = deep_linking
        self.persist_authorization = persist_authorization
        self.oauth2_redirect = oauth2_redirect
        self.init_oauth = json_config(init_oauth, "init_oauth") if init_oauth else None
        self.options = json_config(config, "config")

    def config(self, spec_url: str, assets: Mapping[str, str], base: str) -> dict[str, Any]:
        options: dict[str, Any] = {
            "url": spec_url,
            "dom_id": "#swagger-ui",
            "layout": "BaseLayout",
            "deepLinking": self.deep_linking,
            "persistAuthorization": self.persist_authorization,
            "showExtensions": True,
            "showCommonExtensions": True,
            "validatorUrl": None,
            "queryConfigEnabled": False,
        }
        if self.oauth2_redirect:
            options["oauth2RedirectUrl"] = f"{base.rstrip('/')}/{_REDIRECT_PAGE}"
        options.update(self.options)
        return {"options": options, "initOAuth": self.init_oauth}

    def markup(self, assets: Mapping[str, str]) -> tuple[str, str]:
        head = f'<link rel="stylesheet" href="{assets["swagger-ui.css"]}">\n'
        body = (
            '<div id="swagger-ui"></div>\n'
            f'<script src="{assets["swagger-ui-bundle.js"]}"></script>\n'
        )
        return head, body

    def extra_routes(self, path: str) -> list[BaseRoute]:
        if not self.oauth2_redirect:
            return []
        base = path.rstrip("/")
        # The page is swagger-ui-dist's own; it loads oauth2-redirect.js by a relative URL,
        # so both sit under the UI's path.
        return [
            Route(
                f"{base}/{name}",
                Asset(f"{self.folder}/{name}"),
                methods=["GET"],
                name=f"{self.route_name}_oauth2_redirect"
                if name == _REDIRECT_PAGE
                else f"{self.route_name}_asset",
                include_in_schema=False,
            )
            for name in (_REDIRECT_PAGE, "oauth2-redirect.js")
        ]
