"""``docs_routes``: the three docs UIs' routes in one call."""

from __future__ import annotations

from vivace.web._routes import BaseRoute
from vivace.web.openapi._redoc import ReDoc
from vivace.web.openapi._scalar import Scalar
from vivace.web.openapi._swagger_ui import SwaggerUI
from vivace.web.openapi._ui import DocsUI, unique_paths

__all__ = ["docs_routes"]


def docs_routes(
    openapi_url: str = "/openapi.json",
    *,
    title: str = "API documentation",
    swagger_url: str | None = "/docs",
    redoc_url: str | None = "/redoc",
    scalar_url: str | None = "/scalar",
    swagger_ui: SwaggerUI | None = None,
    redoc: ReDoc | None = None,
    scalar: Scalar | None = None,
    favicon_url: str = "data:,",
) -> list[BaseRoute]:
    """Routes serving Swagger UI, ReDoc and Scalar for the spec at ``openapi_url``.

    >>> from vivace.web import App
    >>> routes = docs_routes("/openapi.json", title="Pets", redoc_url=None)
    >>> app = App(routes=routes)
    >>> app.url_path_for("swagger_ui"), app.url_path_for("scalar")
    ('/docs', '/scalar')

    A URL set to ``None`` turns that UI off. ``openapi_url`` and the UIs' paths are taken
    relative to where the routes are included (a ``Mount`` prefix or the app's
    ``root_path`` goes in front); ``openapi_url`` may also be a full URL. ``swagger_ui``,
    ``redoc`` and ``scalar`` carry each UI's options. The default favicon is empty, so
    browsers ask for no ``/favicon.ico``.
    """
    chosen: list[tuple[str, DocsUI]] = []
    if swagger_url is not None:
        chosen.append((swagger_url, swagger_ui or SwaggerUI()))
    if redoc_url is not None:
        chosen.append((redoc_url, redoc or ReDoc()))
    if scalar_url is not None:
        chosen.append((scalar_url, scalar or Scalar()))
    unique_paths([path for path, _ in chosen])
    routes: list[BaseRoute] = []
    for path, ui in chosen:
        routes += ui.routes(path, openapi_url, title=title, favicon_url=favicon_url)
    return routes
