"""vivace.web.openapi: the docs UIs (Swagger UI, ReDoc, Scalar), served by the app with
their files shipped inside the package: no CDN, no outside fonts, no telemetry.

>>> from vivace.web import App, Route, JSONResponse
>>> from vivace.web.openapi import docs_routes
>>> async def spec(request):
...     return JSONResponse({"openapi": "3.1.0", "info": {"title": "Pets", "version": "1"}})
>>> app = App(routes=[Route("/openapi.json", spec), *docs_routes("/openapi.json")])

The pages are at ``/docs`` (Swagger UI), ``/redoc`` and ``/scalar``; their files under
each page's path. ``OpenAPI`` generates the app's OpenAPI 3.1 document from its routes and
typed handlers (``App(openapi=OpenAPI(...))`` serves it and the UIs); the UIs work for any
spec URL. See docs/openapi.md.

Errors: constructing the routes raises ``ValueError`` (a URL with a scheme other than
http/https, a path that is not fixed, two UIs at one path) or ``TypeError`` (a config that
is not JSON); a package installed without its assets raises ``RuntimeError``.
"""

from vivace.web.openapi._docs import docs_routes
from vivace.web.openapi._generator import OpenAPI
from vivace.web.openapi._redoc import ReDoc
from vivace.web.openapi._scalar import Scalar
from vivace.web.openapi._swagger_ui import SwaggerUI
from vivace.web.openapi._ui import DocsUI

__all__ = ["DocsUI", "OpenAPI", "ReDoc", "Scalar", "SwaggerUI", "docs_routes"]
