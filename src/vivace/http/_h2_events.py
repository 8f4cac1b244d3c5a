"""What the sans-IO HTTP/2 connection (``_h2_connection``) reports: one class per event.

``H2Connection.receive(data)`` returns a list of these. They are plain slotted records:
the connection has already checked everything RFC 9113 asks of the frames behind them.
"""

from __future__ import annotations

__all__ = [
    "ConnectionTerminated",
    "DataReceived",
    "Event",
    "InformationalReceived",
    "PingAcked",
    "RequestReceived",
    "ResponseReceived",
    "SendReady",
    "SettingsChanged",
    "StreamReset",
    "TrailersReceived",
]


class Event:
    """Base of every HTTP/2 event."""

    __slots__ = ()

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"


class RequestReceived(Event):
    """A request head (server side). ``pseudo`` maps ``b":method"`` etc. to values;
    ``headers`` are the regular fields, lowercase names, in order."""

    __slots__ = ("end_stream", "headers", "pseudo", "stream_id")

    def __init__(
        self,
        stream_id: int,
        pseudo: dict[bytes, bytes],
        headers: list[tuple[bytes, bytes]],
        end_stream: bool,
    ) -> None:
        self.stream_id = stream_id
        self.pseudo = pseudo
        self.headers = headers
        self.end_stream = end_stream


class ResponseReceived(Event):
    """A final response head (client side)."""

    __slots__ = ("end_stream", "headers", "status", "stream_id")

    def __init__(
        self, stream_id: int, status: int, headers: list[tuple[bytes, bytes]], end_stream: bool
    ) -> None:
        self.stream_id = stream_id
        self.status = status
        self.headers = headers
        self.end_stream = end_stream


class InformationalReceived(Event):
    """A 1xx response head (client side): 100 Continue, 103 Early Hints."""

    __slots__ = ("headers", "status", "stream_id")

    def __init__(self, stream_id: int, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.stream_id = stream_id
        self.status = status
        self.headers = headers


class TrailersReceived(Event):
    """Trailer fields; the stream's incoming side ends with them."""

    __slots__ = ("headers", "stream_id")

    def __init__(self, stream_id: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.stream_id = stream_id
        self.headers = headers


class DataReceived(Event):
    """Body bytes. Call ``H2Connection.acknowledge`` once they are consumed: that is what
    reopens the flow-control windows (RFC 9113 section 5.2)."""

    __slots__ = ("data", "end_stream", "stream_id")

    def __init__(self, stream_id: int, data: bytes, end_stream: bool) -> None:
        self.stream_id = stream_id
        self.data = data
        self.end_stream = end_stream


class StreamReset(Event):
    """A stream ended abnormally: reset by the peer (``remote``) or by us for an error."""

    __slots__ = ("error_code", "remote", "stream_id")

    def __init__(self, stream_id: int, error_code: int, remote: bool) -> None:
        self.stream_id = stream_id
        self.error_code = error_code
        self.remote = remote


class SendReady(Event):
    """Buffered outgoing data of a stream was sent (a window opened)."""

    __slots__ = ("stream_id",)

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id


class SettingsChanged(Event):
    """The peer's SETTINGS frame, applied: ``changed`` maps each parameter to its value."""

    __slots__ = ("changed",)

    def __init__(self, changed: dict[int, int]) -> None:
        self.changed = changed


class PingAcked(Event):
    """The answer to one of our PINGs."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class ConnectionTerminated(Event):
    """GOAWAY, received (``remote``) or sent for an error: no new streams.

    Streams above ``last_stream_id`` were not processed and may be retried."""

    __slots__ = ("debug", "error_code", "last_stream_id", "remote")

    def __init__(self, error_code: int, last_stream_id: int, debug: bytes, remote: bool) -> None:
        self.error_code = error_code
        self.last_stream_id = last_stream_id
        self.debug = debug
        self.remote = remote
