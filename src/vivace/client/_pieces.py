"""How a response body's pieces are re-cut for the readers: into lines (``aiter_lines``)
and into pieces of a fixed size (``chunk_size=``), whatever pieces the body arrived in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

__all__ = ["LineSplitter", "asized", "sized"]

_LINE_END = re.compile("\r\n|\r|\n")

_Piece = TypeVar("_Piece", bytes, str)


def _check_chunk_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"chunk_size must be a positive int or None, not {size!r}")


def _cut(data: _Piece, size: int) -> tuple[list[_Piece], _Piece]:
    """``data`` cut into ``size``-long pieces, and the shorter rest."""
    end = len(data) - len(data) % size
    return [data[start : start + size] for start in range(0, end, size)], data[end:]


async def asized(pieces: AsyncIterator[_Piece], rest: _Piece, size: int) -> AsyncIterator[_Piece]:
    """``pieces`` re-cut into ``size``-long ones (the last may be shorter): the
    ``chunk_size=`` of the readers, as in httpx. ``rest`` is the empty bytes or text."""
    _check_chunk_size(size)
    async for piece in pieces:
        sized, rest = _cut(rest + piece, size)
        for one in sized:
            yield one
    if rest:
        yield rest


def sized(pieces: Iterator[_Piece], rest: _Piece, size: int) -> Iterator[_Piece]:
    """``asized`` for synchronous pieces.

    >>> list(sized(iter([b"ab", b"cde", b"f"]), b"", 4))
    [b'abcd', b'ef']
    """
    _check_chunk_size(size)
    for piece in pieces:
        sized, rest = _cut(rest + piece, size)
        yield from sized
    if rest:
        yield rest


class LineSplitter:
    """Splits text into lines across chunk boundaries on ``\\r\\n``, ``\\r`` or ``\\n``
    (the line ends of HTTP and of server-sent events); a trailing ``\\r`` waits for the
    next chunk, since it may be the first half of ``\\r\\n``."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        text = self._buffer + text
        held = ""
        if text.endswith("\r"):
            text, held = text[:-1], "\r"
        lines = _LINE_END.split(text)
        self._buffer = lines.pop() + held
        return lines

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        return [rest.rstrip("\r")] if rest else []
