"""A typed handler's single path, query, header and cookie parameters, read in one pass.

Theory of operation. At route build, the parameters a handler (and its dependencies)
reads one by one from the path, the query string, the headers and the cookies become one
schema (built with vivace.schema's ``create_schema``, so constraints, defaults and the
lax rules are the schema's own), and ``field_checks`` gives each field's check; the
reading code is generated for the handler then (``_generate``). On a request,
``Scalars.read`` looks up each declared name where it lives and runs its check (or the
check's shortcut for the common case), storing the result straight into the handler's
argument slots; every error is located ``(source, key)``, and all of them end in one
``ValidationError``.

Measured (bench/web_inproc.py --typed, typed path+query, an int path parameter and two
query parameters): one validation per source through ``Validator.validate`` over a
``QueryParams`` cost 24.8 us a request in the framework; this pass, which builds no dict
per source, no schema instance and no ``QueryParams``, 8.5 us.

The query string is read by ``query_values``, which decodes only the values of the names
asked for: the rules are ``urllib.parse.parse_qsl``'s with blank values kept (what
``QueryParams`` does), so ``a=1&a=2`` gives both, ``+`` is a space, a name without ``=``
has a blank value, and invalid UTF-8 (raw or percent-encoded) reads as U+FFFD.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import unquote_plus

from vivace.schema import FieldCheck, SchemaError, ValidationError, field_checks

__all__ = ["Scalar", "Scalars", "query_values"]

PATH, QUERY, HEADER, COOKIE = 0, 1, 2, 3
_KINDS = {"path": PATH, "query": QUERY, "header": HEADER, "cookie": COOKIE}
_MISSING: Any = object()


def query_values(query: bytes, names: Collection[str]) -> dict[str, list[str]]:
    """Every value of each of ``names`` in a raw query string, in order.

    >>> query_values(b"q=red+shoes&tag=a&tag=b&other=x&flag", {"q", "tag", "flag"})
    {'q': ['red shoes'], 'tag': ['a', 'b'], 'flag': ['']}
    """
    # Raw non-ASCII bytes (curl sends them) read as UTF-8, U+FFFD for invalid sequences,
    # as QueryParams reads them; an ASCII query string (the usual one) decodes cheaper.
    text = query.decode("latin-1") if query.isascii() else query.decode("utf-8", "replace")
    found: dict[str, list[str]] = {}
    for part in text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if key in names:
            if "%" in value or "+" in value:
                value = unquote_plus(value)
            values = found.get(key)
            if values is None:
                found[key] = [value]
            else:
                values.append(value)
    return found


class Scalar:
    """One parameter: where it is read (``kind``, ``key``), its check, its slot."""

    __slots__ = ("check", "index", "key", "kind", "loc", "many")

    def __init__(self, kind: int, key: str, many: bool, check: FieldCheck, index: int) -> None:
        self.kind = kind
        self.key = key
        self.many = many  # a list type: every value of a query parameter or header
        self.check = check
        self.index = index
        self.loc = (("path", "query", "header", "cookie")[kind], key)


class Scalars:
    """The single parameters of one handler, from every source, validated together.

    ``items``: (source, key, many, index) per parameter, in the order errors are reported;
    ``schema``: the schema whose fields (in the same order) hold their types and options.
    ``read(connection, values, errors)`` is generated for the handler (see ``_generate``).
    """

    __slots__ = ("read", "scalars", "source")

    def __init__(self, items: Sequence[tuple[str, str, bool, int]], schema: type) -> None:
        try:
            checks = field_checks(schema, mode="lax")
        except SchemaError as exc:  # pragma: no cover - the schema is built without validators
            raise TypeError(str(exc)) from None
        self.scalars = [
            Scalar(_KINDS[source], key, many, check, index)
            for (source, key, many, index), check in zip(items, checks, strict=True)
        ]
        self.source, self.read = _generate(self.scalars, getattr(schema, "__name__", "scalars"))


def _generate(scalars: list[Scalar], name: str) -> tuple[str, Any]:
    """The source and the function reading ``scalars`` into the handler's argument slots.

    Generated once per handler: each parameter's lookup with its key, slot and location
    as constants, and the lax check's shortcut where the schema gives one (an
    unconstrained ``str`` stored as found, a digit string for an ``int`` within its
    bounds converted in place, see ``FieldCheck.text_shortcut``); anything else, and
    every value failing the shortcut's condition, goes through the field's check, which
    reports the errors. Measured (bench/web_inproc.py --typed, an int path parameter, an
    optional str and a bounded int query parameter): the pass 2.7 us with a loop over
    the parameters and their checks, 1.0 us generated; the request 7.3 -> 5.6 us.

    For ``item_id: int`` (path), ``q: str | None = None`` (query)::

        def read(connection, values, errors):
            scope = connection.scope
            path = scope.get('path_params') or EMPTY
            query = query_values(scope.get('query_string', b''), names)
            errs = []
            raw = path.get('item_id', MISSING)
            if raw is MISSING or raw == '':
                values[0] = default0(loc0, errs)
            elif (type(raw) is str and raw.isascii() and raw.isdigit() and len(raw) < 19):
                values[0] = int(raw)
            else:
                values[0] = check0(raw, loc0, errs)
            found = query.get('q')
            raw = found[-1] if found else MISSING
            ...
            if errs:
                errors.append(ValidationError(errs))
    """
    env: dict[str, Any] = {
        "EMPTY": {},
        "MISSING": _MISSING,
        "ValidationError": ValidationError,
        "query_values": query_values,
        "names": frozenset(s.key for s in scalars if s.kind == QUERY),
    }
    kinds = {s.kind for s in scalars}
    lines = ["def read(connection, values, errors):", "    scope = connection.scope"]
    add = lines.append
    if PATH in kinds:
        add("    path = scope.get('path_params') or EMPTY")
    if QUERY in kinds:
        add("    query = query_values(scope.get('query_string', b''), names)")
    if HEADER in kinds:
        # Read from the scope (names are lower case in ASGI), as Headers.getlist does.
        add("    headers = scope['headers']")
        add("    if type(headers) is not list:")
        add("        headers = list(headers)")
    if COOKIE in kinds:
        add("    cookies = connection.cookies")
    add("    errs = []")
    for n, scalar in enumerate(scalars):
        check = scalar.check
        env[f"check{n}"] = check.check
        env[f"default{n}"] = check.default
        env[f"loc{n}"] = scalar.loc
        key = scalar.key
        if scalar.kind == QUERY:
            add(f"    found = query.get({key!r})")
        elif scalar.kind == HEADER:
            bkey = key.lower().encode("latin-1")
            add(f"    found = [v.decode('latin-1') for k, v in headers if k == {bkey!r}]")
        if scalar.kind in (QUERY, HEADER):
            add(f"    raw = ({'found' if scalar.many else 'found[-1]'}) if found else MISSING")
        elif scalar.kind == PATH:
            add(f"    raw = path.get({key!r}, MISSING)")
        else:
            add(f"    raw = cookies.get({key!r}, MISSING)")
        blank = " or raw == ''" if check.blank_is_absent else ""
        add(f"    if raw is MISSING{blank}:")
        add(f"        values[{scalar.index}] = default{n}(loc{n}, errs)")
        shortcut = None if scalar.many else check.text_shortcut("raw")
        if shortcut is not None:
            condition, value = shortcut
            add(f"    elif {condition}:")
            add(f"        values[{scalar.index}] = {value}")
        add("    else:")
        add(f"        values[{scalar.index}] = check{n}(raw, loc{n}, errs)")
    add("    if errs:")
    add("        errors.append(ValidationError(errs))")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<vivace.web parameters of {name}>", "exec"), env)
    return source, env["read"]
