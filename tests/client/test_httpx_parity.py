"""What an httpx user relies on in a first hour with the client, checked against real
servers (uvicorn on 127.0.0.1:0) where the network matters: each test here failed before
the fix it names."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import secrets
from datetime import timedelta
from typing import Any
from urllib.request import parse_http_list, parse_keqv_list

import pytest

from vivace.client import (
    Client,
    DigestAuth,
    HTTPStatusError,
    MockTransport,
    RemoteProtocolError,
    Request,
    Response,
    Timeout,
    WriteTimeout,
)
from vivace.http import QueryParams
from vivace.testing import TestClient
from vivace.types import Receive, Scope, Send

from ..testing.apps import read_body, send_response
from .servers import raw_server, read_head, uvicorn_server


async def status_app(scope: Scope, receive: Receive, send: Send) -> None:
    """``/<status>`` answers with that status; a 3xx points at ``/200``."""
    status = int(scope["path"].strip("/"))
    headers = [(b"location", b"/200")] if 300 <= status < 400 and status != 304 else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def test_raise_for_status_raises_on_every_non_2xx_like_httpx() -> None:
    # Before: a redirect that was not followed (the default) passed raise_for_status(),
    # so the caller went on to parse an empty 301 body.
    async with uvicorn_server(status_app) as base, Client(base_url=base) as client:
        ok = await client.get("/204")
        assert ok.raise_for_status() is ok
        moved = await client.get("/301")
        with pytest.raises(HTTPStatusError) as info:
            moved.raise_for_status()
        assert str(info.value) == (
            f"Redirect response '301 Moved Permanently' for url '{base}/301'\n"
            "Redirect location: '/200' (follow_redirects=True follows it)"
        )
        assert info.value.response is moved
        not_modified = await client.get("/304")
        with pytest.raises(HTTPStatusError, match=r"^Redirect response '304 Not Modified'[^\n]*$"):
            not_modified.raise_for_status()
        followed = await client.get("/302", follow_redirects=True)
        assert followed.raise_for_status() is followed
        with pytest.raises(HTTPStatusError, match=r"^Server error '500 Internal Server Error'"):
            (await client.get("/500")).raise_for_status()
    request = Request("GET", "http://x.test/")
    with pytest.raises(HTTPStatusError, match=r"^Informational response '103 Early Hints'"):
        Response(103, request=request).raise_for_status()
    with pytest.raises(HTTPStatusError, match=r"^Invalid status code '999"):
        Response(999, request=request).raise_for_status()
    async with Client(transport=MockTransport(lambda r: Response(418))) as mock:
        with pytest.raises(HTTPStatusError, match=r"^Client error '418"):
            (await mock.get("http://x.test/")).raise_for_status()


async def pieces_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A text body sent in uneven pieces (a multi-byte character split across two)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for piece in (b"ab", b"cdefg", b"h\xc3", b"\xa9ij", b"k"):
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def test_readers_take_chunk_size_like_httpx() -> None:
    # Before: aiter_bytes(chunk_size=4) raised TypeError (an unexpected keyword argument).
    async with uvicorn_server(pieces_app) as base, Client(base_url=base) as client:
        async with client.stream("GET", "/") as response:
            assert [p async for p in response.aiter_bytes(chunk_size=4)] == [
                b"abcd",
                b"efgh",
                b"\xc3\xa9ij",
                b"k",
            ]
        async with client.stream("GET", "/") as response:
            assert [p async for p in response.aiter_raw(chunk_size=100)] == [
                "abcdefghéijk".encode()
            ]
        async with client.stream("GET", "/") as response:
            assert [p async for p in response.aiter_text(chunk_size=5)] == ["abcde", "fghéi", "jk"]
        response = await client.get("/")  # read already: the readers cut its content
        assert [p async for p in response.aiter_bytes(chunk_size=6)] == [
            b"abcdef",
            b"gh\xc3\xa9ij",
            b"k",
        ]
        assert [p async for p in response.aiter_bytes()] == ["abcdefghéijk".encode()]
        for bad in (0, -1, True, 2.5):
            with pytest.raises(ValueError, match="chunk_size must be a positive int or None"):
                [p async for p in response.aiter_text(chunk_size=bad)]  # type: ignore[arg-type]


def test_sync_readers_take_chunk_size() -> None:
    with TestClient(pieces_app) as client:
        with client.stream("GET", "/") as response:
            assert list(response.iter_bytes(chunk_size=5)) == [b"abcde", b"fgh\xc3\xa9", b"ijk"]
        with client.stream("GET", "/") as response:
            assert list(response.iter_raw(chunk_size=12)) == ["abcdefghéij".encode(), b"k"]
        with client.stream("GET", "/") as response:
            assert list(response.iter_text(chunk_size=11)) == ["abcdefghéij", "k"]
        with client.stream("GET", "/") as response, pytest.raises(ValueError, match="not 0"):
            list(response.iter_bytes(chunk_size=0))


async def linked_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A paginated answer, gzipped: 10 000 bytes of body in far fewer on the wire."""
    body = gzip.compress(b"x" * 10_000)
    link = b'<https://api.test/items?page=2>; rel="next", <https://api.test/items?page=9>; rel=last'
    headers = [(b"content-encoding", b"gzip"), (b"link", link)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body[:10], "more_body": True})
    await send({"type": "http.response.body", "body": body[10:]})


async def test_response_attributes_httpx_code_reads() -> None:
    # Before: r.elapsed was a float (r.elapsed.total_seconds() raised AttributeError), and
    # is_closed, is_stream_consumed, num_bytes_downloaded and links did not exist.
    wire = len(gzip.compress(b"x" * 10_000))
    async with uvicorn_server(linked_app) as base, Client(base_url=base) as client:
        response = await client.get("/items")
        assert isinstance(response.elapsed, timedelta)
        assert 0 < response.elapsed.total_seconds() < 10
        assert response.is_closed and response.is_stream_consumed
        assert response.num_bytes_downloaded == wire and len(response.content) == 10_000
        assert response.links == {
            "next": {"url": "https://api.test/items?page=2", "rel": "next"},
            "last": {"url": "https://api.test/items?page=9", "rel": "last"},
        }
        async with client.stream("GET", "/items") as streamed:
            assert not streamed.is_closed and not streamed.is_stream_consumed
            with pytest.raises(RuntimeError, match="once the response was read or closed"):
                streamed.elapsed  # noqa: B018
            seen = [streamed.num_bytes_downloaded async for _ in streamed.aiter_bytes()]
            assert seen[-1] == wire and streamed.is_closed
            assert streamed.elapsed.total_seconds() > 0
    hand_built = Response(200, headers={"link": "no link here"})
    assert hand_built.links == {} and Response(200).links == {}
    hand_built.elapsed = timedelta(milliseconds=5)
    assert hand_built.elapsed == timedelta(milliseconds=5)


def test_link_header_parsing_is_lenient_and_keeps_quoted_commas() -> None:
    links = Response(
        200,
        headers={
            "link": '<https://a.test/x?a=1,2>; rel="next prev"; title="a, b; c", '
            '<b>;REL=last;flag, <no-rel>, junk, <c>; rel="un\\"q"'
        },
    ).links
    assert links == {
        "next prev": {"url": "https://a.test/x?a=1,2", "rel": "next prev", "title": "a, b; c"},
        "last": {"url": "b", "rel": "last", "flag": ""},
        "no-rel": {"url": "no-rel"},
        'un"q': {"url": "c", "rel": 'un"q'},
    }


async def query_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the raw query string it got."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["query_string"]})


async def test_request_params_replace_the_clients_for_the_same_key() -> None:
    # Before: Client(params={"page": 1}).get(url, params={"page": 2}) sent page=1&page=2,
    # and the server read page=1 (the first) or a list.
    async with (
        uvicorn_server(query_app) as base,
        Client(base_url=base, params={"page": "1", "key": "k", "tag": ["a", "b"]}) as client,
    ):

        async def query(url: str = "/", **kwargs: Any) -> str:
            return (await client.get(url, **kwargs)).text

        assert await query() == "page=1&key=k&tag=a&tag=b"
        assert await query(params={"page": 2}) == "key=k&tag=a&tag=b&page=2"
        assert await query(params={"tag": ["c"], "q": "x"}) == "page=1&key=k&tag=c&q=x"
        assert (
            await query(params=[("page", "3"), ("page", "4")]) == "key=k&tag=a&tag=b&page=3&page=4"
        )
        assert await query(params="key=z") == "page=1&tag=a&tag=b&key=z"
        assert await query(params=QueryParams("tag=")) == "page=1&key=k&tag="
        assert await query(params={"page": None}) == "key=k&tag=a&tag=b&page="
        assert await query(params={}) == "page=1&key=k&tag=a&tag=b"
        # The URL's own query is kept, before the client's params (httpx drops it).
        assert await query("/?page=0", params={"q": "y"}) == "page=0&page=1&key=k&tag=a&tag=b&q=y"
        # Before: the client's own params went through str(): tag=['a', 'b'], t=True.
        client.params = {"t": True, "f": False, "n": None, "l": [1, "é"]}
        assert await query() == "t=true&f=false&n=&l=1&l=%C3%A9"
        assert client.params.getlist("l") == ["1", "é"]


async def body_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the request body it got."""
    body = await read_body(receive)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_json_body_encodes_as_httpx_does() -> None:
    # Before: json={"x": float("nan")} was sent as {"x":null} (orjson's choice), a silent
    # change of the value where httpx raises; json={1: "a"} raised TypeError where httpx
    # sends {"1": "a"}.
    async with uvicorn_server(body_app) as base, Client(base_url=base) as client:
        sent = await client.post("/", json={1: "a", None: [1.5, None], "s": "null"})
        assert sent.json() == {"1": "a", "null": [1.5, None], "s": "null"}
        for value in (float("nan"), float("inf"), -float("inf")):
            hostile = {"deep": [{"x": [1, value]}]}
            with pytest.raises(ValueError, match="NaN or Infinity"):
                await client.post("/", json=hostile)
            with pytest.raises(ValueError, match="NaN or Infinity"):
                await client.put("/", json=(value,))
        with pytest.raises(TypeError, match="not JSON serializable"):
            await client.post("/", json={"x": object()})
    with pytest.raises(ValueError, match="NaN or Infinity"):
        Response(200, json=[float("nan")])


async def latin1_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Latin-1 text, with the charset named only on ``/named``."""
    named = scope["path"] == "/named"
    content_type = b"text/plain; charset=latin-1" if named else b"text/plain"
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]}
    )
    await send({"type": "http.response.body", "body": "café crème".encode("latin-1")})


async def test_default_encoding_may_guess_from_the_body_like_httpx() -> None:
    # Before: Client(default_encoding=a function) - httpx's way to plug in charset
    # detection - gave the function itself as .encoding, and .text raised TypeError.
    guesses: list[bytes] = []

    def guess(content: bytes) -> str | None:
        guesses.append(content)
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return "cp1252"
        return None

    async with (
        uvicorn_server(latin1_app) as base,
        Client(base_url=base, default_encoding=guess) as client,
    ):
        response = await client.get("/")
        assert response.encoding == "cp1252" and response.text == "café crème"
        assert guesses == ["café crème".encode("latin-1")]
        named = await client.get("/named")  # the header's charset wins; no guess
        assert named.encoding == "iso8859-1" and named.text == "café crème" and len(guesses) == 1
        async with client.stream("GET", "/") as streamed:
            assert streamed.encoding == "utf-8"  # nothing read yet to guess from
            await streamed.aread()
            assert streamed.encoding == "cp1252" and streamed.text == "café crème"
        client.default_encoding = lambda content: "no-such-codec"
        assert (await client.get("/")).encoding == "utf-8"
        client.default_encoding = lambda content: None
        assert (await client.get("/")).text == "caf\ufffd cr\ufffdme"
        client.default_encoding = "latin-1"
        assert (await client.get("/")).text == "café crème"


def digest_app(algorithm: str = "MD5", qop: str | None = "auth", stale_after: int = 3) -> Any:
    """A server checking RFC 7616 Digest credentials for ``user``/``pässword`` itself.

    Each nonce is good for ``stale_after`` requests; it records the ``nc`` values it saw."""
    hash_function = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm.removesuffix("-sess")]
    seen: list[dict[str, str]] = []
    nonces: dict[str, int] = {}

    def digest(*parts: str) -> str:
        return hash_function(":".join(parts).encode()).hexdigest()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        header = dict(scope["headers"]).get(b"authorization", b"").decode()
        ok = False
        if header.startswith("Digest "):
            fields = parse_keqv_list(parse_http_list(header[7:]))
            seen.append(fields)
            nonce = fields["nonce"]
            if nonce in nonces and nonces[nonce] < stale_after:
                nonces[nonce] += 1
                ha1 = digest("user", "vivace", "pässword")
                if algorithm.endswith("-sess"):
                    ha1 = digest(ha1, nonce, fields["cnonce"])
                target = scope["raw_path"].decode()
                if scope["query_string"]:
                    target += "?" + scope["query_string"].decode()
                ha2 = digest(scope["method"], fields["uri"])
                if qop:
                    expected = digest(ha1, nonce, fields["nc"], fields["cnonce"], "auth", ha2)
                else:
                    expected = digest(ha1, nonce, ha2)
                ok = fields["response"] == expected and fields["uri"] == target
        if ok:
            await send_response(send, 200, b"welcome")
            return
        nonce = secrets.token_hex(8)
        nonces[nonce] = 0
        challenge = f'Digest realm="vivace", nonce="{nonce}", opaque="op", algorithm={algorithm}'
        if qop:
            challenge += f', qop="{qop}"'
        await send_response(send, 401, b"", [(b"www-authenticate", challenge.encode())])

    app.seen = seen  # type: ignore[attr-defined]
    return app


@pytest.mark.parametrize(
    ("algorithm", "qop"),
    [("MD5", "auth"), ("MD5", None), ("SHA-256", "auth,auth-int"), ("MD5-sess", "auth")],
)
async def test_digest_auth_like_httpx(algorithm: str, qop: str | None) -> None:
    # Before: no DigestAuth (httpx has one); an httpx user's import failed.
    app = digest_app(algorithm, qop)
    auth = DigestAuth("user", "pässword")
    async with uvicorn_server(app) as base, Client(base_url=base, auth=auth) as client:
        first = await client.post("/private/a b?x=1", content=b"body")
        assert first.status_code == 200 and first.text == "welcome"
        assert [r.status_code for r in first.history] == [401]
        # The challenge is reused: no 401 round trip, the nonce count goes up.
        second = await client.get("/private")
        assert second.status_code == 200 and second.history == []
        expected_nc = ["00000001", "00000002"] if qop else [None, None]
        assert [fields.get("nc") for fields in app.seen] == expected_nc
        assert app.seen[0]["opaque"] == "op" and app.seen[0]["username"] == "user"
        # The server's nonce went stale: a fresh challenge is answered again.
        await client.get("/private")
        fourth = await client.get("/private")
        assert fourth.status_code == 200 and [r.status_code for r in fourth.history] == [401]
        wrong = await client.get("/private", auth=DigestAuth("user", "wrong"))
        assert wrong.status_code == 401 and len(wrong.history) == 1


async def test_digest_auth_refuses_challenges_it_cannot_answer() -> None:
    challenges = [
        'Digest nonce="n"',  # no realm
        'Digest realm="r", nonce="n", algorithm=SHA-999',
        'Digest realm="r", nonce="n", qop="auth-int"',
    ]

    def handler(request: Request) -> Response:
        index = int(request.url.path.strip("/"))
        return Response(401, headers={"www-authenticate": challenges[index]})

    async with Client(transport=MockTransport(handler), auth=DigestAuth("u", "p")) as client:
        for index, problem in enumerate(["no realm", "SHA-999", "auth-int"]):
            with pytest.raises(RemoteProtocolError, match=f"Digest challenge: .*{problem}"):
                await client.get(f"http://x.test/{index}")
        basic_only = MockTransport(lambda r: Response(401, headers={"www-authenticate": "Basic"}))
        client._transport = basic_only
        assert (await client.get("http://x.test/")).status_code == 401


async def test_a_large_body_the_server_does_not_take_raises_write_timeout() -> None:
    # Before: a bytes body larger than the socket buffers was handed to the transport at
    # once and the read timeout ran from there: ReadTimeout("no response data for 3.0 s")
    # after 3 s, where httpx raises WriteTimeout after the 0.3 s write timeout.
    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    connections: list[int] = []

    async def answers_early(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await read_head(reader)  # then refuses the body without reading it
        writer.write(b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(10)

    loop = asyncio.get_running_loop()
    async with raw_server(never_reads) as base, Client(timeout=Timeout(3, write=0.3)) as client:
        started = loop.time()
        with pytest.raises(WriteTimeout, match=r"did not accept the request within 0\.3 s"):
            await client.post(base, content=b"x" * 50_000_000)
        assert loop.time() - started < 2
    async with raw_server(answers_early) as base, Client(timeout=Timeout(3, write=0.3)) as client:
        refused = await client.post(base, content=b"x" * 50_000_000)
        assert refused.status_code == 413
        # The refused body's unsent rest must not open the next request: a new connection.
        assert (await client.post(base, content=b"small")).status_code == 413
        assert len(connections) == 2
