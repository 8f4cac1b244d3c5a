"""``Request`` and ``Response``: what a client sends and what it gets back.

Both are plain objects over ``vivace.http`` types: headers are a ``MutableHeaders`` on the
request and a ``Headers`` on the response, the URL is a ``vivace.http.URL``. A response body
is a stream until it is read: ``await response.aread()`` (or ``response.read()`` with the
synchronous test client) collects it, after which ``content``, ``text`` and ``json()`` work.
``Client.get()`` and friends read it for you; ``Client.stream()`` leaves it to you.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any, NoReturn

import orjson

from vivace.client._content import (
    RequestContent,
    RequestData,
    encode_request,
    encode_urlencoded,
)
from vivace.client._cookies import Cookies
from vivace.client._decoders import IDENTITY, Decoder, make_decoder
from vivace.client._exceptions import (
    HTTPStatusError,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
)
from vivace.client._links import parse_links
from vivace.client._multipart import RequestFiles
from vivace.client._pieces import LineSplitter, asized, sized
from vivace.client._streams import AsyncByteStream, ByteStream, SyncByteStream
from vivace.http import (
    DEFAULT_PORTS,
    URL,
    Headers,
    HeadersInput,
    MutableHeaders,
    QueryParams,
    check_header_value,
)
from vivace.http.status import reason_phrase as phrase_for

__all__ = ["DefaultEncoding", "Request", "Response", "host_header", "merge_params"]

# A response's default_encoding: a codec name, or a function guessing it from the body.
DefaultEncoding = str | Callable[[bytes], str | None]


def host_header(url: URL) -> bytes:
    """The ``Host`` header value for ``url``: host and port, the port only if not default.

    >>> host_header(URL("http://example.com:80/x")), host_header(URL("https://[::1]:8443/"))
    (b'example.com', b'[::1]:8443')
    """
    hostport = url.netloc.rpartition("@")[2]
    # url.port raises InvalidURL for a port that is not a number (RFC 3986 section 3.2.3).
    port = url.port
    if port is not None and DEFAULT_PORTS.get(url.scheme) == port:
        hostport = hostport.rpartition(":")[0]
    try:
        value = hostport.encode("ascii")
    except UnicodeEncodeError:
        # An internationalised domain name goes on the wire in its IDNA (punycode) form.
        name, colon, number = hostport.partition(":")
        value = name.encode("idna") + (f":{number}".encode("ascii") if colon else b"")
    return check_header_value(value, b"host")


def merge_params(url: URL, params: Any) -> URL:
    """``url`` with ``params`` (a mapping, pairs, a query string) added to its query."""
    if isinstance(params, Mapping) and not isinstance(params, QueryParams):
        # Like httpx: list values repeat the key, True/False/None become true/false/"".
        query = encode_urlencoded(params).decode("ascii")
    else:
        query = str(params if isinstance(params, QueryParams) else QueryParams(params))
    if not query:
        return url
    current = url.query
    return url.replace(query=f"{current}&{query}" if current else query)


class Request:
    """An HTTP request.

    >>> r = Request("post", "https://example.com/items", params={"page": 2}, json={"a": 1})
    >>> r.method, str(r.url), r.headers["content-type"], r.content
    ('POST', 'https://example.com/items?page=2', 'application/json', b'{"a":1}')
    >>> r.headers["host"]
    'example.com'
    """

    __slots__ = ("extensions", "headers", "method", "stream", "url")

    method: str
    url: URL
    headers: MutableHeaders
    stream: AsyncByteStream | SyncByteStream | None
    extensions: dict[str, Any]

    def __init__(
        self,
        method: str,
        url: URL | str,
        *,
        params: Any = None,
        headers: HeadersInput | None = None,
        cookies: Cookies | Mapping[str, str] | None = None,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        stream: AsyncByteStream | SyncByteStream | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        self.method = method.upper()
        self.url = URL(url) if isinstance(url, str) else url
        if params is not None:
            self.url = merge_params(self.url, params)
        self.headers = (
            headers.mutablecopy() if isinstance(headers, Headers) else MutableHeaders(headers)
        )
        self.extensions = {} if extensions is None else extensions
        if stream is None:
            body_headers, stream = encode_request(content, data, files, json)
            chunked = self.headers.get_raw(b"transfer-encoding") is not None
            for name, value in body_headers:
                # RFC 9112 section 6.2: never Content-Length beside Transfer-Encoding.
                if self.headers.get_raw(name) is None and not (
                    chunked and name == b"content-length"
                ):
                    self.headers.raw.append((name, value))
        self.stream = stream
        if stream is None and self.method in ("POST", "PUT", "PATCH"):
            # RFC 9110 section 8.6: say "no content" for methods that define content.
            self.headers.setdefault("content-length", "0")
        if cookies:
            jar = cookies if isinstance(cookies, Cookies) else Cookies(cookies)
            cookie = jar.header_for(self.url)
            if cookie is not None:
                self.headers["cookie"] = cookie
        if "host" not in self.headers:
            self.headers.raw.insert(0, (b"host", host_header(self.url)))

    @classmethod
    def _new(
        cls,
        method: str,
        url: URL,
        headers: MutableHeaders,
        stream: AsyncByteStream | SyncByteStream | None,
        extensions: dict[str, Any],
    ) -> Request:
        # The client's path: everything already validated and merged.
        self = object.__new__(cls)
        self.method = method
        self.url = url
        self.headers = headers
        self.stream = stream
        self.extensions = extensions
        return self

    @property
    def content(self) -> bytes:
        """The body, when it is held in memory (bytes, text, a form, JSON)."""
        stream = self.stream
        if stream is None:
            return b""
        if isinstance(stream, ByteStream):
            return stream.content
        raise RuntimeError("the request body is a stream; await request.aread() first")

    async def aread(self) -> bytes:
        """Read a streamed body into memory (so it can be sent again)."""
        stream = self.stream
        if stream is None:
            return b""
        if not isinstance(stream, ByteStream):
            if isinstance(stream, AsyncByteStream):
                stream = ByteStream(await stream.aread())
            else:
                stream = ByteStream(stream.read())
            self.stream = stream
        return stream.content

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url!r}>"


class Response:
    """An HTTP response.

    You get one from a client; you build one in a ``MockTransport`` handler::

        >>> r = Response(404, json={"error": "not found"})
        >>> r.status_code, r.reason_phrase, r.headers["content-type"], r.json()
        (404, 'Not Found', 'application/json', {'error': 'not found'})
        >>> r.is_client_error, r.text
        (True, '{"error":"not found"}')
    """

    __slots__ = (
        "_content",
        "_decoder",
        "_downloaded",
        "_elapsed",
        "_encoding",
        "_request",
        "_started",
        "_text",
        "closed",
        "default_encoding",
        "extensions",
        "headers",
        "history",
        "http_version",
        "next_request",
        "reason_phrase",
        "status_code",
        "stream",
        "stream_consumed",
    )

    status_code: int
    headers: Headers
    stream: AsyncByteStream | SyncByteStream
    http_version: str
    reason_phrase: str
    extensions: dict[str, Any]
    history: list[Response]
    next_request: Request | None
    default_encoding: DefaultEncoding
    closed: bool
    stream_consumed: bool
    _request: Request | None
    _content: bytes | None
    _text: str | None
    _encoding: str | None
    _decoder: Decoder | None
    _started: float
    _elapsed: float | None
    _downloaded: int

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeadersInput | None = None,
        content: RequestContent | None = None,
        text: str | None = None,
        html: str | None = None,
        json: Any = None,
        stream: AsyncByteStream | SyncByteStream | None = None,
        request: Request | None = None,
        http_version: str = "HTTP/1.1",
        reason_phrase: str | None = None,
        extensions: dict[str, Any] | None = None,
        history: list[Response] | None = None,
        default_encoding: DefaultEncoding = "utf-8",
    ) -> None:
        mheaders = (
            headers.mutablecopy() if isinstance(headers, Headers) else MutableHeaders(headers)
        )
        if stream is None:
            if text is not None:
                content = text.encode("utf-8")
                mheaders.setdefault("content-type", "text/plain; charset=utf-8")
            elif html is not None:
                content = html.encode("utf-8")
                mheaders.setdefault("content-type", "text/html; charset=utf-8")
            body_headers, body = encode_request(content=content, json=json)
            for name, value in body_headers:
                if mheaders.get_raw(name) is None:
                    mheaders.raw.append((name, value))
            stream = body if body is not None else ByteStream(b"")
        self._setup(
            status_code,
            Headers(raw=mheaders.raw),
            stream,
            http_version,
            reason_phrase,
            request,
            extensions,
        )
        self.history = [] if history is None else history
        self.default_encoding = default_encoding
        if isinstance(stream, ByteStream):
            # An in-memory body is already read.
            self._content = stream.content
            self.stream_consumed = True

    def _setup(
        self,
        status_code: int,
        headers: Headers,
        stream: AsyncByteStream | SyncByteStream,
        http_version: str,
        reason_phrase: str | None,
        request: Request | None,
        extensions: dict[str, Any] | None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.stream = stream
        self.http_version = http_version
        self.reason_phrase = reason_phrase if reason_phrase is not None else phrase_for(status_code)
        self._request = request
        self.extensions = {} if extensions is None else extensions
        self.history = []
        self.next_request = None
        self.default_encoding = "utf-8"
        self._elapsed = None
        self._downloaded = 0
        self.closed = False
        self.stream_consumed = False
        self._content = None
        self._text = None
        self._encoding = None
        self._decoder = None
        self._started = 0.0

    @classmethod
    def _from_transport(
        cls,
        status_code: int,
        raw_headers: list[tuple[bytes, bytes]],
        stream: AsyncByteStream | SyncByteStream,
        request: Request,
        http_version: str = "HTTP/1.1",
        reason_phrase: str | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        # Transports build responses from parsed (trusted) data: no validation, no copies.
        self = object.__new__(cls)
        headers = Headers.__new__(Headers)
        headers._list = raw_headers
        self._setup(
            status_code,
            headers,
            stream,
            http_version,
            reason_phrase,
            request,
            extensions,
        )
        return self

    # -- what the response is -----------------------------------------------------------

    @property
    def request(self) -> Request:
        """The request this responds to."""
        if self._request is None:
            raise RuntimeError("this response has no request (it was built by hand)")
        return self._request

    @request.setter
    def request(self, request: Request) -> None:
        self._request = request

    @property
    def url(self) -> URL:
        """The URL of the request (after redirects: of the last one)."""
        return self.request.url

    @property
    def elapsed(self) -> timedelta:
        """From sending the request to closing the response (its body read), as httpx
        measures it; ``elapsed.total_seconds()`` is the figure in seconds."""
        if self._elapsed is None:
            raise RuntimeError(
                "elapsed is known once the response was read or closed "
                "(and only for a response a client sent)"
            )
        return timedelta(seconds=self._elapsed)

    @elapsed.setter
    def elapsed(self, elapsed: timedelta) -> None:
        self._elapsed = elapsed.total_seconds()

    @property
    def is_closed(self) -> bool:
        """httpx's name for ``closed``."""
        return self.closed

    @property
    def is_stream_consumed(self) -> bool:
        """httpx's name for ``stream_consumed``."""
        return self.stream_consumed

    @property
    def num_bytes_downloaded(self) -> int:
        """The body bytes received so far, as they came (before gzip or deflate is undone)."""
        return self._downloaded

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header's links by ``rel`` (or by URL without one), as in httpx:
        ``response.links["next"]["url"]`` for paginated APIs."""
        value = self.headers.get("link")
        if value is None:
            return {}
        return {link.get("rel") or link["url"]: link for link in parse_links(value)}

    @property
    def is_informational(self) -> bool:
        return 100 <= self.status_code < 200

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        """A 3xx status with a ``Location`` header."""
        return (
            self.status_code in (301, 302, 303, 307, 308)
            and self.headers.get_raw(b"location") is not None
        )

    @property
    def is_client_error(self) -> bool:
        return 400 <= self.status_code < 500

    @property
    def is_server_error(self) -> bool:
        return 500 <= self.status_code < 600

    @property
    def is_error(self) -> bool:
        return 400 <= self.status_code < 600

    def raise_for_status(self) -> Response:
        """Return the response if its status is 2xx; raise ``HTTPStatusError`` otherwise.

        As in httpx, a 1xx or 3xx raises too: a redirect that was not followed is not
        the resource asked for (its message says how to follow it).
        """
        status = self.status_code
        if 200 <= status < 300:
            return self
        kind = _STATUS_KINDS.get(status // 100, "Invalid status code")
        message = f"{kind} '{status} {self.reason_phrase}' for url '{self.url}'"
        location = self.headers.get("location") if 300 <= status < 400 else None
        if location is not None:
            message += f"\nRedirect location: '{location}' (follow_redirects=True follows it)"
        raise HTTPStatusError(message, request=self.request, response=self)

    @property
    def cookies(self) -> Cookies:
        """The cookies this response sets."""
        jar = Cookies()
        if self._request is not None:
            jar.extract_response(self)
        return jar

    # -- the body ------------------------------------------------------------------------

    @property
    def content(self) -> bytes:
        """The decoded body; raises ``ResponseNotRead`` for a streamed body not yet read."""
        if self._content is None:
            raise ResponseNotRead()
        return self._content

    @property
    def encoding(self) -> str:
        """The charset of ``text``: from ``Content-Type``, else ``default_encoding`` — a
        name, or (as in httpx) a function that guesses it from the body, such as
        ``lambda content: charset_normalizer.detect(content)["encoding"]``. A guess that
        names no codec, or a body not read yet (a stream), gives UTF-8."""
        if self._encoding is None:
            encoding = self.charset_encoding
            if encoding is None:
                default = self.default_encoding
                if isinstance(default, str):
                    encoding = default
                elif self._content is None:
                    return "utf-8"  # nothing to guess from yet; guess once it is read
                else:
                    encoding = _codec_name(default(self._content)) or "utf-8"
            self._encoding = encoding
        return self._encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        if self._text is not None:
            raise ValueError("set the encoding before reading .text")
        self._encoding = value

    @property
    def charset_encoding(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type`` if it names a known codec."""
        content_type = self.headers.get_raw(b"content-type")
        if content_type is None:
            return None
        for param in content_type.split(b";")[1:]:
            key, _, value = param.partition(b"=")
            if key.strip().lower() == b"charset":
                return _codec_name(value.strip().strip(b"\"'").decode("latin-1"))
        return None

    @property
    def text(self) -> str:
        """The body as text, decoded with ``encoding`` (undecodable bytes replaced)."""
        if self._text is None:
            self._text = self.content.decode(self.encoding, errors="replace")
        return self._text

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (orjson; ``kwargs`` are accepted for httpx parity and
        passed to ``json.loads`` only if given)."""
        if kwargs:
            import json

            return json.loads(self.content, **kwargs)
        return orjson.loads(self.content)

    def _get_decoder(self) -> Decoder:
        if self._decoder is None:
            encoding = self.headers.get_raw(b"content-encoding")
            self._decoder = make_decoder(
                None if encoding is None else encoding.decode("latin-1"), self._request
            )
        return self._decoder

    def _raw_started(self) -> None:
        if self.stream_consumed:
            raise StreamConsumed()
        if self.closed:
            raise StreamClosed()
        self.stream_consumed = True

    async def aread(self) -> bytes:
        """Read the whole body (once; later calls return it again)."""
        if self._content is None:
            self._raw_started()
            try:
                stream = self.stream
                raw = (
                    await stream.aread()
                    if isinstance(stream, AsyncByteStream)
                    else stream.read()  # a sync-only stream (the sync test client)
                )
                self._downloaded = len(raw)
                decoder = self._get_decoder()
                if decoder is IDENTITY:
                    self._content = raw
                else:
                    self._content = decoder.decode(raw) + decoder.flush()
            finally:
                await self.aclose()
        return self._content

    def read(self) -> bytes:
        """Read the whole body of a synchronous stream (the sync ``TestClient``'s)."""
        if self._content is None:
            self._content = b"".join(self.iter_bytes())
        return self._content

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body as it arrives, before ``Content-Encoding`` is undone (in pieces of
        ``chunk_size`` bytes if given, the last one shorter)."""
        if chunk_size is not None:
            async for sized in asized(self.aiter_raw(), b"", chunk_size):
                yield sized
            return
        if self._content is not None and self.stream_consumed:
            if self._content:
                yield self._content
            return
        self._raw_started()
        stream = self.stream
        if not isinstance(stream, AsyncByteStream):
            raise RuntimeError("this response has a synchronous body: use iter_raw()")
        try:
            async for chunk in stream:
                self._downloaded += len(chunk)
                yield chunk
        finally:
            await self.aclose()

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body as it arrives, decoded (gzip, deflate); ``chunk_size`` as in ``aiter_raw``."""
        if chunk_size is not None:
            async for sized in asized(self.aiter_bytes(), b"", chunk_size):
                yield sized
            return
        if self._content is not None and self.stream_consumed:
            if self._content:
                yield self._content
            return
        decoder = self._get_decoder()
        async for chunk in self.aiter_raw():
            data = decoder.decode(chunk)
            if data:
                yield data
        tail = decoder.flush()
        if tail:
            yield tail

    async def aiter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        """The body as text, decoded incrementally with ``encoding`` (in pieces of
        ``chunk_size`` characters if given)."""
        if chunk_size is not None:
            async for sized in asized(self.aiter_text(), "", chunk_size):
                yield sized
            return
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        async for chunk in self.aiter_bytes():
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", True)
        if tail:
            yield tail

    async def aiter_lines(self) -> AsyncIterator[str]:
        """The body line by line, without line endings (``\\n``, ``\\r\\n`` or ``\\r``)."""
        splitter = LineSplitter()
        async for text in self.aiter_text():
            for line in splitter.feed(text):
                yield line
        for line in splitter.flush():
            yield line

    def iter_raw(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Synchronous ``aiter_raw`` (for the sync ``TestClient``)."""
        if chunk_size is not None:
            yield from sized(self.iter_raw(), b"", chunk_size)
            return
        if self._content is not None and self.stream_consumed:
            if self._content:
                yield self._content
            return
        self._raw_started()
        stream = self.stream
        if not isinstance(stream, SyncByteStream):
            self._sync_misuse()
        try:
            for chunk in stream:
                self._downloaded += len(chunk)
                yield chunk
        finally:
            self.close()

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Synchronous ``aiter_bytes``."""
        if chunk_size is not None:
            yield from sized(self.iter_bytes(), b"", chunk_size)
            return
        if self._content is not None and self.stream_consumed:
            if self._content:
                yield self._content
            return
        decoder = self._get_decoder()
        for chunk in self.iter_raw():
            data = decoder.decode(chunk)
            if data:
                yield data
        tail = decoder.flush()
        if tail:
            yield tail

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        """Synchronous ``aiter_text``."""
        if chunk_size is not None:
            yield from sized(self.iter_text(), "", chunk_size)
            return
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        for chunk in self.iter_bytes():
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", True)
        if tail:
            yield tail

    def iter_lines(self) -> Iterator[str]:
        """Synchronous ``aiter_lines``."""
        splitter = LineSplitter()
        for text in self.iter_text():
            yield from splitter.feed(text)
        yield from splitter.flush()

    def _sync_misuse(self) -> NoReturn:
        raise RuntimeError(
            "this response's body is asynchronous: use 'async for' with aiter_bytes(), "
            "aiter_text() or aiter_lines(), or await aread()"
        )

    async def aclose(self) -> None:
        """Release the body (and the connection under it). Safe to call twice."""
        if not self.closed:
            self.closed = True
            if self._started:
                self._elapsed = time.perf_counter() - self._started
            stream = self.stream
            if isinstance(stream, AsyncByteStream):
                await stream.aclose()
            else:
                stream.close()

    def close(self) -> None:
        """Synchronous ``aclose`` for synchronous bodies."""
        if not self.closed:
            stream = self.stream
            if not isinstance(stream, SyncByteStream):
                self._sync_misuse()
            self.closed = True
            if self._started:
                self._elapsed = time.perf_counter() - self._started
            stream.close()

    def __repr__(self) -> str:
        return f"<Response [{self.status_code} {self.reason_phrase}]>"


_STATUS_KINDS = {
    1: "Informational response",
    3: "Redirect response",
    4: "Client error",
    5: "Server error",
}


def _codec_name(charset: str | None) -> str | None:
    """The codec ``charset`` names, or ``None`` if none (or no charset)."""
    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None
