"""Header field whitespace (RFC 9112 section 5), fragments in the target, spec_version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import Harness, parse_responses, parse_statuses, text_app
from vivace.types import Receive, Scope, Send

Make = Callable[..., Harness]


def recording(seen: list[Scope], bodies: list[bytes] | None = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        if bodies is not None:
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            bodies.append(b"".join(chunks))
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": bodies[-1]})
            return
        await text_app(scope, receive, send)

    return app


# -- trailing OWS --------------------------------------------------------------------------


async def test_trailing_whitespace_is_not_part_of_the_value(make: Make) -> None:
    seen: list[Scope] = []
    h = make(recording(seen))
    await h.send(
        b"GET / HTTP/1.1\r\nHost: x \r\nX-Pad: padded value  \r\nX-Tab: t\t\r\n"
        b"X-Mixed: \t a b \t \r\nX-Empty:  \t \r\nX-Inner: a \t b\r\n\r\n"
    )
    await h.response()
    headers = seen[0]["headers"]
    assert (b"x-pad", b"padded value") in headers
    assert (b"x-tab", b"t") in headers
    assert (b"x-mixed", b"a b") in headers  # leading OWS: llhttp; trailing: ours
    assert (b"x-empty", b"") in headers
    assert (b"x-inner", b"a \t b") in headers  # whitespace inside a value stays
    assert (b"host", b"x") in headers


async def test_expect_100_continue_with_trailing_space(make: Make) -> None:
    bodies: list[bytes] = []
    h = make(recording([], bodies))
    await h.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue \t\r\nContent-Length: 3\r\n\r\n"
    )
    await h.wait_for(lambda: b"100 Continue" in h.transport.data)
    await h.send(b"abc")
    response = await h.response()
    assert response.status == 200 and response.body == b"abc"
    assert bodies == [b"abc"]


@pytest.mark.parametrize("pad", [b" ", b"   "])
async def test_chunked_with_trailing_whitespace_is_dechunked(make: Make, pad: bytes) -> None:
    bodies: list[bytes] = []
    h = make(recording([], bodies))
    await h.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
        + pad
        + b"\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    response = await h.response()
    assert response.status == 200 and response.body == b"abcde"
    assert bodies == [b"abcde"]


async def test_content_length_with_trailing_whitespace(make: Make) -> None:
    bodies: list[bytes] = []
    h = make(recording([], bodies), max_body_size=2)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3 \r\n\r\nabc")
    await h.closed()
    assert parse_statuses(h.transport.data) == [413]  # the limit check sees the number
    assert bodies == []


TRAILING_WS_SMUGGLING = {
    "cl_and_te_padded": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3 \r\nTransfer-Encoding: chunked \r\n\r\n0\r\n\r\n",  # noqa: E501
    "te_duplicate_padded": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked \r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n",  # noqa: E501
    "obs_fold_after_padding": b"GET / HTTP/1.1\r\nHost: x\r\nX: a \r\n b\r\n\r\n",
    "duplicate_cl_padded": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3 \r\nContent-Length: 4\r\n\r\nabcd",  # noqa: E501
}


@pytest.mark.parametrize(
    "request_bytes", TRAILING_WS_SMUGGLING.values(), ids=TRAILING_WS_SMUGGLING.keys()
)
async def test_smuggling_rules_hold_with_trailing_whitespace(
    make: Make, request_bytes: bytes
) -> None:
    seen: list[Scope] = []
    h = make(recording(seen))
    await h.send(request_bytes + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [400]
    assert seen == []


@pytest.mark.parametrize(
    ("coding", "status"),
    [
        (b"gzip ", 501),
        (b"chunked x", 501),
        (b"gzip , chunked ", 501),
        # llhttp itself refuses these (chunked not last; a tab after the coding): still
        # refused, before our own check sees them.
        (b"chunked , gzip ", 400),
        (b"chunked\t", 400),
        (b" chunked ", 200),
    ],
)
async def test_unknown_codings_still_refused(make: Make, coding: bytes, status: int) -> None:
    h = make()
    await h.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + b"\r\n\r\n0\r\n\r\n"
    )
    if status == 200:
        assert (await h.response()).status == 200
    else:
        await h.closed()
        assert parse_statuses(h.transport.data) == [status]


async def test_expect_other_than_100_continue_still_417(make: Make) -> None:
    h = make()
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, x \r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [417]


async def test_trailers_with_trailing_whitespace_accepted(make: Make) -> None:
    seen: list[Scope] = []
    bodies: list[bytes] = []
    h = make(recording(seen, bodies))
    await h.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\nX-Checksum: 42 \t\r\n\r\n"
    )
    response = await h.response()
    assert response.body == b"abc" and bodies == [b"abc"]
    # Request trailers are not part of the scope: the head's fields are.
    assert [n for n, _ in seen[0]["headers"]] == [b"host", b"transfer-encoding"]


# -- fragments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/frag?x=1#sec",
        b"/f#frag",
        b"/#",
        b"/a#/../b",
        b"/?#",
        b"http://example.com/p?q=1#f",
        b"/a?b=#c" + b"#" * 1000,
    ],
)
async def test_fragment_in_target_is_400(make: Make, target: bytes) -> None:
    seen: list[Scope] = []
    h = make(recording(seen))
    await h.send(b"GET " + target + b" HTTP/1.1\r\nHost: example.com\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [400]
    assert b"fragment" in parse_responses(h.transport.data)[0].body
    assert seen == []
    assert target not in h.state.targets  # a refused target is not cached


async def test_fragment_refused_after_a_good_cached_target(make: Make) -> None:
    seen: list[Scope] = []
    h = make(recording(seen))
    await h.send(b"GET /p?x=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.responses(2)
    await h.send(b"GET /p?x=1#s HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [200, 200, 400]
    assert [s["query_string"] for s in seen] == [b"x=1", b"x=1"]


async def test_encoded_hash_is_data_not_a_fragment(make: Make) -> None:
    seen: list[Scope] = []
    h = make(recording(seen))
    await h.send(b"GET /a%23b?q=%23x HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.response()
    assert seen[0]["path"] == "/a#b"
    assert seen[0]["raw_path"] == b"/a%23b"
    assert seen[0]["query_string"] == b"q=%23x"


async def test_websocket_upgrade_with_fragment_is_400(make: Make) -> None:
    h = make()
    await h.send(
        b"GET /ws#x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await h.closed()
    assert parse_statuses(h.transport.data) == [400]


# -- spec_version --------------------------------------------------------------------------


async def test_websocket_scopes_declare_spec_2_5_and_http_scopes_2_3(make: Make) -> None:
    # ASGI HTTP & WebSocket spec 2.5: websocket.disconnect carries "reason" (2.3: close
    # reason; 2.4: send() on a closed connection raises OSError), all implemented here.
    # An HTTP scope declares 2.3 so that apps keep listening for http.disconnect, which
    # the server reports before a send() can fail (_http11.HTTP_ASGI).
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1000, "reason": "bye"})
            return
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.response()
    ws = make(app)
    await ws.send(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await ws.wait_for(lambda: len(seen) == 2)
    assert [s["type"] for s in seen] == ["http", "websocket"]
    assert [s["asgi"] for s in seen] == [
        {"version": "3.0", "spec_version": "2.3"},
        {"version": "3.0", "spec_version": "2.5"},
    ]
