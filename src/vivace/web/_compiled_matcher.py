"""The router's generated matcher: Python source written for a list of routes at start-up.

Theory of operation
-------------------
Most route templates are literal segments and whole-segment parameters
(``/users/{id:int}/posts/{slug}``). For those, the router's index (``_matcher``) hands
``compile_routes`` the routes a request with that many segments and that first segment
can match, and this module writes one function that tries them in declaration order on
``path.split("/")`` and the method:

    def match(s, method):
        if method in methods_0 and s[1] == "users" and s[2].isascii() and ...:
            try:
                return route_0, {'id': int(s[2])}, None
            except ValueError:
                pass
        ...
        return None

A request then pays one comparison per literal segment and one check per parameter, and
one call for the whole list. Measured (commit c6118f7, timeit): ``match_dynamic("/users/7")``
562 -> 471 ns with one function per key instead of one per route, ``Router.resolve``
841 -> 737 ns. (A segment trie walked in Python, tried before the index, cost about
1.5 us per lookup against 0.6 us for the index with a regex per candidate.)

The generated code must answer exactly what the route's own ``matches`` (its regex and
converters) answers; tests/web/test_compiled_matcher.py checks that on generated
templates and paths. Templates it cannot express (a segment mixing text and parameters,
a ``path`` parameter, a mount's prefix) are not compiled: ``compile_routes`` returns
``None`` and the index falls back to ``matches``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from vivace.web._converters import INT64_MAX, IntegerConverter, StringConverter
from vivace.web._paths import Param

if TYPE_CHECKING:
    from vivace.web._routes import Match, Route

__all__ = ["CompiledMatch", "compile_routes", "fits_int64", "whole_segments"]

#: A generated function: the split path and the method in, the first match or ``None`` out.
CompiledMatch = Callable[[list[str], str], "Match | None"]


def whole_segments(segments: Sequence[object] | None) -> bool:
    """Whether a template is only literal segments and whole-segment parameters (else,
    with mixed segments or a ``path`` parameter, it keeps the regex)."""
    return segments is not None and all(type(seg) is str or type(seg) is Param for seg in segments)


def fits_int64(digits: str) -> bool:
    """Whether ASCII ``digits`` are at most 2**63 - 1, without ``int()`` (which refuses
    more than 4300 digits with a ValueError).

    >>> fits_int64("0009223372036854775807"), fits_int64("9223372036854775808")
    (True, False)
    """
    digits = digits.lstrip("0")
    # Strings of equal length compare as the numbers they spell.
    return len(digits) < 19 or (len(digits) == 19 and digits <= _INT64_DIGITS)


_INT64_DIGITS = str(INT64_MAX)


def _segment_code(
    segments: Sequence[object], tag: int, namespace: dict[str, Any]
) -> tuple[str, str]:
    """How to match a request's split path (``s``) against a template of whole segments,
    as Python source: the test, and the dict of converted parameters. Converters it
    calls are put in ``namespace`` under names ending in ``_{tag}``.

    ``/users/{id:int}`` becomes ``s[2] == "users"``, an ASCII-digits test and ``int()``.
    The code reads ``path.split("/")`` of a path with as many segments as the template
    (the router's index guarantees that). Converters run in declaration order; a
    ``ValueError`` from one means no match, as with the regex.
    """
    tests: list[str] = []
    values: list[str] = []
    for offset, seg in enumerate(segments, start=1):  # s[0] is the "" before the first "/"
        if type(seg) is str:
            tests.append(f"s[{offset}] == {seg!r}")
            continue
        assert type(seg) is Param
        converter = seg.converter
        convert = f"convert{offset}_{tag}"
        if type(converter) is IntegerConverter and converter.max == INT64_MAX:
            # [0-9]+ in full: isdigit() alone accepts other scripts' digits. Fewer than 19
            # digits always fit in 0..2**63-1, so the common case pays one len().
            segment = f"s[{offset}]"
            namespace["fits_int64"] = fits_int64
            tests.append(
                f"{segment}.isascii() and {segment}.isdigit() and "
                f"(len({segment}) < 19 or fits_int64({segment}))"
            )
            value = f"int({segment})"
            if converter.min:
                value = f"{convert}({segment})"
                namespace[convert] = converter.convert
            values.append(f"{seg.name!r}: {value}")
        elif type(converter) is StringConverter:
            tests.append(f"s[{offset}] != ''")
            values.append(f"{seg.name!r}: s[{offset}]")
        else:
            check = f"check{offset}_{tag}"
            namespace[check] = seg.check
            namespace[convert] = converter.convert
            tests.append(f"{check}(s[{offset}])")
            values.append(f"{seg.name!r}: {convert}(s[{offset}])")
    return " and ".join(tests) or "True", "{" + ", ".join(values) + "}"


def compile_routes(routes: Sequence[Route]) -> CompiledMatch | None:
    """One generated function that tries ``routes`` in order on a split path and a
    method (methods first, then the segments), returning the first match; ``None``
    unless every route's template is whole segments."""
    if not routes or not all(whole_segments(route.template.segments) for route in routes):
        return None
    namespace: dict[str, Any] = {}
    lines = ["def match(s, method):"]
    for n, route in enumerate(routes):
        segments = route.template.segments
        assert segments is not None  # whole_segments() above
        test, values = _segment_code(segments, n, namespace)
        namespace[f"route_{n}"] = route
        methods = route.methods
        if methods is not None:
            namespace[f"methods_{n}"] = methods
            test = f"method in methods_{n} and {test}"
        lines += [
            f"    if {test}:",
            "        try:",
            f"            return route_{n}, {values}, None",
            "        except ValueError:",  # int() past sys.get_int_max_str_digits()
            "            pass",
        ]
    lines.append("    return None")
    exec("\n".join(lines), namespace)  # built above from repr()-escaped literals
    match: CompiledMatch = namespace["match"]
    return match
