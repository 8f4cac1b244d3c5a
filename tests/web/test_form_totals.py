"""A multipart form's total bounds: fields together, the whole body, and the uploads held
in memory together (the rest spools to disk)."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from vivace.testing import TestClient
from vivace.types import Message, Scope
from vivace.web import App, ContentTooLarge, Limits, Request, Route, UploadFile
from vivace.web._config import CONFIG_KEY, WebConfig

B = "totals-boundary"
MIB = 1024 * 1024
CT = f"multipart/form-data; boundary={B}".encode()


def field_part(name: str, size: int) -> bytes:
    head = f'--{B}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
    return head + b"v" * size + b"\r\n"


def file_head(name: str, filename: str) -> bytes:
    return (
        f'--{B}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


END = f"--{B}--\r\n".encode()


def chunked(parts: Iterator[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Re-cut a stream of byte strings into chunks of ``size``, as a server delivers."""
    pending = b""
    for part in parts:
        pending += part
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


def receive_from(chunks: Iterator[bytes]) -> Any:
    iterator = iter(chunks)
    finished = False

    async def receive() -> Message:
        nonlocal finished
        if finished:
            return {"type": "http.disconnect"}
        try:
            chunk = next(iterator)
        except StopIteration:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    return receive


def scope_for(limits: Limits | None = None) -> Scope:
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", CT)],
    }
    if limits is not None:
        scope[CONFIG_KEY] = WebConfig(limits=limits)
    return scope


def many_fields(total: int, each: int = MIB - 1024) -> Iterator[bytes]:
    # Generated piece by piece: the test's own buffers stay small.
    sent = 0
    index = 0
    piece = b"v" * (each // 16)
    while sent < total:
        yield f'--{B}\r\nContent-Disposition: form-data; name="f{index}"\r\n\r\n'.encode()
        for _ in range(16):
            yield piece
        yield b"\r\n"
        sent += each
        index += 1
    yield END


async def test_32_mib_of_fields_is_refused_without_holding_it() -> None:
    request = Request(scope_for(), receive_from(chunked(many_fields(32 * MIB))))
    tracemalloc.start()
    try:
        with pytest.raises(ContentTooLarge) as info:
            await request.form()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.status_code == 413
    assert info.value.limit == "max_form_fields_size"
    assert info.value.value == 16 * MIB
    # Refused at the 16 MiB default (about 19 MB traced at the peak: the fields and one
    # field being joined), never holding the 32 MiB (before the bound: 33 MB of RSS).
    assert peak < 22 * MIB, peak


def test_fields_total_over_http_is_a_413_and_under_it_works() -> None:
    async def handler(request: Request) -> dict[str, int]:
        form = await request.form()
        return {"fields": len(form)}

    app = App(
        routes=[Route("/", handler, methods=["POST"])], limits=Limits(max_form_fields_size=3000)
    )
    client = TestClient(app)
    ok = b"".join([field_part("a", 1000), field_part("b", 1000), END])
    refused = b"".join([field_part("a", 1000), field_part("b", 1000), field_part("c", 1001), END])
    headers = {"content-type": CT.decode()}
    assert client.post("/", content=ok, headers=headers).json() == {"fields": 2}
    response = client.post("/", content=refused, headers=headers)
    assert response.status_code == 413
    assert "form fields larger than 3000 bytes together" in response.text
    # Uploads do not count against the fields total.
    with_file = b"".join([file_head("f", "x.bin"), b"z" * 10_000, b"\r\n", END])
    assert client.post("/", content=with_file, headers=headers).json() == {"fields": 1}


def big_file(size: int) -> Iterator[bytes]:
    yield file_head("upload", "big.bin")
    block = bytes(range(256)) * 256  # 64 KiB
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        yield piece
        sent += len(piece)
    yield b"\r\n"
    yield field_part("after", 5)
    yield END


async def test_a_big_upload_spools_to_disk_and_reads_back() -> None:
    size = 5 * MIB + 123
    request = Request(scope_for(), receive_from(chunked(big_file(size))))
    tracemalloc.start()
    try:
        form = await request.form()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    try:
        upload = form["upload"]
        assert isinstance(upload, UploadFile)
        assert upload.size == size
        assert upload.file._rolled  # type: ignore[attr-defined]  # on disk
        assert peak < 3 * MIB, peak
        digest = hashlib.sha256()
        while chunk := await upload.read(MIB):
            digest.update(chunk)
        block = bytes(range(256)) * 256
        expected = hashlib.sha256()
        sent = 0
        while sent < size:
            piece = block[: min(len(block), size - sent)]
            expected.update(piece)
            sent += len(piece)
        assert digest.hexdigest() == expected.hexdigest()
        assert form["after"] == "vvvvv"
    finally:
        await form.close()


def many_files(count: int, each: int) -> Iterator[bytes]:
    for index in range(count):
        yield file_head(f"f{index}", f"{index}.bin")
        yield bytes([index % 256]) * each
        yield b"\r\n"
    yield END


async def test_uploads_share_one_memory_budget() -> None:
    # 40 uploads of 256 KiB: before the bound each stayed in memory (1 MiB spool each).
    limits = Limits(form_spool_size=MIB)
    request = Request(scope_for(limits), receive_from(chunked(many_files(40, 256 * 1024))))
    form = await request.form()
    try:
        uploads = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        assert len(uploads) == 40
        in_memory = [u for u in uploads if not u.file._rolled]  # type: ignore[attr-defined]
        assert sum(u.size or 0 for u in in_memory) <= MIB
        assert len(in_memory) <= 4
        for index, upload in enumerate(uploads):
            assert await upload.read() == bytes([index % 256]) * 256 * 1024
    finally:
        await form.close()


async def test_small_uploads_stay_in_memory() -> None:
    request = Request(scope_for(), receive_from(chunked(many_files(3, 1000))))
    form = await request.form()
    try:
        uploads = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        assert all(not u.file._rolled for u in uploads)  # type: ignore[attr-defined]
    finally:
        await form.close()


async def test_zero_spool_puts_every_nonempty_upload_on_disk() -> None:
    parts = iter([file_head("a", "a"), b"x", b"\r\n", file_head("e", "e"), b"\r\n", END])
    request = Request(scope_for(Limits(form_spool_size=0)), receive_from(chunked(parts)))
    form = await request.form()
    try:
        a, e = form["a"], form["e"]
        assert isinstance(a, UploadFile) and isinstance(e, UploadFile)
        assert a.file._rolled  # type: ignore[attr-defined]
        assert await a.read() == b"x"
        assert await e.read() == b""
    finally:
        await form.close()


async def test_whole_form_size_is_bounded_and_files_are_closed(
    opened_uploads: list[UploadFile],
) -> None:
    limits = Limits(max_form_size=3 * MIB, form_spool_size=MIB)
    request = Request(scope_for(limits), receive_from(chunked(many_files(10, MIB))))
    with pytest.raises(ContentTooLarge) as info:
        await request.form()
    assert info.value.limit == "max_form_size"
    assert info.value.value == 3 * MIB
    assert opened_uploads
    assert all(u.file.closed for u in opened_uploads)


def test_max_form_size_none_lifts_it_and_defaults_are_documented() -> None:
    limits = Limits()
    assert limits.max_form_fields_size == 16 * MIB
    assert limits.max_form_size == 128 * MIB
    assert limits.max_form_file_size is not None
    assert limits.max_form_size > limits.max_form_file_size  # one default-size file fits
    assert Limits(max_form_size=None).max_form_size is None


async def test_no_total_limit_accepts_a_long_form() -> None:
    limits = Limits(max_form_size=None, form_spool_size=0)
    request = Request(scope_for(limits), receive_from(chunked(many_files(3, MIB))))
    form = await request.form()
    try:
        assert len(form) == 3
    finally:
        await form.close()
