"""Jinja2 templates: ``Jinja2Templates`` and its ``TemplateResponse``.

Jinja2 is optional (``pip install 'vivace[templates]'``); it is imported when the first
``Jinja2Templates`` is made, not when vivace.web is. Autoescaping is on for ``.html``,
``.htm``, ``.xml`` and ``.svg`` templates and for templates built from strings. Every
template gets ``request`` in its context and a ``url_for(name, **params)`` global that
builds absolute URLs from the request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vivace.web._background import BackgroundTask
from vivace.web._request import Request
from vivace.web._responses import HTMLResponse

if TYPE_CHECKING:
    import jinja2

__all__ = ["Jinja2Templates", "TemplateResponse"]


def _import_jinja2() -> Any:
    try:
        import jinja2
    except ImportError:  # pragma: no cover - the test environment has jinja2
        raise ImportError("Jinja2Templates needs Jinja2: pip install 'vivace[templates]'") from None
    return jinja2


class TemplateResponse(HTMLResponse):
    """A rendered template; ``template`` and ``context`` stay on it for tests."""

    __slots__ = ("context", "template")

    def __init__(
        self,
        template: Any,
        context: dict[str, Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.template = template
        self.context = context
        super().__init__(template.render(context), status_code, headers, media_type, background)


class Jinja2Templates:
    """Templates from a directory (or directories), or from a ready ``jinja2.Environment``.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "hello.html").write_text("<p>Hello {{ name }}</p>")
    >>> templates = Jinja2Templates(directory=folder)
    >>> templates.get_template("hello.html").render(name="<b>ada</b>")
    '<p>Hello &lt;b&gt;ada&lt;/b&gt;</p>'

    ``context_processors`` are functions of the request returning extra context.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        *,
        env: jinja2.Environment | None = None,
        context_processors: Sequence[Callable[[Request], dict[str, Any]]] | None = None,
    ) -> None:
        j2 = _import_jinja2()
        if (directory is None) == (env is None):
            raise ValueError("Jinja2Templates takes either a directory or an env")
        if env is None:
            env = j2.Environment(
                loader=j2.FileSystemLoader(directory),
                autoescape=j2.select_autoescape(
                    ("html", "htm", "xml", "svg"), default_for_string=True
                ),
            )
        self.env: jinja2.Environment = env
        self.context_processors = list(context_processors or [])

        def url_for(context: Any, name: str, /, **path_params: Any) -> Any:
            request: Request = context["request"]
            return request.url_for(name, **path_params)

        self.env.globals.setdefault("url_for", j2.pass_context(url_for))

    def get_template(self, name: str) -> jinja2.Template:
        """The template called ``name``."""
        return self.env.get_template(name)

    def TemplateResponse(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> TemplateResponse:
        """Render template ``name`` with ``context`` plus ``request`` and ``url_for``."""
        full: dict[str, Any] = {}
        for processor in self.context_processors:
            full.update(processor(request))
        if context:
            full.update(context)
        full["request"] = request
        template = self.get_template(name)
        return TemplateResponse(template, full, status_code, headers, media_type, background)
