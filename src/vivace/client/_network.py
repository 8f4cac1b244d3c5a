"""``HTTPTransport``: HTTP/1.1 and HTTP/2 over TCP and TLS, with connection pools.

Per request: find the origin (cached per scheme and host), take a connection from the
pool, write the head and body, wait for the response head, and return a ``Response``
whose body stream reads from the connection. The connection goes back to the pool when
the body has been read to the end; a response closed early closes its connection (the
rest of the body would have to be read and thrown away otherwise).

A kept-alive connection the server closed while idle fails on the next request before any
response byte arrives; such a request is retried once on a new connection when its method
is idempotent and its body can be sent again (RFC 9110 section 9.2.2: idempotent requests
may be retried automatically; a POST is never sent twice behind your back).

HTTP/2 (``http2=True``): https origins are asked for ``h2`` by ALPN, http origins speak it
with prior knowledge when ``http1=False`` (``_h2pool``). A request the server did not
process (REFUSED_STREAM, or above a GOAWAY's last stream) is retried on another
connection whatever its method, as RFC 9113 section 8.7 allows, when its body can be sent
again; a stream the server reset otherwise raises ``StreamReset``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vivace.client._config import DEFAULT_LIMITS, DEFAULT_TIMEOUT, Limits, Timeout
from vivace.client._connection import HTTP11Connection, StaleConnection
from vivace.client._exceptions import (
    ReadTimeout,
    RemoteProtocolError,
    RequestError,
    UnsupportedProtocol,
)
from vivace.client._http2 import H2ClientConnection, H2Exchange, Unprocessed, request_fields
from vivace.client._http11 import build_head, check_method, chunk, safe_target
from vivace.client._models import Request, Response
from vivace.client._multipart import MultipartStream
from vivace.client._pool import ConnectionPool, Origin
from vivace.client._streams import AsyncByteStream, ByteStream, SyncByteStream
from vivace.client._tls import CertTypes, VerifyTypes, ssl_context
from vivace.client._transport import AsyncBaseTransport
from vivace.client._waiters import wait
from vivace.client._websocket import WebSocketOptions, WebSocketSession

if TYPE_CHECKING:
    from vivace.client._h2pool import H2Pool

__all__ = ["HTTPTransport"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 9110 section 9.2.2: only these may be retried automatically.
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))


class _ResponseStream(AsyncByteStream):
    """The body of one response, read from its connection."""

    __slots__ = ("_conn", "_done", "_pool", "_request", "_timeout")

    def __init__(
        self,
        conn: HTTP11Connection,
        pool: ConnectionPool,
        request: Request,
        timeout: float | None,
    ) -> None:
        self._conn = conn
        self._pool = pool
        self._request = request
        self._timeout = timeout
        self._done = False

    async def __aiter__(self) -> Any:
        conn = self._conn
        try:
            while (data := await conn.next_chunk(self._timeout)) is not None:
                yield data
        except RequestError as exc:
            self._fail(exc)
            raise
        self._finish()

    async def aread(self) -> bytes:
        try:
            data = await self._conn.read_all(self._timeout)
        except RequestError as exc:
            self._fail(exc)
            raise
        self._finish()
        return data

    def _fail(self, exc: RequestError) -> None:
        if exc._request is None:
            exc._request = self._request
        self._done = True
        self._conn.close()

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._pool.release(self._conn)

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            conn = self._conn
            if conn.reader.complete:
                self._pool.release(conn)
            else:
                conn.close()


class _H2ResponseStream(AsyncByteStream):
    """The body of one HTTP/2 response, read from its stream."""

    __slots__ = ("_done", "_exchange", "_request", "_timeout")

    def __init__(self, exchange: H2Exchange, request: Request, timeout: float | None) -> None:
        self._exchange = exchange
        self._request = request
        self._timeout = timeout
        self._done = False

    async def __aiter__(self) -> Any:
        exchange = self._exchange
        try:
            while (data := await exchange.next_chunk(self._timeout)) is not None:
                yield data
        except RequestError as exc:
            self._fail(exc)
            raise
        self._done = True

    async def aread(self) -> bytes:
        try:
            data = await self._exchange.read_all(self._timeout)
        except RequestError as exc:
            self._fail(exc)
            raise
        self._done = True
        return data

    def _fail(self, exc: RequestError) -> None:
        if exc._request is None:
            exc._request = self._request
        self._done = True
        self._exchange.cancel()

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._exchange.cancel()


class HTTPTransport(AsyncBaseTransport):
    """HTTP/1.1 (and HTTP/2) over the network, with connection pooling and TLS.

    ``Client()`` makes one for you; make your own to share a pool between clients or to
    set ``limits``, ``verify`` and ``cert`` in one place::

        transport = HTTPTransport(limits=Limits(max_connections=10), verify="ca.pem")
        client = Client(transport=transport)
    """

    def __init__(
        self,
        *,
        limits: Limits = DEFAULT_LIMITS,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_header_size: int = 64 * 1024,
        retries_on_stale: int = 1,
        http1: bool = True,
        http2: bool = False,
    ) -> None:
        if not http1 and not http2:
            raise ValueError("at least one of http1 and http2 must be enabled")
        self._pool = ConnectionPool(limits, max_header_size)
        self._verify = verify
        self._cert = cert
        self._retries = retries_on_stale
        self._origins: dict[tuple[str, str], Origin] = {}
        self._http1 = http1
        self._http2 = http2
        self._h2: H2Pool | None = None
        self._h2_origins: dict[tuple[str, int], Origin] = {}
        if http2:
            from vivace.client._h2pool import H2Pool

            self._h2 = H2Pool(limits, self._pool)

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    def _origin(self, request: Request) -> Origin:
        parts = request.url.components
        cache_key = (parts.scheme, parts.netloc)
        origin = self._origins.get(cache_key)
        if origin is not None:
            return origin
        scheme = parts.scheme
        if scheme not in _DEFAULT_PORTS:
            if not scheme:
                raise UnsupportedProtocol(
                    f"the URL {str(request.url)!r} has no scheme: use http:// or https://",
                    request=request,
                )
            raise UnsupportedProtocol(
                f"the URL scheme {scheme!r} is not supported (only http and https)",
                request=request,
            )
        host = request.url.hostname
        if not host:
            raise UnsupportedProtocol(f"the URL {str(request.url)!r} has no host", request=request)
        try:
            host.encode("ascii")
        except UnicodeEncodeError:
            host = host.encode("idna").decode("ascii")
        port = request.url.port or _DEFAULT_PORTS[scheme]
        context = ssl_context(self._verify, self._cert) if scheme == "https" else None
        origin = Origin(scheme, host, port, context)
        if len(self._origins) > 1024:
            self._origins.clear()
        self._origins[cache_key] = origin
        return origin

    def _h2_origin(self, origin: Origin) -> Origin | None:
        """The origin as HTTP/2 sees it (TLS offering h2), or None to use HTTP/1.1."""
        if self._h2 is None or (origin.scheme == "http" and self._http1):
            return None
        if origin.key in self._h2.h1_origins:
            if not self._http1:
                raise UnsupportedProtocol(f"{origin} does not speak HTTP/2 (ALPN chose HTTP/1.1)")
            return None
        key = (origin.host, origin.port)
        h2_origin = self._h2_origins.get(key) if origin.scheme == "https" else origin
        if h2_origin is None:
            context = ssl_context(self._verify, self._cert, http2=True)
            h2_origin = Origin("https", origin.host, origin.port, context)
            self._h2_origins[key] = h2_origin
        return h2_origin

    async def handle_async_request(self, request: Request) -> Response:
        timeout = request.extensions.get("timeout", DEFAULT_TIMEOUT)
        if not isinstance(timeout, Timeout):
            timeout = Timeout(timeout)
        origin = self._origin(request)
        if self._h2 is not None:
            h2_origin = self._h2_origin(origin)
            if h2_origin is not None:
                response = await self._h2_request(h2_origin, request, timeout)
                if response is not None:
                    return response
                if not self._http1:
                    raise UnsupportedProtocol(
                        f"{origin} does not speak HTTP/2 (ALPN chose HTTP/1.1)", request=request
                    )
        method = check_method(request.method)
        head = build_head(method, safe_target(request.url.target), request.headers.raw)
        stream = request.stream
        body: bytes | None = None
        if stream is None:
            body = b""
        elif isinstance(stream, ByteStream):
            body = stream.content
        chunked = request.headers.get_raw(b"transfer-encoding") is not None
        if body is not None and chunked:
            body = chunk(body) + chunk(b"") if body else chunk(b"")
        replayable = body is not None or isinstance(stream, MultipartStream)
        retries = self._retries if replayable and method in _IDEMPOTENT else 0
        pool = self._pool
        while True:
            conn = await pool.acquire(origin, timeout)
            try:
                conn.start(method == "HEAD")
                if body is not None:
                    conn.write(head + body if body else head)
                    if conn.paused_writing:  # a body larger than the socket takes at once
                        await conn.wait_written(timeout.write)
                else:
                    conn.write(head)
                    await self._write_stream(conn, stream, chunked, timeout.write)  # type: ignore[arg-type]
                await conn.wait_head(timeout.read)
            except StaleConnection as stale:
                conn.close()
                if retries > 0:
                    retries -= 1
                    continue
                error = stale.error
                error._request = request
                raise error from None
            except RequestError as exc:
                conn.close()
                exc._request = request
                raise
            except BaseException:
                conn.close()
                raise
            reader = conn.reader
            return Response._from_transport(
                reader.status,
                reader.headers,
                _ResponseStream(conn, pool, request, timeout.read),
                request,
                reader.http_version,
            )

    async def _h2_request(
        self, origin: Origin, request: Request, timeout: Timeout
    ) -> Response | None:
        """The request over HTTP/2; None when the origin turned out to speak HTTP/1.1."""
        assert self._h2 is not None
        method = check_method(request.method)
        headers = request.headers.raw
        authority = next((v for n, v in headers if n.lower() == b"host"), None)
        if authority is None:
            authority = request.url.netloc.encode("ascii")
        fields = request_fields(
            method, origin.scheme, authority, safe_target(request.url.target), headers
        )
        stream = request.stream
        body: bytes | None = None
        if stream is None:
            body = b""
        elif isinstance(stream, ByteStream):
            body = stream.content
        replayable = body is not None or isinstance(stream, MultipartStream)
        attempts = 3
        while True:
            conn = await self._h2.acquire(origin, timeout)
            if conn is None:
                return None
            exchange = conn.open(fields, end_stream=body == b"")
            try:
                if body:
                    await conn.send_body(exchange, body, True, timeout.write)
                elif body is None:
                    await self._h2_write_stream(conn, exchange, stream, timeout.write)  # type: ignore[arg-type]
                await exchange.wait_head(timeout.read)
            except Unprocessed as exc:
                attempts -= 1
                if replayable and attempts > 0:
                    continue
                raise RemoteProtocolError(
                    f"the request was not processed: {exc}", request=request
                ) from None
            except RequestError as exc:
                exchange.cancel()
                exc._request = request
                raise
            except BaseException:
                exchange.cancel()
                raise
            return Response._from_transport(
                exchange.status,
                exchange.headers,
                _H2ResponseStream(exchange, request, timeout.read),
                request,
                "HTTP/2",
            )

    async def _h2_write_stream(
        self,
        conn: H2ClientConnection,
        exchange: H2Exchange,
        stream: AsyncByteStream | SyncByteStream,
        timeout: float | None,
    ) -> None:
        if isinstance(stream, AsyncByteStream):
            async for data in stream:
                if data:
                    await conn.send_body(exchange, data, False, timeout)
        else:
            for data in stream:
                if data:
                    await conn.send_body(exchange, data, False, timeout)
        await conn.send_body(exchange, b"", True, timeout)

    async def _write_stream(
        self,
        conn: HTTP11Connection,
        stream: AsyncByteStream | SyncByteStream,
        chunked: bool,
        timeout: float | None,
    ) -> None:
        if isinstance(stream, AsyncByteStream):
            async for data in stream:
                if data:
                    conn.write(chunk(data) if chunked else data)
                    await conn.drain(timeout)
        else:
            for data in stream:
                if data:
                    conn.write(chunk(data) if chunked else data)
                    await conn.drain(timeout)
        if chunked:
            conn.write(chunk(b""))
        await conn.drain(timeout)

    async def connect_websocket(
        self, request: Request, options: WebSocketOptions
    ) -> WebSocketSession:
        """Open a WebSocket on a connection of its own (see ``_websocket_network``)."""
        from vivace.client._websocket_network import connect

        timeout = request.extensions.get("timeout", DEFAULT_TIMEOUT)
        if not isinstance(timeout, Timeout):
            timeout = Timeout(timeout)
        origin = self._origin(request)
        if self._h2 is not None:
            h2_origin = self._h2_origin(origin)
            if h2_origin is not None:
                # RFC 8441: a stream of an HTTP/2 connection, if the server allows it.
                conn = await self._h2.acquire(h2_origin, timeout)
                if conn is not None:
                    await wait(conn.settings, timeout.read, lambda: ReadTimeout("no SETTINGS"))
                    if conn.core.peer_connect_protocol:
                        from vivace.client._websocket_h2 import connect_h2

                        return await connect_h2(conn, origin.scheme, request, options, timeout)
                if not self._http1:
                    raise UnsupportedProtocol(
                        f"{origin} offers no WebSockets over HTTP/2 (RFC 8441)", request=request
                    )
        return await connect(origin, request, options, timeout)

    async def aclose(self) -> None:
        if self._h2 is not None:
            await self._h2.aclose()
        await self._pool.aclose()
