"""vivace.csrf: cross-site request forgery protection.

``CSRFMiddleware`` checks every unsafe request (Fetch metadata, ``Origin``/``Referer``,
then a per-session token from the ``X-CSRF-Token`` header or the ``csrf_token`` form
field); ``csrf_token(request)`` gives the token to put in a page, ``csrf_hidden(request)``
the hidden input for a form renderer (vivace.schema's ``render_form(hidden=...)``), and
``install_csrf`` adds ``csrf_token()`` and ``csrf_input()`` to Jinja2 templates (forms
rendered through that environment with the request carry the token by themselves).
Tokens live in the session: install a session middleware outside ``CSRFMiddleware``.

Layer: above ``vivace.web`` (see docs/batteries.md).
"""

from vivace.csrf._middleware import SAFE_METHODS, CSRFError, CSRFMiddleware
from vivace.csrf._templates import install_csrf
from vivace.csrf._tokens import (
    FORM_FIELD,
    HEADER,
    SESSION_KEY,
    csrf_hidden,
    csrf_token,
    rotate_token,
    token_matches,
)

__all__ = [
    "FORM_FIELD",
    "HEADER",
    "SAFE_METHODS",
    "SESSION_KEY",
    "CSRFError",
    "CSRFMiddleware",
    "csrf_hidden",
    "csrf_token",
    "install_csrf",
    "rotate_token",
    "token_matches",
]
