"""Jinja2 helpers: ``{{ csrf_input() }}`` in a form, ``{{ csrf_token() }}`` anywhere.

``install_csrf(templates)`` adds both as globals of a ``Jinja2Templates`` environment (or
any ``jinja2.Environment``); they read the request from the template context, which
``templates.TemplateResponse(request, ...)`` always provides.
"""

from __future__ import annotations

from typing import Any

from vivace.csrf._tokens import FORM_FIELD, csrf_token

__all__ = ["install_csrf"]


def install_csrf(templates: Any) -> None:
    """Add ``csrf_token()`` and ``csrf_input()`` to the templates' globals.

    >>> from vivace.web import Jinja2Templates
    >>> import jinja2
    >>> templates = Jinja2Templates(env=jinja2.Environment(autoescape=True))
    >>> install_csrf(templates)
    >>> page = templates.env.from_string("<form>{{ csrf_input() }}</form>")
    >>> html = page.render(request={"type": "http", "session": {}})
    >>> html.startswith('<form><input type="hidden" name="csrf_token" value="')
    True
    """
    import jinja2
    from markupsafe import Markup, escape

    env = templates.env if hasattr(templates, "env") else templates

    def token(context: Any) -> str:
        return csrf_token(context["request"])

    def hidden_input(context: Any) -> Markup:
        value = escape(csrf_token(context["request"]))
        return Markup(f'<input type="hidden" name="{FORM_FIELD}" value="{value}">')

    env.globals["csrf_token"] = jinja2.pass_context(token)
    env.globals["csrf_input"] = jinja2.pass_context(hidden_input)
