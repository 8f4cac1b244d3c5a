"""The OpenAPI 3.1 document of an app, generated from its routes.

Theory of operation. ``OpenAPI.document(app)`` walks the app's routes in order (into
mounts, with their prefixes), and for each HTTP route and method writes an operation from
what the route already knows: its typed handler's inputs (parameters, request body, form),
its declared output (the success response), the dependencies' security schemes, and the
route's OpenAPI options (``tags``, ``summary``, ``responses``...). Types become JSON
Schema (2020-12, OpenAPI 3.1's dialect) through vivace.schema, every class a named
definition under ``components.schemas``.

With ``separate_input_output`` (the default) classes are rendered twice: as input (what a
client may send: read-only fields left out) and as output (what the server writes:
write-only fields left out, every field with a default always present, so required). A
class whose two renderings are equal keeps one definition; the others become
``Name-Input`` and ``Name-Output``. Two different classes with one name are an error
naming both, unless ``schema_name`` names them apart.

The document is deterministic: everything is written in route and field order, methods in
a fixed order, definitions sorted by name; no set or hash order reaches the output, so the
bytes are the same across runs and ``PYTHONHASHSEED`` values.
"""

from __future__ import annotations

import copy
import inspect
import re
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Annotated, Any

import orjson

from vivace.schema import Field, dump, json_schemas
from vivace.web._datastructures import UploadFile
from vivace.web._params import REQUIRED, strip_optional
from vivace.web._request import Request
from vivace.web._responses import HTMLResponse, PlainTextResponse, Response
from vivace.web._routes import BaseRoute, Host, Mount, Route
from vivace.web._typed import Input, TypedHandler, is_file_bytes
from vivace.web._websocket_routes import WebSocketRoute

__all__ = ["OpenAPI"]

_METHOD_ORDER = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE", "QUERY")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}")
_REF = "#/components/schemas/{name}"
_DOC_FIELDS = ("title", "description", "examples", "deprecated")
_CONVERTER_TYPES = {"int": int, "float": float}

_PROBLEM = "ValidationProblem"
_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": _PROBLEM,
    "description": "RFC 9457 problem details for a request whose input did not validate.",
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "code": {"type": "string"},
                    "msg": {"type": "string"},
                },
                "required": ["loc", "code", "msg"],
            },
        },
    },
    "required": ["type", "title", "status", "errors"],
}


def _split_doc(func: Any) -> tuple[str | None, str | None]:
    doc = inspect.getdoc(func)
    if not doc:
        return None, None
    first, _, rest = doc.partition("\n\n")
    return " ".join(first.split()), rest.strip() or None


def _walk(routes: Sequence[BaseRoute], prefix: str) -> Iterator[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, WebSocketRoute):
            continue
        if isinstance(route, Route):
            if route.include_in_schema:
                yield prefix + route.path, route
        elif isinstance(route, Mount):
            yield from _walk(route.routes, prefix + route.path)
        elif isinstance(route, Host):
            yield from _walk(route.routes, prefix)


_FIELD_DOCS = ("title", "description", "default", "examples", "deprecated")


def _has_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_ref(v) for v in node)
    return False


def _field_types(cls: Any) -> dict[str, Any]:
    """A class's field types by input key (its alias), for the fields' schemas."""
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:  # annotations that do not resolve here: the inline schema stays
        return {}
    names = getattr(cls, "__struct_fields__", None)
    if names is not None:
        keys = getattr(cls, "__struct_encode_fields__", names)
        return {key: hints[name] for name, key in zip(names, keys, strict=True)}
    return dict(hints)


def _walk_refs(node: Any, rename: Callable[[str], str]) -> Any:
    if isinstance(node, dict):
        return {
            k: (rename(v) if k == "$ref" and isinstance(v, str) else _walk_refs(v, rename))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_walk_refs(v, rename) for v in node]
    return node


def _as_input(definition: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(definition)
    props = out.get("properties")
    if props:
        gone = [k for k, v in props.items() if isinstance(v, dict) and v.get("readOnly")]
        for k in gone:
            del props[k]
        if "required" in out:
            out["required"] = [r for r in out["required"] if r not in gone]
            if not out["required"]:
                del out["required"]
    return out


def _as_output(definition: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(definition)
    props = out.get("properties")
    if props:
        for k in [k for k, v in props.items() if isinstance(v, dict) and v.get("writeOnly")]:
            del props[k]
        if props:
            out["required"] = list(props)
        else:
            out.pop("required", None)
    return out


class _Schemas:
    """Types collected while writing operations, rendered at the end in one pass (per
    direction) and referenced through placeholders until then."""

    def __init__(self, naming: Callable[[type], str | None] | None, split: bool) -> None:
        self.naming = naming
        self.split = split
        self.types: dict[str, list[Any]] = {"in": [], "out": []}
        self.slots: list[tuple[str, int, dict[str, Any]]] = []

    def ref(self, tp: Any, direction: str) -> dict[str, Any]:
        """A schema for ``tp``, filled in by ``finish``."""
        holder: dict[str, Any] = {}
        if not self.split:
            direction = "in"
        types = self.types[direction]
        types.append(tp)
        self.slots.append((direction, len(types) - 1, holder))
        return holder

    def finish(self) -> dict[str, dict[str, Any]]:
        names: dict[str, type] = {}
        rendered: dict[str, tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]] = {}
        for direction in ("in", "out"):
            rendered[direction] = json_schemas(
                self.types[direction], ref_template=_REF, naming=self.naming, names=names
            )
        if not self.split:
            schemas, defs = rendered["in"]
            for _, index, holder in self.slots:
                holder.update(schemas[index])
            return dict(defs)
        ins = {k: _as_input(v) for k, v in rendered["in"][1].items()}
        outs = {k: _as_output(v) for k, v in rendered["out"][1].items()}
        differ = {k for k in ins if k in outs and ins[k] != outs[k]}
        prefix = _REF.format(name="")

        def renamer(suffix: str) -> Callable[[str], str]:
            def rename(ref: str) -> str:
                name = ref[len(prefix) :] if ref.startswith(prefix) else None
                if name is not None and name in differ:
                    return _REF.format(name=f"{name}-{suffix}")
                return ref

            return rename

        components: dict[str, dict[str, Any]] = {}
        for side, defs, suffix in (("in", ins, "Input"), ("out", outs, "Output")):
            rename = renamer(suffix)
            for name, definition in defs.items():
                key = f"{name}-{suffix}" if name in differ else name
                components[key] = _walk_refs(definition, rename)
            schemas = rendered[side][0]
            for direction, index, holder in self.slots:
                if direction == side:
                    holder.update(_walk_refs(schemas[index], rename))
        return {k: components[k] for k in sorted(components)}


class OpenAPI:
    """The OpenAPI 3.1 document of an app, served at ``openapi_url`` with the docs UIs.

    >>> from vivace.web import App
    >>> from vivace.web.openapi import OpenAPI
    >>> async def ping() -> dict[str, str]:
    ...     \"\"\"Check the service is up.\"\"\"
    ...     return {"ok": "yes"}
    >>> app = App(openapi=OpenAPI(title="Demo", version="1.0"))
    >>> app.add_route("/ping", ping)
    >>> doc = app.openapi.document(app)
    >>> doc["paths"]["/ping"]["get"]["summary"]
    'Check the service is up.'

    ``docs``: keyword arguments for ``docs_routes`` (``None``: no docs UIs);
    ``webhooks``: routes describing requests this API sends; ``schema_name(cls)``: the
    component name of a class (``None`` for its ``__name__``);
    ``validation_error_response``: document the 422 on operations with inputs;
    ``separate_input_output``: see the module docstring; ``info``: more Info Object
    fields (``contact``, ``license``, ``termsOfService``); ``servers``, ``tags``: as in
    OpenAPI.
    """

    def __init__(
        self,
        *,
        title: str = "API",
        version: str = "0.1.0",
        description: str | None = None,
        summary: str | None = None,
        info: Mapping[str, Any] | None = None,
        servers: Sequence[Mapping[str, Any]] | None = None,
        tags: Sequence[Mapping[str, Any]] | None = None,
        openapi_url: str | None = "/openapi.json",
        docs: Mapping[str, Any] | None = {},
        webhooks: Sequence[Route] = (),
        schema_name: Callable[[type], str | None] | None = None,
        validation_error_response: bool = True,
        separate_input_output: bool = True,
    ) -> None:
        self.info: dict[str, Any] = {"title": title, "version": version}
        if summary is not None:
            self.info["summary"] = summary
        if description is not None:
            self.info["description"] = description
        self.info.update(info or {})
        self.servers = [dict(s) for s in servers or ()]
        self.tags = [dict(t) for t in tags or ()]
        self.openapi_url = openapi_url
        self.docs = None if docs is None else dict(docs)
        self.webhooks = list(webhooks)
        self.schema_name = schema_name
        self.validation_error_response = validation_error_response
        self.separate_input_output = separate_input_output
        self._cache: bytes | None = None

    # -- serving --------------------------------------------------------------------------

    def routes(self, app: Any) -> list[BaseRoute]:
        """The route of ``app``'s document and the docs UIs' routes (``App`` adds them)."""
        if self.openapi_url is None:
            return []
        from vivace.web.openapi._docs import docs_routes

        async def openapi(request: Request) -> Response:
            return Response(self.json(app), media_type="application/json")

        routes: list[BaseRoute] = [
            Route(self.openapi_url, openapi, name="openapi", include_in_schema=False)
        ]
        if self.docs is not None:
            docs = {"title": self.info["title"], **self.docs}
            routes += docs_routes(self.openapi_url, **docs)
        return routes

    def json(self, app: Any) -> bytes:
        """The document as JSON bytes (built once: routes do not change once serving)."""
        if self._cache is None:
            self._cache = orjson.dumps(self.document(app))
        return self._cache

    # -- building ------------------------------------------------------------------------

    def document(self, app: Any) -> dict[str, Any]:
        """The OpenAPI document (a dict) for ``app``'s routes (an ``App`` or ``Router``,
        or a list of routes)."""
        routes = app if isinstance(app, list) else app.routes
        schemas = _Schemas(self.schema_name, self.separate_input_output)
        security_schemes: dict[str, Any] = {}
        operation_ids: set[str] = set()
        paths: dict[str, dict[str, Any]] = {}
        uses_problem = False
        for path, route in _walk(routes, ""):
            item = paths.setdefault(_PARAM.sub(r"{\1}", path), {})
            for method, operation, problem in self._operations(
                path, route, schemas, security_schemes, operation_ids
            ):
                item[method] = operation
                uses_problem = uses_problem or problem
        doc: dict[str, Any] = {"openapi": "3.1.0", "info": dict(self.info)}
        if self.servers:
            doc["servers"] = self.servers
        doc["paths"] = paths
        if self.webhooks:
            hooks: dict[str, Any] = {}
            for route in self.webhooks:
                item = hooks.setdefault(route.name or route.path, {})
                for method, operation, problem in self._operations(
                    route.path, route, schemas, security_schemes, operation_ids
                ):
                    item[method] = operation
                    uses_problem = uses_problem or problem
            doc["webhooks"] = hooks
        if security_schemes:
            # Operations without a scheme say so (``security: []``, public), rather than
            # leaving a reader to wonder whether a scheme applies.
            for operation in _all_operations(doc):
                operation.setdefault("security", [])
        components: dict[str, Any] = {}
        defs = schemas.finish()
        if uses_problem:
            defs = {**defs, _PROBLEM: _PROBLEM_SCHEMA}
            defs = {k: defs[k] for k in sorted(defs)}
        if defs:
            components["schemas"] = defs
        if security_schemes:
            components["securitySchemes"] = {
                k: security_schemes[k] for k in sorted(security_schemes)
            }
        if components:
            doc["components"] = components
        if self.tags:
            doc["tags"] = self.tags
        return doc

    def _operations(
        self,
        path: str,
        route: Route,
        schemas: _Schemas,
        security_schemes: dict[str, Any],
        operation_ids: set[str],
    ) -> Iterator[tuple[str, dict[str, Any], bool]]:
        methods = route.methods if route.methods is not None else frozenset(("GET",))
        chosen = [m for m in _METHOD_ORDER if m in methods]
        for method in chosen:
            typed, endpoint = route.handler_for(method)
            operation, problem = self._operation(
                path, route, method, typed, endpoint, len(chosen) > 1, schemas, security_schemes
            )
            base = operation["operationId"]
            unique, n = base, 2
            while unique in operation_ids:
                unique, n = f"{base}_{n}", n + 1
            operation_ids.add(unique)
            operation["operationId"] = unique
            yield method.lower(), operation, problem

    def _operation(
        self,
        path: str,
        route: Route,
        method: str,
        typed: TypedHandler | None,
        endpoint: Any,
        several: bool,
        schemas: _Schemas,
        security_schemes: dict[str, Any],
    ) -> tuple[dict[str, Any], bool]:
        options = route.openapi
        operation: dict[str, Any] = {}
        if options.get("tags"):
            operation["tags"] = list(options["tags"])
        summary, description = _split_doc(endpoint)
        summary = options.get("summary", summary) or _title(route.name)
        description = options.get("description", description)
        if summary:
            operation["summary"] = summary
        if description:
            operation["description"] = description
        name = options.get("operation_id") or route.name or "operation"
        operation["operationId"] = f"{name}_{method.lower()}" if several else name
        parameters = self._parameters(path, typed, schemas)
        if parameters:
            operation["parameters"] = parameters
        if typed is not None:
            body = self._request_body(typed, schemas)
            if body is not None:
                operation["requestBody"] = body
        responses, problem = self._responses(route, typed, schemas)
        operation["responses"] = responses
        if options.get("callbacks"):
            operation["callbacks"] = self._callbacks(
                options["callbacks"], schemas, security_schemes
            )
        if options.get("deprecated"):
            operation["deprecated"] = True
        security = list(typed.security) if typed is not None else []
        if security:
            for scheme_name, scheme, _ in security:
                security_schemes[scheme_name] = dict(scheme)
            operation["security"] = [{n: list(scopes)} for n, _, scopes in security]
            # A security dependency refuses a request without its credential: 401, or
            # 403 for an API key (no HTTP authentication scheme to challenge with).
            for status, why in (("401", "Not authenticated"), ("403", "Not allowed")):
                if status not in responses:
                    responses[status] = {"description": why}
            operation["responses"] = {k: responses[k] for k in sorted(responses, key=_status_order)}
        if "security" in options:
            operation["security"] = list(options["security"])
        extra = options.get("openapi_extra")
        if extra:
            _merge(operation, extra)
        return operation, problem

    def _parameters(
        self, path: str, typed: TypedHandler | None, schemas: _Schemas
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        documented: set[tuple[str, str]] = set()
        if typed is not None:
            for item in typed.inputs:
                if item.source in ("body", "form"):
                    continue
                if item.marker is not None and not item.marker.include_in_schema:
                    continue
                if item.group:
                    out += self._group(item, schemas)
                    continue
                out.append(self._parameter(item, schemas))
                documented.add((item.source, item.key))
        # Path parameters no typed input declares: from the template (their converter).
        for match in _PARAM.finditer(path):
            key = match.group(1)
            if ("path", key) in documented:
                continue
            converter = match.group(0)[len(key) + 2 : -1].split("(", 1)[0]
            tp = _CONVERTER_TYPES.get(converter, str)
            out.append(
                {"name": key, "in": "path", "required": True, "schema": schemas.ref(tp, "in")}
            )
        return out

    def _parameter(self, item: Input, schemas: _Schemas) -> dict[str, Any]:
        options = dict(item.marker.field_options) if item.marker is not None else {}
        docs = {k: options.pop(k) for k in _DOC_FIELDS if k in options}
        tp = Annotated[item.annotation, Field(**options)] if options else item.annotation
        schema = schemas.ref(tp, "in")
        param: dict[str, Any] = {"name": item.key, "in": item.source}
        if item.source == "path" or item.default is REQUIRED:
            param["required"] = True
        if item.default is not REQUIRED and item.default is not None:
            schema["default"] = dump(item.default)
        if "description" in docs:
            param["description"] = docs["description"]
        if docs.get("deprecated"):
            param["deprecated"] = True
        if "examples" in docs:
            param["examples"] = {
                f"example{n}": {"value": dump(v)} for n, v in enumerate(docs["examples"], 1)
            }
        if typing.get_origin(strip_optional(item.annotation)) in (list, tuple, set, frozenset):
            param["explode"] = True
        param["schema"] = schema
        return param

    def _group(self, item: Input, schemas: _Schemas) -> list[dict[str, Any]]:
        # A schema read from a whole source: one parameter per field, described by the
        # class's own definition (fields, types, constraints, required).
        from vivace.schema import json_schema

        definition = json_schema(item.annotation, ref_template=_REF)
        ref, prefix = definition.get("$ref", ""), _REF.format(name="")
        body = definition["$defs"][ref[len(prefix) :]] if ref.startswith(prefix) else definition
        required = set(body.get("required", ()))
        types = _field_types(item.annotation)
        out = []
        for key, schema in body.get("properties", {}).items():
            if key in types and _has_ref(schema):
                # A field of a nested class: its type goes through the components like
                # any other, so the classes it names are defined there (and named and
                # split as the others); the field's own documentation stays here.
                holder = schemas.ref(types[key], "in")
                holder.update({k: v for k, v in schema.items() if k in _FIELD_DOCS})
                schema = holder
            param: dict[str, Any] = {"name": key, "in": item.source, "schema": schema}
            if key in required:
                param["required"] = True
            if isinstance(schema, dict) and "description" in schema:
                param["description"] = schema["description"]
            out.append(param)
        return out

    def _request_body(self, typed: TypedHandler, schemas: _Schemas) -> dict[str, Any] | None:
        body = [i for i in typed.inputs if i.source == "body"]
        form = [i for i in typed.inputs if i.source == "form"]
        if body:
            if len(body) == 1 and not (getattr(body[0].marker, "embed", False)):
                schema = schemas.ref(body[0].annotation, "in")
                required = body[0].default is REQUIRED
            else:
                schema = _object(body, schemas)
                required = any(i.default is REQUIRED for i in body)
            return {"required": required, "content": {"application/json": {"schema": schema}}}
        if form:
            files = any(_has_upload(i.annotation) or is_file_bytes(i) for i in form)
            media = "multipart/form-data" if files else "application/x-www-form-urlencoded"
            if len(form) == 1 and form[0].group:
                schema = schemas.ref(form[0].annotation, "in")
            else:
                # Fields the handler does not declare are not read.
                schema = {**_object(form, schemas), "additionalProperties": False}
            return {
                "required": any(i.default is REQUIRED for i in form),
                "content": {media: {"schema": schema}},
            }
        return None

    def _responses(
        self, route: Route, typed: TypedHandler | None, schemas: _Schemas
    ) -> tuple[dict[str, Any], bool]:
        responses: dict[str, Any] = {}
        status = "200"
        success: dict[str, Any] = {"description": "Successful response"}
        if typed is not None:
            output = typed.output
            status = str(output.status_code)
            media = _media_type(output.response_class)
            if output.type is not None:
                success["content"] = {media: {"schema": schemas.ref(output.type, "out")}}
            elif output.status_code == 204:
                pass
            else:
                success["content"] = {media: {}}
        responses[status] = success
        problem = False
        if (
            typed is not None
            and self.validation_error_response
            and any(i.marker is None or i.marker.include_in_schema for i in typed.inputs)
        ):
            problem = True
            responses["422"] = {
                "description": "The request's input is not valid",
                "content": {
                    "application/problem+json": {"schema": {"$ref": _REF.format(name=_PROBLEM)}}
                },
            }
        for code, spec in (route.openapi.get("responses") or {}).items():
            key = str(code)
            if spec is None:
                responses.pop(key, None)
                if key == "422":
                    problem = False
                continue
            entry = dict(responses.get(key, {}))
            spec = dict(spec)
            model = spec.pop("model", None)
            examples = spec.pop("examples", None)
            media = spec.pop("media_type", "application/json")
            description = spec.pop("description", None)
            if description is not None:
                entry["description"] = description
            else:
                entry.setdefault("description", _status_phrase(key))
            if model is not None:
                entry.setdefault("content", {})[media] = {"schema": schemas.ref(model, "out")}
            if examples is not None:
                content = entry.setdefault("content", {}).setdefault(media, {})
                content["examples"] = {
                    k: ({"value": dump(v)} if not isinstance(v, dict) or "value" not in v else v)
                    for k, v in examples.items()
                }
            _merge(entry, spec)
            responses[key] = entry
        return {k: responses[k] for k in sorted(responses, key=_status_order)}, problem

    def _callbacks(
        self,
        callbacks: Mapping[str, Mapping[str, Sequence[Route]]],
        schemas: _Schemas,
        security_schemes: dict[str, Any],
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ids: set[str] = set()
        for name, expressions in callbacks.items():
            item: dict[str, Any] = {}
            for expression, routes in expressions.items():
                path_item = item.setdefault(expression, {})
                for route in routes:
                    for method, operation, _ in self._operations(
                        route.path, route, schemas, security_schemes, ids
                    ):
                        path_item[method] = operation
            out[name] = item
        return out


def _title(name: str | None) -> str | None:
    # A summary from the route's name when there is no docstring: "list_pets" -> "List pets".
    if not name:
        return None
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else None


def _has_upload(tp: Any) -> bool:
    if tp is UploadFile:
        return True
    return any(_has_upload(a) for a in typing.get_args(tp))


def _as_upload(item: Input) -> Any:
    """The type ``_upload_schema`` reads for ``item``: ``Annotated[bytes, File()]`` is an
    uploaded file (``list[bytes]``, several)."""
    if not is_file_bytes(item):
        return item.annotation
    return UploadFile if strip_optional(item.annotation) is bytes else list[UploadFile]


def _upload_schema(tp: Any) -> dict[str, Any] | None:
    tp = strip_optional(tp)
    if tp is UploadFile:
        return {"type": "string", "contentMediaType": "application/octet-stream"}
    if typing.get_origin(tp) in (list, Sequence):
        inner = _upload_schema(typing.get_args(tp)[0])
        if inner is not None:
            return {"type": "array", "items": inner}
    return None


def _object(items: list[Input], schemas: _Schemas) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for item in items:
        upload = _upload_schema(_as_upload(item))
        if upload is not None:
            properties[item.key] = upload
        else:
            options = dict(item.marker.field_options) if item.marker is not None else {}
            tp = Annotated[item.annotation, Field(**options)] if options else item.annotation
            properties[item.key] = schemas.ref(tp, "in")
        if item.default is REQUIRED:
            required.append(item.key)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def _all_operations(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    items = list(doc["paths"].values()) + list(doc.get("webhooks", {}).values())
    while items:
        item = items.pop(0)
        for method in _METHOD_ORDER:
            operation = item.get(method.lower())
            if operation is not None:
                yield operation
                for callback in operation.get("callbacks", {}).values():
                    items.extend(callback.values())


def _media_type(cls: type[Response]) -> str:
    if issubclass(cls, HTMLResponse):
        return "text/html"
    if issubclass(cls, PlainTextResponse):
        return "text/plain"
    media = getattr(cls, "media_type", None)
    return media if isinstance(media, str) else "application/json"


def _status_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (1000, key)


def _status_phrase(key: str) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(int(key)).phrase
    except ValueError:
        return "Response"


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
