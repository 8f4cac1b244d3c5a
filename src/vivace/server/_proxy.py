"""Proxy headers: X-Forwarded-For, X-Forwarded-Proto and RFC 7239 ``Forwarded``.

They are honoured only when the TCP peer is a trusted proxy (``--forwarded-allow-ips``),
because anyone else could claim any client address. The client is the right-most address
in the chain that is not itself a trusted proxy: each proxy appends the address it saw, so
entries to the left of the first untrusted one may be forged by the client (RFC 7239
section 7.4). When both are present, ``Forwarded`` wins over the ``X-Forwarded-*`` pair.

    >>> trust = (False, (ipaddress.ip_network("10.0.0.0/8"),), frozenset())
    >>> resolve_proxy([(b"x-forwarded-for", b"1.2.3.4, 10.0.0.2")], trust)
    (('1.2.3.4', 0), None)
    >>> resolve_proxy([(b"forwarded", b'for="[2001:db8::1]:4711";proto=https')], trust)
    (('2001:db8::1', 4711), 'https')
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["PROXY_HEADERS", "is_trusted", "resolve_proxy"]

Trust = tuple[bool, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], frozenset[str]]

PROXY_HEADERS = frozenset((b"x-forwarded-for", b"x-forwarded-proto", b"forwarded"))
_SCHEMES = {"http": "http", "https": "https", "ws": "ws", "wss": "wss"}


def is_trusted(host: str | None, trust: Trust) -> bool:
    """Whether a peer address (or literal such as ``unix:``) is a trusted proxy."""
    trust_all, networks, literals = trust
    if trust_all:
        return True
    if host is None:
        return False
    if host in literals:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _split_host_port(node: str) -> tuple[str, int]:
    node = node.strip().strip('"')
    if node.startswith("["):  # [v6]:port
        host, _, rest = node[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif node.count(":") == 1:
        host, _, port = node.partition(":")
    else:
        host, port = node, ""
    # isdigit() alone admits other scripts' digits ("\xb2" is superscript two in the
    # latin-1 text of a header), which int() refuses: found by fuzz/targets.py.
    return host, int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else 0


def _pick(nodes: list[str], trust: Trust) -> str | None:
    for node in reversed(nodes):
        host, _ = _split_host_port(node)
        if not is_trusted(host, trust):
            return node
    return nodes[0] if nodes else None


def resolve_proxy(
    headers: Iterable[tuple[bytes, bytes]], trust: Trust
) -> tuple[tuple[str, int] | None, str | None]:
    """From a trusted peer's headers: the real client ``(host, port)`` and scheme, or None."""
    forwarded: list[bytes] = []
    xff: list[bytes] = []
    xfp: bytes | None = None
    for name, value in headers:
        if name == b"forwarded":
            forwarded.append(value)
        elif name == b"x-forwarded-for":
            xff.append(value)
        elif name == b"x-forwarded-proto":
            xfp = value
    client: tuple[str, int] | None = None
    scheme: str | None = None
    if forwarded:
        nodes: list[str] = []
        protos: list[str] = []
        for element in b",".join(forwarded).decode("latin-1").split(","):
            for pair in element.split(";"):
                key, _, val = pair.strip().partition("=")
                key = key.lower()
                if key == "for":
                    nodes.append(val)
                elif key == "proto":
                    protos.append(val.strip('"').lower())
        chosen = _pick(nodes, trust)
        if chosen is not None:
            host, port = _split_host_port(chosen)
            if host and not host.startswith("_") and host != "unknown":
                client = (host, port)
        if protos:
            scheme = _SCHEMES.get(protos[-1])
    else:
        if xff:
            items = [p.strip() for p in b",".join(xff).decode("latin-1").split(",") if p.strip()]
            chosen = _pick(items, trust)
            if chosen is not None:
                client = (chosen, 0)
        if xfp is not None:
            scheme = _SCHEMES.get(xfp.decode("latin-1").split(",")[-1].strip().lower())
    return client, scheme
