"""Body streams: how request and response bodies move, asynchronously or synchronously.

A body is a ``ByteStream``: it can be iterated (``async for`` or ``for``) chunk by chunk,
read whole, and closed. Request bodies built from bytes are replayable (a redirect or an
auth retry sends them again); bodies from iterators are not. Response bodies come from a
transport: the network connection, an ASGI app, or a mock handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

__all__ = ["AsyncByteStream", "ByteStream", "IteratorByteStream", "SyncByteStream"]


class AsyncByteStream:
    """A body read with ``async for``; ``aread`` collects it, ``aclose`` releases it."""

    __slots__ = ()

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise NotImplementedError

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        return None


class SyncByteStream:
    """A body read with ``for``; ``read`` collects it, ``close`` releases it."""

    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError

    def read(self) -> bytes:
        return b"".join(list(self))

    def close(self) -> None:
        return None


class ByteStream(AsyncByteStream, SyncByteStream):
    """A body held in memory: readable both ways, any number of times.

    >>> stream = ByteStream(b"hello")
    >>> list(stream), stream.read()
    ([b'hello'], b'hello')
    """

    __slots__ = ("_content",)

    def __init__(self, content: bytes) -> None:
        self._content = content

    @property
    def content(self) -> bytes:
        return self._content

    def __iter__(self) -> Iterator[bytes]:
        if self._content:
            yield self._content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._content:
            yield self._content

    def read(self) -> bytes:
        return self._content

    async def aread(self) -> bytes:
        return self._content


class IteratorByteStream(AsyncByteStream, SyncByteStream):
    """A body produced by an iterator or async iterator; it can be read only once."""

    __slots__ = ("_consumed", "_iterable")

    def __init__(self, iterable: AsyncIterable[bytes] | Iterable[bytes]) -> None:
        self._iterable = iterable
        self._consumed = False

    def _start(self) -> None:
        from vivace.client._exceptions import StreamConsumed

        if self._consumed:
            raise StreamConsumed()
        self._consumed = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._start()
        if isinstance(self._iterable, AsyncIterable):
            async for chunk in self._iterable:
                yield _as_bytes(chunk)
        else:
            for chunk in self._iterable:
                yield _as_bytes(chunk)

    def __iter__(self) -> Iterator[bytes]:
        self._start()
        if isinstance(self._iterable, AsyncIterable):
            raise TypeError("an async iterator body can only be sent by an async client")
        for chunk in self._iterable:
            yield _as_bytes(chunk)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"a body iterator must yield bytes, not {type(chunk).__name__}")
