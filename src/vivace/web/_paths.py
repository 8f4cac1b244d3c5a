"""Route path templates: ``/users/{id:int}/files/{rest:path}``.

A template is compiled once into:

- ``segments``: one entry per ``/``-separated segment, for the router's generated matcher
  (``_compiled_matcher``, which takes templates of literals and ``Param`` segments only): a
  literal string, a ``Param`` (the whole segment is one parameter), a ``Mixed`` (literal
  text and parameters in one segment, matched by a small regex), or a final ``Rest`` (a
  ``path`` parameter taking the rest). ``None`` when the template cannot be split so (a
  ``path`` parameter before the end): such routes are matched by ``regex`` instead.
- ``regex``: the whole template as one regex, for those routes and for ``Host`` patterns.
- ``build(params)``: the path for ``url_path_for``, values converted and percent-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from vivace.web._converters import CONVERTERS, Converter

__all__ = ["PATH_SAFE", "Mixed", "Param", "PathTemplate", "Rest", "Segment"]

_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*)(?:\(([^(){}/]*)\))?)?}")
# One converter option: ``name=integer``.
_OPTION = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(-?[0-9]+)\s*")
# Characters kept in a built path segment: RFC 3986 pchar minus nothing that routing splits.
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"
#: The same for a value spanning segments (a ``path`` parameter, a mount's rest).
PATH_SAFE = _SEGMENT_SAFE + "/"


def _converter(template: str, name: str | None, options: str | None) -> Converter[Any]:
    key = name or "str"
    try:
        converter = CONVERTERS[key]
    except KeyError:
        raise ValueError(f"unknown path converter {key!r} in {template!r}") from None
    if options is None:
        return converter
    values: dict[str, int] = {}
    for item in options.split(","):
        m = _OPTION.fullmatch(item)
        if m is None:
            raise ValueError(
                f"malformed option {item.strip()!r} of {key!r} in {template!r} (name=integer)"
            )
        if m.group(1) in values:
            raise ValueError(f"option {m.group(1)!r} of {key!r} given twice in {template!r}")
        values[m.group(1)] = int(m.group(2))
    try:
        return converter.with_options(**values)
    except ValueError as exc:
        raise ValueError(f"{exc} (in route path {template!r})") from None


def _segment_check(converter: Converter[Any]) -> Callable[[str], bool]:
    if converter.regex == "[^/]+":
        return bool  # any non-empty segment
    fullmatch = re.compile(converter.regex).fullmatch
    return lambda text: fullmatch(text) is not None


class Param:
    """A segment that is exactly one parameter."""

    __slots__ = ("check", "converter", "name")

    def __init__(self, name: str, converter: Converter[Any]) -> None:
        self.name = name
        self.converter = converter
        self.check = _segment_check(converter)

    def key(self) -> tuple[str, str]:
        return ("param", type(self.converter).__qualname__ + ":" + self.converter.regex)


class Mixed:
    """A segment mixing literal text and parameters (``v{major:int}.{minor:int}``)."""

    __slots__ = ("converters", "pattern", "source")

    def __init__(self, source: str, pattern: re.Pattern[str], converters: dict[str, Any]) -> None:
        self.source = source
        self.pattern = pattern
        self.converters = converters

    def key(self) -> tuple[str, str]:
        return ("mixed", self.pattern.pattern)


class Rest:
    """A final ``path`` parameter: the rest of the path."""

    __slots__ = ("converter", "name")

    def __init__(self, name: str, converter: Converter[Any]) -> None:
        self.name = name
        self.converter = converter


Segment = str | Param | Mixed | Rest


class PathTemplate:
    """A compiled route path.

    >>> t = PathTemplate("/users/{id:int}/files/{rest:path}")
    >>> t.param_names
    ('id', 'rest')
    >>> t.build({"id": 7, "rest": "a b/c.txt"})
    '/users/7/files/a%20b/c.txt'
    >>> t.match("/users/7/files/x/y")
    {'id': 7, 'rest': 'x/y'}
    """

    __slots__ = ("conversions", "converters", "param_names", "parts", "path", "regex", "segments")

    def __init__(self, path: str, *, allow_empty: bool = False) -> None:
        if not path.startswith("/") and not (allow_empty and path == ""):
            raise ValueError(f"a route path must start with '/': {path!r}")
        self.path = path
        converters: dict[str, Converter[Any]] = {}
        # ``parts`` alternates literal text and (name, converter) for building paths.
        parts: list[str | tuple[str, Converter[Any]]] = []
        regex = "^"
        pos = 0
        for match in _PARAM.finditer(path):
            name, conv_name = match.group(1), match.group(2)
            if name in converters:
                raise ValueError(f"duplicate parameter {name!r} in route path {path!r}")
            converter = _converter(path, conv_name, match.group(3))
            converters[name] = converter
            literal = path[pos : match.start()]
            regex += re.escape(literal) + f"(?P<{name}>{converter.regex})"
            parts.append(literal)
            parts.append((name, converter))
            pos = match.end()
        tail = path[pos:]
        if "{" in tail or "}" in tail or any("{" in p or "}" in p for p in parts if type(p) is str):
            raise ValueError(f"malformed parameter in route path {path!r}")
        parts.append(tail)
        # \Z, not $: "$" also matches before a final newline, so "/users/12\n" (from
        # %0A) would match "/users/{id:int}" with id 12.
        self.regex = re.compile(regex + re.escape(tail) + r"\Z")
        self.converters = converters
        #: ``(name, convert)`` per parameter, in order: what a match runs on the groups.
        self.conversions = tuple((name, c.convert) for name, c in converters.items())
        self.param_names = tuple(converters)
        self.parts = parts
        self.segments = self._split(path, converters)

    @staticmethod
    def _split(path: str, converters: dict[str, Converter[Any]]) -> list[Segment] | None:
        if path == "":
            return []
        raw_segments = path[1:].split("/")
        segments: list[Segment] = []
        last = len(raw_segments) - 1
        for index, raw in enumerate(raw_segments):
            found = list(_PARAM.finditer(raw))
            if not found:
                segments.append(raw)
                continue
            whole = len(found) == 1 and found[0].span() == (0, len(raw))
            spans = [converters[m.group(1)].spans_segments for m in found]
            if any(spans):
                if whole and index == last:
                    name = found[0].group(1)
                    segments.append(Rest(name, converters[name]))
                    continue
                return None  # a path parameter mid-template: matched by regex
            if whole:
                name = found[0].group(1)
                segments.append(Param(name, converters[name]))
                continue
            pattern = ""
            pos = 0
            for m in found:
                name = m.group(1)
                pattern += re.escape(raw[pos : m.start()]) + f"(?P<{name}>{converters[name].regex})"
                pos = m.end()
            pattern += re.escape(raw[pos:])
            segments.append(
                Mixed(raw, re.compile(pattern), {m.group(1): converters[m.group(1)] for m in found})
            )
        return segments

    def match(self, path: str) -> dict[str, Any] | None:
        """The converted parameters if ``path`` matches the whole template, else ``None``."""
        m = self.regex.match(path)
        if m is None:
            return None
        return self.convert(m.groupdict())

    def convert(self, raw: Mapping[str, str]) -> dict[str, Any] | None:
        """Convert matched text; ``None`` if a converter refuses it."""
        params: dict[str, Any] = {}
        converters = self.converters
        try:
            for name, value in raw.items():
                params[name] = converters[name].convert(value)
        except ValueError:
            return None
        return params

    def build(self, params: Mapping[str, Any]) -> str:
        """The path with ``params`` filled in (exactly the template's parameters).

        Raises ``KeyError`` for a missing parameter and ``ValueError`` for one that its
        converter cannot write.
        """
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                name, converter = part
                text = converter.to_string(params[name])
                safe = PATH_SAFE if converter.spans_segments else _SEGMENT_SAFE
                out.append(quote(text, safe=safe))
        return "".join(out)
