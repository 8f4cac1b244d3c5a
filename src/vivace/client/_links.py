"""The ``Link`` header (RFC 8288 section 3): ``Response.links``, as httpx gives it.

>>> parse_links('<https://api.test/items?page=2>; rel="next", </items?page=9>; rel=last')
[{'url': 'https://api.test/items?page=2', 'rel': 'next'}, {'url': '/items?page=9', 'rel': 'last'}]

A link is ``<URI>`` followed by ``; name=value`` parameters; a value may be a quoted string
holding commas and semicolons (section 3: ``quoted-string``), so the header is read link by
link, not split on commas. What cannot be read (no ``<...>``) is skipped, never raised: the
header comes from the server.
"""

from __future__ import annotations

import re

__all__ = ["parse_links"]

_LINK = re.compile(r"\s*<([^>]*)>")
_PARAM = re.compile(r'\s*;\s*([^\s;,=]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,]*))?')
_ESCAPE = re.compile(r"\\(.)")


def parse_links(value: str) -> list[dict[str, str]]:
    """The links of a ``Link`` header value, each ``{"url": ..., param: value...}``."""
    links: list[dict[str, str]] = []
    position = 0
    while True:
        match = _LINK.search(value, position)
        if match is None:
            return links
        link = {"url": match.group(1).strip()}
        position = match.end()
        while (param := _PARAM.match(value, position)) is not None:
            raw = param.group(2)
            if raw is None:
                raw = ""
            elif raw.startswith('"'):
                raw = _ESCAPE.sub(r"\1", raw[1:-1])
            link.setdefault(param.group(1).lower(), raw.strip())
            position = param.end()
        links.append(link)
