"""Tier-1 tests of the server's HTTP/1.1 core (``server/_http11.py``): byte strings in,
events out. No transport, no protocol, no running loop (the ServerState takes a loop only
for its clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from vivace.server._config import Config
from vivace.server._http11 import (
    BODY,
    HEAD,
    IDLE,
    REJECTED,
    SWITCHED,
    Reject,
    RequestReader,
)
from vivace.server._machine import IllegalMove, State, transitions
from vivace.server._state import ServerState
from vivace.types import Scope

Event = tuple[Any, ...]


class Recorder:
    """A RequestSink that writes down what the reader reports; its requests (what
    ``new_request`` builds) are numbers, queued in ``queued``."""

    def __init__(self, *, take_upgrade: bool = False, refuse: Reject | None = None) -> None:
        self.events: list[Event] = []
        self.take_upgrade = take_upgrade
        self.refuse = refuse
        self.scopes: list[Scope] = []
        self.queued: list[int] = []
        self.rejected_while_reading: int | None = None

    def new_request(
        self,
        scope: Scope,
        headers: list[tuple[bytes, bytes]],
        http11: bool,
        keep_alive: bool,
        head_request: bool,
        expect_100: bool,
        complete: bool,
    ) -> int:
        if self.refuse is not None:
            raise self.refuse
        self.scopes.append(scope)
        self.events.append(
            (
                "head",
                scope["method"],
                scope["raw_path"],
                scope["query_string"],
                scope["http_version"],
                tuple(headers),
                keep_alive,
                head_request,
                expect_100,
            )
        )
        if complete:  # a request without a body: its head is its end
            self.events.append(("end",))
        return len(self.scopes)

    def request_upgrade(self, scope: Scope, tokens: set[bytes]) -> bool:
        self.events.append(("upgrade?", frozenset(tokens)))
        return self.take_upgrade

    def request_body(self, request: int, data: bytes) -> None:
        assert request == self.queued[-1]  # the body of the request queued last
        self.events.append(("body", data))

    def request_end(self, request: int) -> None:
        assert request == self.queued[-1]
        self.events.append(("end",))

    def request_rejected(self, status: int, text: str, request: int | None) -> None:
        self.events.append(("reject", status, text))
        self.rejected_while_reading = request

    def upgraded(self, rest: bytes) -> None:
        self.events.append(("upgraded", rest))

    def merged(self) -> list[Event]:
        """The events with consecutive body pieces joined (how they are split is llhttp's)."""
        out: list[Event] = []
        for event in self.events:
            if event[0] == "body" and out and out[-1][0] == "body":
                out[-1] = ("body", out[-1][1] + event[1])
            else:
                out.append(event)
        return out


@pytest.fixture
def state() -> Iterator[ServerState]:
    loop = asyncio.new_event_loop()
    try:
        yield ServerState(Config(_app, max_body_size=100, max_header_count=20), _app, loop)
    finally:
        loop.close()


async def _app(scope: Scope, receive: Any, send: Any) -> None:  # pragma: no cover - never run
    raise AssertionError("the core never calls the app")


def reader(
    state: ServerState, sink: Recorder | None = None, trusted: bool = False
) -> tuple[RequestReader, Recorder]:
    sink = sink or Recorder()
    core = RequestReader(
        state,
        sink,
        sink.new_request,
        sink.queued.append,
        server=("127.0.0.1", 8000),
        client=("10.0.0.1", 5000),
        scheme="http",
        trusted=trusted,
    )
    return core, sink


def feed(state: ServerState, *pieces: bytes, sink: Recorder | None = None) -> Recorder:
    core, sink = reader(state, sink)
    for piece in pieces:
        if core.state is REJECTED or core.state is SWITCHED:
            break
        core.feed(piece)
    return sink


GET = b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Pad: v \t\r\n\r\n"
POST = b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
)
STREAMS = {
    "get": GET,
    "post": POST,
    "chunked": CHUNKED,
    "pipelined": GET + POST + CHUNKED + GET,
    "http10": b"GET / HTTP/1.0\r\n\r\n",
    "refused": GET + b"GET / HTTP/1.1\r\n\r\n",
}


@pytest.mark.parametrize("stream", STREAMS.values(), ids=STREAMS.keys())
def test_pieces_give_the_same_events_as_the_whole(state: ServerState, stream: bytes) -> None:
    whole = feed(state, stream).merged()
    assert whole
    bytewise = feed(state, *(stream[i : i + 1] for i in range(len(stream)))).merged()
    assert bytewise == whole
    for cut in range(1, len(stream)):
        assert feed(state, stream[:cut], stream[cut:]).merged() == whole, cut


def test_a_get_request(state: ServerState) -> None:
    sink = feed(state, GET)
    assert sink.events == [
        (
            "head",
            "GET",
            b"/a",
            b"x=1",
            "1.1",
            ((b"host", b"h"), (b"x-pad", b"v")),  # names lowered, trailing OWS gone
            True,
            False,
            False,
        ),
        ("end",),
    ]
    scope = sink.scopes[0]
    assert scope["path"] == "/a" and scope["client"] == ("10.0.0.1", 5000)
    assert scope["server"] == ("127.0.0.1", 8000) and scope["scheme"] == "http"


def test_trailing_ows_only_is_stripped(state: ServerState) -> None:
    # on_header strips with bytes.rstrip(): only SP and HTAB can end a value llhttp
    # accepts, and obs-text (0x85, 0xA0: whitespace to str, not to bytes) stays.
    sink = feed(state, b"GET / HTTP/1.1\r\nHost: h \t\r\nX-A: a\x85\xa0 \t \r\nX-B:\t\r\n\r\n")
    assert sink.events[0][5] == ((b"host", b"h"), (b"x-a", b"a\x85\xa0"), (b"x-b", b""))
    for ctl in (b"\x0b", b"\x0c", b"\r"):
        refused = feed(state, b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a" + ctl + b"\r\n\r\n")
        assert [e[:2] for e in refused.events] == [("reject", 400)], ctl


def test_bodies_and_trailers(state: ServerState) -> None:
    sink = feed(state, POST + CHUNKED)
    merged = sink.merged()
    assert [e[0] for e in merged] == ["head", "body", "end", "head", "body", "end"]
    assert merged[1] == ("body", b"hello") and merged[4] == ("body", b"abcde")
    # The chunked body's trailer field is not part of the request's headers.
    assert all(name != b"x-trailer" for name, _ in merged[3][5])


def test_states_follow_the_table(state: ServerState) -> None:
    core, _ = reader(state)
    assert core.state is IDLE
    core.feed(b"GET / HTTP/1.1\r\n")
    assert core.state is HEAD
    core.feed(b"Host: h\r\nContent-Length: 2\r\n\r\n")
    assert core.state is BODY
    core.feed(b"ab")
    assert core.state is IDLE
    core.feed(b"junk\r\n\r\n")
    assert core.state is REJECTED
    with pytest.raises(AttributeError, match="state REJECTED' object has no attr"):
        core.feed(b"GET / HTTP/1.1\r\n\r\n")


def test_head_request_and_http10(state: ServerState) -> None:
    sink = feed(state, b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", b"GET / HTTP/1.0\r\n\r\n")
    heads = [e for e in sink.events if e[0] == "head"]
    assert heads[0][7] is True and heads[0][6] is True  # HEAD, kept alive
    assert heads[1][4] == "1.0" and heads[1][6] is False


def test_connection_field_and_version(state: ServerState) -> None:
    close = feed(state, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" + GET)
    assert (close.events[0][4], close.events[0][6]) == ("1.1", False)
    # Nothing may follow a request that closes the connection (llhttp refuses it).
    assert [e[0] for e in close.events] == ["head", "end", "reject"]
    kept = feed(state, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert (kept.events[0][4], kept.events[0][6]) == ("1.0", True)


@pytest.mark.parametrize(
    ("version", "expected"), [(b"HTTP/1.1", True), (b"HTTP/1.0", False)], ids=["1.1", "1.0"]
)
def test_expect_100_continue(state: ServerState, version: bytes, expected: bool) -> None:
    sink = feed(
        state,
        b"POST / " + version + b"\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 0\r\n\r\n",
    )
    assert sink.events[0][8] is expected  # no 1xx responses to HTTP/1.0 clients


REJECTS = {
    "no host": (b"GET / HTTP/1.1\r\n\r\n", 400, "Missing Host header"),
    "two hosts": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "More than one Host"),
    "two hosts 1.0": (b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "More than one"),
    "version 2.0": (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP version not supported"),
    "version 0.9": (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "HTTP version not supported"),
    "connect": (b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501, "CONNECT is not supported"),
    "expect other": (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", 417, "Expectation"),
    "coding gzip": (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        "Unsupported transfer coding",
    ),
    "fragment": (b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "a fragment ('#')"),
    "bad absolute target": (b"GET http://[ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "Bad request"),
    "length over limit": (
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n",
        413,
        "Request body too large",
    ),
    "chunks over limit": (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" + b"x" * 101,
        413,
        "Request body too large",
    ),
    "too many fields": (
        b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 20 + b"\r\n",
        431,
        "Too many request header fields",
    ),
    "head too large": (
        b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 70000 + b"\r\n\r\n",
        431,
        "Request header fields too large",
    ),
    "incomplete head too large": (
        b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 70000,
        431,
        "Request header fields too large",
    ),
    "garbage": (b"\x00\x01 nonsense\r\n\r\n", 400, "Bad request: "),
}


@pytest.mark.parametrize(("data", "status", "text"), REJECTS.values(), ids=REJECTS.keys())
def test_every_reject_reason(state: ServerState, data: bytes, status: int, text: str) -> None:
    sink = feed(state, data)
    assert sink.events[-1][:2] == ("reject", status)
    assert text in sink.events[-1][2]
    heads = [e for e in sink.events if e[0] == "head"]
    assert heads == [] or (status == 413 and b"chunked" in data)  # known only mid-body


def test_limits_are_inclusive(state: ServerState) -> None:
    body = b"x" * 100
    fields = b"X: y\r\n" * 19  # with Host: 20 fields, the limit
    sink = feed(
        state,
        b"POST / HTTP/1.1\r\nHost: a\r\n" + fields + b"Content-Length: 100\r\n\r\n" + body,
    )
    assert sink.events[-1] == ("reject", 431, "Too many request header fields")
    sink = feed(
        state,
        b"POST / HTTP/1.1\r\nHost: a\r\n" + fields[6:] + b"Content-Length: 100\r\n\r\n" + body,
    )
    assert [e[0] for e in sink.merged()] == ["head", "body", "end"]


def test_head_size_limit_counts_bytes_of_a_head_still_coming(state: ServerState) -> None:
    core, sink = reader(state)
    piece = b"X: " + b"y" * 1000 + b"\r\n"
    core.feed(b"GET / HTTP/1.1\r\nHost: a\r\n")
    while core.state is HEAD:
        core.feed(piece)
    assert sink.events == [("reject", 431, "Request header fields too large")]
    assert core.unparsed > state.max_head_size


def test_pipelined_requests_come_in_order_and_a_bad_one_ends_them(state: ServerState) -> None:
    stream = GET.replace(b"/a", b"/1") + GET.replace(b"/a", b"/2") + b"BAD\r\n\r\n" + GET
    sink = feed(state, stream)
    assert [e[2] if e[0] == "head" else e[0] for e in sink.events] == [
        b"/1",
        "end",
        b"/2",
        "end",
        "reject",
    ]
    assert sink.queued == [1, 2] and sink.rejected_while_reading is None


def test_each_request_is_built_queued_and_its_body_follows_it(state: ServerState) -> None:
    core, sink = reader(state)
    core.feed(POST[:-3])  # the head and part of the body: built, queued, being read
    assert sink.queued == [1] and core.building == 1
    core.feed(POST[-3:] + GET)
    assert sink.queued == [1, 2] and core.building is None


def test_a_refusal_inside_a_body_names_the_request_being_read(state: ServerState) -> None:
    core, sink = reader(state)
    core.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert core.building == 1
    core.feed(b"65\r\n" + b"x" * 101 + b"\r\n")  # over max_body_size (100)
    assert sink.events[-1] == ("reject", 413, "Request body too large")
    assert sink.rejected_while_reading == 1 and core.building is None


SMUGGLING = {
    "cl and te": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te and cl": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 3\r\n\r\n0\r\n\r\n",
    "two different cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
    b"Content-Length: 2\r\n\r\nab",
    "two equal cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
    b"Content-Length: 2\r\n\r\nab",
    "cl list": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nab",
    "negative cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    "plus cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\nab",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
    "space before colon": b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 0\r\n\r\n",
    "chunked not last": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "bad chunk size": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "huge chunk size": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"fffffffffffffffff\r\n",
    "chunk without crlf": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"1\r\nab\r\n0\r\n\r\n",
    "bare lf in head": b"GET / HTTP/1.1\nHost: a\n\n",
    "bare cr in value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
    "nul in value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
}


@pytest.mark.parametrize("data", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_smuggling_vectors_are_rejected(state: ServerState, data: bytes) -> None:
    sink = feed(state, data + GET)
    assert sink.events[-1][0] == "reject"
    assert 400 <= sink.events[-1][1] < 600
    # Nothing after the bad request reaches the shell as a request of its own.
    assert [e for e in sink.events if e[0] == "head" and e[2] == b"/a"] == []


def test_a_sink_refusal_ends_like_any_other(state: ServerState) -> None:
    sink = feed(state, GET + GET, sink=Recorder(refuse=Reject(503, "Service unavailable")))
    assert sink.events == [("reject", 503, "Service unavailable")]


UPGRADE = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket, H2C \r\n\r\n"


def test_a_taken_upgrade_hands_over_the_rest(state: ServerState) -> None:
    core, sink = reader(state, Recorder(take_upgrade=True))
    core.feed(UPGRADE + b"\x81\x00after")
    assert sink.events == [
        ("upgrade?", frozenset({b"websocket", b"h2c"})),
        ("upgraded", b"\x81\x00after"),
    ]
    assert core.state is SWITCHED


def test_an_ignored_upgrade_is_served_and_parsing_goes_on(state: ServerState) -> None:
    sink = feed(state, UPGRADE + GET)
    assert [e[0] for e in sink.events] == ["upgrade?", "head", "end", "head", "end"]
    assert sink.events[1][2] == b"/ws" and sink.events[3][2] == b"/a"


def test_trusted_proxy_fields_set_client_and_scheme(state: ServerState) -> None:
    config = Config(_app, proxy_headers=True, forwarded_allow_ips=("10.0.0.1",))
    core, sink = reader(ServerState(config, _app, state.loop), trusted=True)
    core.feed(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n\r\n"
    )
    scope = sink.scopes[0]
    assert scope["client"][0] == "1.2.3.4" and scope["scheme"] == "https"


def test_proxy_fields_of_a_request_with_a_body_count_and_do_not_carry_over(
    state: ServerState,
) -> None:
    # A Content-Length makes a request's special fields non-empty; the proxy fields are
    # looked at only when one came (on_headers_complete's routing flag): those of a
    # request with a body count, and the next request without any keeps the peer.
    config = Config(_app, proxy_headers=True, forwarded_allow_ips=("10.0.0.1",))
    core, sink = reader(ServerState(config, _app, state.loop), trusted=True)
    core.feed(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
        b"X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n\r\nhi"
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nho"
        b"GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=5.6.7.8\r\n\r\n"
    )
    clients = [(s["client"][0], s["scheme"]) for s in sink.scopes]
    assert clients == [("1.2.3.4", "https"), ("10.0.0.1", "http"), ("5.6.7.8", "http")]
    assert [e for e in sink.events if e[0] == "body"] == [("body", b"hi"), ("body", b"ho")]


def test_untrusted_proxy_fields_are_ignored(state: ServerState) -> None:
    sink = feed(state, b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")
    assert sink.scopes[0]["client"] == ("10.0.0.1", 5000)


def test_the_reader_table_has_every_move_it_makes() -> None:
    assert IDLE.data is HEAD and BODY.end is IDLE and HEAD.move("head") is BODY
    with pytest.raises(AttributeError, match="in state SWITCHED' object has no attribute 'data'"):
        SWITCHED.data  # noqa: B018 - the lookup is the move
    with pytest.raises(IllegalMove) as info:
        REJECTED.move("end")
    assert (info.value.state, info.value.event) == (REJECTED, "end")
    assert "request reader: no move for 'end' in state REJECTED" in str(info.value)


def test_a_table_is_checked_when_it_is_installed() -> None:
    a, b = State("A"), State("B")
    with pytest.raises(ValueError, match="state B has no row"):
        transitions("broken", {a: {"go": b}})
    for name in ("name", "move", "__init__"):
        with pytest.raises(ValueError, match="cannot name an event"):
            transitions("broken", {a: {name: a}})
    with pytest.raises(ValueError, match="cannot name an event"):
        transitions("broken", {a: {"x.y": a, "x_y": b}, b: {}})  # both would be a.x_y
    transitions("ok", {a: {"go": a, "x.y": a, "x-y": a}})
    assert a.go is a and a.move("x.y") is a and a.x_y is a and repr(a) == "A"
    assert a.move("x-y") is a and not hasattr(a, "x-y")


def test_targets_methods_and_root_path(state: ServerState) -> None:
    sink = feed(
        state,
        b"PURGE http://a.test/x%20y?q HTTP/1.1\r\nHost: a\r\n\r\n"
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET http://a.test HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    heads = [e for e in sink.events if e[0] == "head"]
    assert [(e[1], e[2], e[3]) for e in heads] == [
        ("PURGE", b"/x%20y", b"q"),
        ("OPTIONS", b"*", b""),
        ("GET", b"/", b""),
    ]
    assert sink.scopes[0]["path"] == "/x y"
    config = Config(_app, root_path="/app")
    rooted = feed(ServerState(config, _app, state.loop), b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n")
    assert (rooted.scopes[0]["path"], rooted.scopes[0]["raw_path"]) == ("/app/b", b"/app/b")


class Broken(Recorder):
    def request_body(self, request: int, data: bytes) -> None:
        raise KeyError("a bug in the shell")


def test_a_bug_in_the_sink_is_raised_not_answered(state: ServerState) -> None:
    core, _ = reader(state, Broken())
    with pytest.raises(KeyError, match="a bug in the shell"):
        core.feed(POST)


def test_an_ignored_upgrade_at_the_end_of_the_data(state: ServerState) -> None:
    core, sink = reader(state)
    core.feed(UPGRADE)
    assert [e[0] for e in sink.events] == ["upgrade?", "head", "end"]
    assert core.state is IDLE
    core.feed(GET)
    assert [e[0] for e in sink.events][-2:] == ["head", "end"]
