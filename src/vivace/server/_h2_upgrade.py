"""The three ways into HTTP/2 from the HTTP/1.1 listener (``HTTPProtocol`` calls these).

* TLS: the handshake picked ``h2`` by ALPN (RFC 9113 section 3.2; RFC 7301), seen in
  ``connection_made``: the connection is HTTP/2 from its first byte.
* Cleartext with prior knowledge (section 3.3): the first bytes are the client preface
  (``PRI * HTTP/2.0``...), which no HTTP/1.1 request starts with.
* ``Upgrade: h2c`` (RFC 7540 section 3.2; deprecated by RFC 9113 section 3.1 but still
  sent by some clients): a request without a body, with exactly one ``HTTP2-Settings``
  field holding a base64url SETTINGS payload and ``Connection: Upgrade, HTTP2-Settings``,
  is answered ``101 Switching Protocols`` and becomes stream 1; anything else is served
  as HTTP/1.1, as RFC 9110 section 7.8 allows.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import TYPE_CHECKING, Any

from vivace.http._h2_frames import CONNECTION_PREFACE
from vivace.server._h2_protocol import H2Protocol
from vivace.types import Scope

if TYPE_CHECKING:
    from vivace.server._protocol import HTTPProtocol
    from vivace.server._state import ServerState

__all__ = [
    "SNIFF",
    "alpn_h2",
    "h2c_settings",
    "is_preface",
    "switch",
    "take_over",
    "upgrade_handler",
]

_SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n"
#: Bytes of the preface needed to tell it from an HTTP/1.1 request line.
SNIFF = 4


def alpn_h2(transport: asyncio.BaseTransport) -> bool:
    """Whether the TLS handshake of ``transport`` chose HTTP/2."""
    ssl_object = transport.get_extra_info("ssl_object")
    return ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"


def is_preface(data: bytes) -> bool:
    """Whether ``data`` (at least ``SNIFF`` bytes, or all there is) starts the preface."""
    size = min(len(data), len(CONNECTION_PREFACE))
    return data[:size] == CONNECTION_PREFACE[:size]


def take_over(state: ServerState, transport: asyncio.Transport) -> None:
    """Serve ``transport`` (a TLS connection that chose ``h2``) with HTTP/2."""
    protocol = H2Protocol(state)
    transport.set_protocol(protocol)
    protocol.take_over(transport)


def switch(old: HTTPProtocol, transport: asyncio.Transport, data: bytes) -> None:
    """Hand ``transport`` from the HTTP/1.1 protocol to a new HTTP/2 one."""
    old.detach()
    protocol = H2Protocol(old.state)
    transport.set_protocol(protocol)
    protocol.take_over(transport, data)


def h2c_settings(scope: Scope) -> bytes | None:
    """The decoded ``HTTP2-Settings`` of an upgrade request, or None if it may not upgrade."""
    settings = [value for name, value in scope["headers"] if name == b"http2-settings"]
    connection: set[bytes] = set()
    for name, value in scope["headers"]:
        if name == b"connection":
            connection.update(token.strip().lower() for token in value.split(b","))
        elif name in (b"content-length", b"transfer-encoding") and value != b"0":
            return None  # a request body would have to be read first: stay HTTP/1.1
    if len(settings) != 1 or b"http2-settings" not in connection:
        return None
    value = settings[0].strip()
    try:
        payload = base64.b64decode(value + b"=" * (-len(value) % 4), b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(payload) % 6:
        return None
    return payload


def upgrade_handler(state: ServerState) -> Any:
    """The ``Upgrade: h2c`` handler ``HTTPProtocol`` calls (see ``h2c_settings``)."""

    def handle(transport: asyncio.Transport, scope: Scope, rest: bytes) -> H2Protocol:
        settings = h2c_settings(scope)
        assert settings is not None  # checked by HTTPProtocol before it hands over
        transport.write(_SWITCHING)
        protocol = H2Protocol(state)
        protocol.take_over(transport, rest, upgrade=(scope, settings))
        return protocol

    return handle
