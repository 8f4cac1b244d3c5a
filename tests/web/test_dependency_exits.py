"""Generator dependencies and failures: what runs after them (a later dependency, the
handler) raises at their ``yield`` (FastAPI >= 0.106), before the error response is
made; on success their code after ``yield`` runs once the response is sent."""

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from vivace.testing import TestClient
from vivace.web import App, Depends, HTTPException, JSONResponse, Request, Route

events: list[str] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    events.clear()


async def transaction() -> AsyncIterator[str]:
    events.append("begin")
    try:
        yield "tx"
    except HTTPException as exc:
        events.append(f"rollback {exc.status_code}")
        raise
    else:
        events.append("commit")
    finally:
        events.append("release")


def sync_resource() -> Iterator[str]:
    try:
        yield "file"
    except LookupError:
        events.append("sync saw LookupError")
        raise HTTPException(404, "gone") from None
    finally:
        events.append("sync closed")


def client(*routes: Route) -> TestClient:
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        events.append("error response")
        return JSONResponse({"status": getattr(exc, "status_code", 500)}, 418)

    return TestClient(
        App(routes=list(routes), exception_handlers={409: on_error, 503: on_error}),
        raise_server_exceptions=False,
    )


def test_success_commits_after_the_response() -> None:
    async def ok(tx: Annotated[str, Depends(transaction)]) -> dict[str, str]:
        events.append("handler")
        return {"tx": tx}

    assert client(Route("/", ok)).get("/").json() == {"tx": "tx"}
    assert events == ["begin", "handler", "commit", "release"]


def test_the_handlers_exception_reaches_the_yield_before_the_error_response() -> None:
    async def busy(tx: Annotated[str, Depends(transaction)]) -> None:
        raise HTTPException(409, "busy")

    r = client(Route("/", busy)).get("/")
    assert (r.status_code, r.json()) == (418, {"status": 409})
    assert events == ["begin", "rollback 409", "release", "error response"]


def test_a_later_dependencys_failure_reaches_the_earlier_ones_last_entered_first() -> None:
    async def outer() -> AsyncIterator[None]:
        try:
            yield
        except HTTPException:
            events.append("outer saw it")
            raise

    async def guard(
        _o: Annotated[None, Depends(outer)], _t: Annotated[str, Depends(transaction)]
    ) -> None:
        raise HTTPException(409, "no")

    async def handler(_g: Annotated[None, Depends(guard)]) -> None:
        events.append("never")

    assert client(Route("/", handler)).get("/").status_code == 418
    assert events == ["begin", "rollback 409", "release", "outer saw it", "error response"]


def test_a_dependency_may_replace_the_exception() -> None:
    async def handler(f: Annotated[str, Depends(sync_resource)]) -> None:
        raise KeyError("x")

    r = client(Route("/", handler)).get("/")
    assert r.status_code == 404
    assert events == ["sync saw LookupError", "sync closed"]


def test_a_swallowed_exception_still_fails_the_request() -> None:
    async def careless() -> AsyncIterator[None]:
        try:
            yield
        except Exception:
            events.append("swallowed")

    def careless_sync() -> Iterator[None]:
        try:
            yield
        except Exception:
            events.append("swallowed sync")

    async def handler(
        _a: Annotated[None, Depends(careless)], _b: Annotated[None, Depends(careless_sync)]
    ) -> None:
        raise HTTPException(503, "down")

    r = client(Route("/", handler)).get("/")
    assert (r.status_code, r.json()) == (418, {"status": 503})
    assert events == ["swallowed sync", "swallowed", "error response"]


def test_without_try_the_code_after_yield_does_not_run_on_failure() -> None:
    async def plain() -> AsyncIterator[None]:
        yield
        events.append("after")

    async def handler(_p: Annotated[None, Depends(plain)]) -> None:
        raise RuntimeError("boom")

    assert client(Route("/", handler)).get("/").status_code == 500
    assert events == []


def test_yielding_again_when_thrown_is_a_500() -> None:
    async def stubborn() -> AsyncIterator[None]:
        try:
            yield
        except HTTPException:
            yield

    def stubborn_sync() -> Iterator[None]:
        try:
            yield
        except HTTPException:
            yield

    async def handler(_s: Annotated[None, Depends(stubborn)]) -> None:
        raise HTTPException(409, "x")

    async def handler_sync(_s: Annotated[None, Depends(stubborn_sync)]) -> None:
        raise HTTPException(409, "x")

    c = client(Route("/", handler), Route("/sync", handler_sync))
    assert c.get("/").status_code == 500
    assert c.get("/sync").status_code == 500


def test_an_override_is_thrown_the_failure_too() -> None:
    async def real() -> AsyncIterator[str]:
        yield "real"

    async def handler(v: Annotated[str, Depends(real)]) -> None:
        raise HTTPException(409, v)

    c = client(Route("/", handler))
    c.app.dependency_overrides[real] = transaction
    assert c.get("/").status_code == 418
    assert events == ["begin", "rollback 409", "release", "error response"]


def test_an_invalid_input_after_a_generator_is_still_a_422() -> None:
    seen: list[Any] = []

    async def opened() -> AsyncIterator[None]:
        try:
            yield
        except Exception as exc:
            seen.append(type(exc).__name__)
            raise

    async def limited(limit: int) -> int:
        return limit

    async def handler(
        _o: Annotated[None, Depends(opened)], n: Annotated[int, Depends(limited)]
    ) -> dict[str, int]:
        return {"n": n}

    c = client(Route("/", handler))
    assert c.get("/?limit=3").json() == {"n": 3}

    async def counted(count: int) -> int:
        return count

    c.app.dependency_overrides[limited] = counted  # reads ?count=, not ?limit=
    r = c.get("/?limit=3")
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "count"]
    # The override's inputs are validated with the rest, before anything runs.
    assert seen == []
    assert c.get("/?count=4").json() == {"n": 4}


def test_yielding_twice_after_a_success_is_an_error_after_the_response() -> None:
    def twice() -> Iterator[None]:
        yield
        yield

    async def handler(_t: Annotated[None, Depends(twice)]) -> dict[str, bool]:
        return {"ok": True}

    with pytest.raises(RuntimeError, match="yielded twice"):
        TestClient(App(routes=[Route("/", handler)])).get("/")
