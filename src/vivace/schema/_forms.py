"""HTML forms: a schema rendered as a form, with current values and error messages.

``form_fields`` turns a schema into ``FormField`` objects (name, label, input type, value,
choices, HTML constraint attributes, errors); ``render_form`` renders them through Jinja2
templates: ``vivace/schema/form.html`` and ``vivace/schema/field.html``. To change the
markup, put templates of those names first in your own loader (see ``form_loader``), or
pass your own ``template``. Jinja2 is imported here only, when a form is rendered.

The input type follows the field's type: text, number, checkbox, select (enums and
literals), checkboxes (a list of choices), date/time inputs, password (``Secret``, never
filled back), file (``Upload``; the form becomes multipart), a fieldset for a nested schema,
``Field(widget="textarea")`` (or ``"hidden"``, ``"password"``...) to choose. Read-only fields
are not inputs and are left out.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from vivace.schema._errors import SchemaError, ValidationError
from vivace.schema._fields import NODEFAULT, UNSET
from vivace.schema._formdata import form_errors, is_multidict
from vivace.schema._nodes import FieldSpec, Node, class_info, node_for
from vivace.schema._types import Secret

if TYPE_CHECKING:
    import jinja2

__all__ = ["FormChoice", "FormField", "form_fields", "form_loader", "render_form"]


class FormChoice:
    """One option of a select or checkbox group."""

    __slots__ = ("label", "selected", "value")

    def __init__(self, value: str, label: str, selected: bool) -> None:
        self.value = value
        self.label = label
        self.selected = selected


class FormField:
    """What a template needs to draw one input."""

    __slots__ = (
        "attrs",
        "checked",
        "children",
        "choices",
        "errors",
        "help",
        "id",
        "input",
        "label",
        "name",
        "required",
        "value",
        "values",
    )

    def __init__(self, name: str, label: str, input: str) -> None:
        self.name = name
        self.id = "field-" + name.replace(".", "-")
        self.label = label
        self.input = input
        self.value = ""
        self.values: list[str] = []
        self.checked = False
        self.required = False
        self.choices: list[FormChoice] = []
        self.attrs: dict[str, str] = {}
        self.errors: list[str] = []
        self.help: str | None = None
        self.children: list[FormField] = []

    def __repr__(self) -> str:
        return f"FormField({self.name!r}, input={self.input!r}, value={self.value!r})"


_INPUTS = {
    "str": "text",
    "int": "number",
    "float": "number",
    "decimal": "number",
    "bool": "checkbox",
    "datetime": "datetime-local",
    "date": "date",
    "time": "time",
    "secret": "password",
    "upload": "file",
    "enum": "select",
    "literal": "select",
    "timedelta": "text",
    "uuid": "text",
    "bytes": "text",
}
_FORMAT_INPUTS = {"email": "email", "uri": "url"}


def _label(spec: FieldSpec) -> str:
    if spec.info.title:
        return spec.info.title
    return spec.name.replace("_", " ").strip().capitalize()


def _text(value: Any) -> str:
    """A value as an input shows it."""
    if value is None or value is UNSET:
        return ""
    if isinstance(value, Secret):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime.datetime):
        # <input type=datetime-local> takes no offset (WHATWG HTML 2.4.5.5).
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, str | int | float):
        return str(value)
    if getattr(value, "filename", None) is not None:
        return ""
    out = msgspec.to_builtins(value)
    return out if isinstance(out, str) else str(out)


class _Values:
    """Current values from an object, a mapping or a multidict, by dotted name."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def get(self, path: list[str]) -> list[Any]:
        src = self.source
        if src is None:
            return []
        if is_multidict(src):
            return list(src.getlist(".".join(path)))
        cur = src
        for part in path:
            if isinstance(cur, Mapping):
                if part not in cur:
                    return []
                cur = cur[part]
            elif isinstance(cur, msgspec.Struct) or hasattr(cur, "__dataclass_fields__"):
                info = class_info(type(cur))
                spec = info.by_key.get(part) or info.by_name.get(part)
                if spec is None:
                    return []
                cur = getattr(cur, spec.name)
            else:
                return []
        if cur is UNSET:
            return []
        return list(cur) if isinstance(cur, list | tuple | set | frozenset) else [cur]


def _choices(node: Node) -> list[tuple[str, str]]:
    if node.kind == "enum":
        return [(str(m.value), m.name.replace("_", " ").capitalize()) for m in node.py]
    return [(_text(v), str(v)) for v in node.values]


def form_fields(
    cls: Any, *, values: Any = None, errors: ValidationError | None = None
) -> list[FormField]:
    """The inputs of a schema's form, filled from ``values`` (an object, a mapping or the
    submitted multidict) with the messages of ``errors`` on the inputs they belong to."""
    node = node_for(cls)
    if node.kind != "class":
        raise SchemaError(f"a form needs a schema class, not {cls!r}")
    messages = form_errors(errors)
    return _fields(node.py, _Values(values), messages, [])


def _fields(
    cls: type, values: _Values, messages: dict[str, list[str]], prefix: list[str]
) -> list[FormField]:
    out: list[FormField] = []
    for spec in class_info(cls).fields:
        if spec.info.read_only:
            continue
        path = [*prefix, spec.key]
        name = ".".join(path)
        node = spec.node.without_none()
        optional = spec.node.nullable or not spec.required
        if node.kind == "class":
            ff = FormField(name, _label(spec), "fieldset")
            ff.children = _fields(node.py, values, messages, path)
            ff.errors = messages.get(name, [])
            out.append(ff)
            continue
        current = values.get(path)
        if not current and spec.default is not NODEFAULT and spec.default is not UNSET:
            current = [] if spec.default is None else [spec.default]
        item = node.args[0].without_none() if node.args else node
        if node.kind in ("list", "set", "frozenset", "vartuple"):
            if item.kind == "class":
                raise SchemaError(
                    f"{cls.__qualname__}.{spec.name}: a form cannot draw a list of nested "
                    "schemas; render that part yourself from form_fields()"
                )
            if item.kind in ("enum", "literal"):
                ff = FormField(name, _label(spec), "checkboxes")
                chosen = {_text(v) for v in current}
                ff.choices = [FormChoice(v, lbl, v in chosen) for v, lbl in _choices(item)]
            else:
                ff = FormField(name, _label(spec), "multi")
                ff.values = [_text(v) for v in current] + [""]
                _constraint_attrs(ff, item)
        else:
            kind = spec.info.widget or _FORMAT_INPUTS.get(
                (node.c.format if node.c else None) or "", _INPUTS.get(node.kind, "text")
            )
            ff = FormField(name, _label(spec), kind)
            ff.required = not optional and node.kind != "bool"
            value = current[-1] if current else None
            if kind == "checkbox":
                ff.checked = value is True or _text(value).lower() in ("true", "on", "1", "yes")
            elif kind == "select":
                chosen_value = _text(value)
                ff.choices = [FormChoice(v, lbl, v == chosen_value) for v, lbl in _choices(node)]
            else:
                ff.value = _text(value)
            _constraint_attrs(ff, node)
        ff.help = spec.info.description
        ff.errors = messages.get(name, [])
        out.append(ff)
    return out


def _constraint_attrs(ff: FormField, node: Node) -> None:
    """HTML's own checks (min, max, step, minlength, maxlength, pattern) from constraints."""
    if node.kind == "int":
        ff.attrs["step"] = "1"
    elif node.kind in ("float", "decimal"):
        ff.attrs["step"] = "any"
    c = node.c
    if c is None:
        return
    if node.kind in ("int", "float", "decimal"):
        if c.ge is not None:
            ff.attrs["min"] = str(c.ge)
        if c.le is not None:
            ff.attrs["max"] = str(c.le)
    elif node.kind in ("str", "secret"):
        if c.min_length is not None:
            ff.attrs["minlength"] = str(c.min_length)
        if c.max_length is not None:
            ff.attrs["maxlength"] = str(c.max_length)
        if c.pattern is not None and c.format is None:
            ff.attrs["pattern"] = c.pattern.removeprefix("^").removesuffix("$")


def _jinja() -> Any:
    try:
        import jinja2 as module
    except ImportError:  # pragma: no cover - jinja2 is in the dev extra
        raise ImportError(
            "vivace.schema forms need Jinja2: pip install 'vivace[templates]'"
        ) from None
    return module


def form_loader() -> jinja2.BaseLoader:
    """The loader of the built-in form templates, to chain after your own:
    ``jinja2.ChoiceLoader([your_loader, form_loader()])``."""
    j2 = _jinja()
    loader: jinja2.BaseLoader = j2.PackageLoader("vivace.schema", "templates")
    return loader


_ENV: list[Any] = []


def _default_env() -> jinja2.Environment:
    if not _ENV:
        j2 = _jinja()
        _ENV.append(j2.Environment(loader=form_loader(), autoescape=True))
    env: jinja2.Environment = _ENV[0]
    return env


def render_form(
    cls: Any,
    *,
    values: Any = None,
    errors: ValidationError | None = None,
    action: str = "",
    method: str = "post",
    submit: str = "Submit",
    hidden: Mapping[str, str] | None = None,
    request: Any = None,
    env: jinja2.Environment | None = None,
    template: str = "vivace/schema/form.html",
) -> str:
    """The schema as an HTML form, filled from ``values``, showing ``errors``.

    ``hidden`` inputs come first in the form (a CSRF token: ``vivace.csrf.csrf_hidden``).
    ``env`` is your Jinja2 environment (its loader should fall back to ``form_loader()``);
    autoescaping is on in the default one. ``request`` goes into the template's context:
    when ``env`` has a ``csrf_input()`` global (``vivace.csrf.install_csrf``), the form
    carries the request's CSRF token by itself.
    """
    fields = form_fields(cls, values=values, errors=errors)
    environment = env if env is not None else _default_env()
    multipart = _has_upload(fields)
    messages = form_errors(errors).get("", [])
    out: str = environment.get_template(template).render(
        fields=fields,
        action=action,
        method=method,
        submit=submit,
        multipart=multipart,
        form_errors=messages,
        hidden=dict(hidden) if hidden else {},
        request=request,
    )
    return out


def _has_upload(fields: list[FormField]) -> bool:
    return any(f.input == "file" or _has_upload(f.children) for f in fields)
