"""vivace: a complete async web stack for Python.

Layers (each usable on its own; see docs/):

- ``vivace.http``: shared HTTP vocabulary (headers, URLs, cookies, dates, status codes)
- ``vivace.server``: the ASGI server
- ``vivace.client``: the HTTP client
- ``vivace.testing``: test clients and pytest fixtures
- ``vivace.web``: the web framework
- ``vivace.db``: async database access
"""

__version__ = "0.1.0"

__all__: list[str] = []
