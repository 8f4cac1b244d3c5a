"""The generated dependency plan (``_dependencies.flat_arguments``, used when no override
is set) makes the same calls, in the same order, with the same arguments, as ``Solving``
(used while overrides are set): each graph below runs both ways and the two records
match."""

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any

import pytest

from vivace.testing import TestClient
from vivace.web import App, Depends, Header, HTTPException, Request, Route
from vivace.web._dependencies import flat_arguments

events: list[str] = []


def unused() -> None:  # pragma: no cover - only its override matters
    """Overridden to make the app take the ``Solving`` path."""


def never() -> None:  # pragma: no cover - never called
    pass


async def settings() -> dict[str, str]:
    events.append("settings")
    return {"dsn": "memory://"}


async def database(conf: Annotated[dict[str, str], Depends(settings)]) -> str:
    events.append(f"database {conf['dsn']}")
    return conf["dsn"]


def sync_clock(conf: Annotated[dict[str, str], Depends(settings)]) -> int:
    events.append("sync clock")
    return 7


async def counter() -> int:
    events.append("counter")
    return len(events)


async def session(db: Annotated[str, Depends(database)]) -> AsyncIterator[str]:
    events.append("session open")
    try:
        yield f"session on {db}"
    except HTTPException as exc:
        events.append(f"session saw {exc.status_code}")
        raise
    finally:
        events.append("session closed")


def sync_file(limit: int = 5) -> Iterator[str]:
    events.append(f"file open {limit}")
    yield "file"
    events.append("file closed")


async def user(
    db: Annotated[str, Depends(database)],
    request: Request,
    agent: Annotated[str, Header(alias="user-agent")] = "",
) -> dict[str, str]:
    events.append(f"user {agent}")
    return {"db": db, "agent": agent, "path": request.url.path}


async def failing(s: Annotated[str, Depends(session)]) -> str:
    events.append("failing")
    raise HTTPException(409, "conflict")


async def chain(current: Annotated[dict[str, str], Depends(user)]) -> dict[str, Any]:
    events.append("handler")
    return {"user": current}


async def shared(
    a: Annotated[str, Depends(database)],
    b: Annotated[dict[str, str], Depends(user)],
    c: Annotated[int, Depends(sync_clock)],
    d: Annotated[dict[str, str], Depends(settings)],
) -> dict[str, Any]:
    events.append("handler")
    return {"a": a, "b": b, "c": c, "d": d}


async def uncached(
    first: Annotated[int, Depends(counter, use_cache=False)],
    second: Annotated[int, Depends(counter, use_cache=False)],
    third: Annotated[int, Depends(counter)],
    fourth: Annotated[int, Depends(counter)],
) -> list[int]:
    events.append("handler")
    return [first, second, third, fourth]


async def generators(
    s: Annotated[str, Depends(session)], f: Annotated[str, Depends(sync_file)], limit: int = 1
) -> dict[str, Any]:
    events.append("handler")
    return {"s": s, "f": f, "limit": limit}


async def fails_after_generator(x: Annotated[str, Depends(failing)]) -> str:  # pragma: no cover
    return x


def sync_handler(current: Annotated[dict[str, str], Depends(user)], limit: int = 3) -> Any:
    events.append("sync handler")
    return {"current": current, "limit": limit}


HANDLERS: list[tuple[Callable[..., Any], str]] = [
    (chain, "/"),
    (shared, "/"),
    (uncached, "/"),
    (generators, "/?limit=4"),
    (generators, "/?limit=x"),
    (fails_after_generator, "/"),
    (sync_handler, "/?limit=9"),
]


def run(handler: Callable[..., Any], target: str, *, overridden: bool) -> tuple[Any, ...]:
    events.clear()
    app = App(routes=[Route("/", handler)])
    if overridden:
        app.dependency_overrides[unused] = never
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get(target, headers={"user-agent": "tests"})
    return response.status_code, response.text, list(events)


@pytest.mark.parametrize(("handler", "target"), HANDLERS)
def test_the_generated_plan_calls_what_solving_calls(
    handler: Callable[..., Any], target: str
) -> None:
    flat = run(handler, target, overridden=False)
    solving = run(handler, target, overridden=True)
    assert flat == solving
    assert flat[2] or flat[0] == 422  # an invalid input: nothing runs


def test_the_generated_source() -> None:
    app = App(routes=[Route("/", uncached)])
    typed = app.routes[0].typed  # type: ignore[attr-defined]
    source = typed.arguments.__vivace_source__
    # use_cache=False calls again; the cached counter is called once, then reused.
    assert source.count("await f") == 3
    assert "'third': d2, 'fourth': d2" in source
    assert flat_arguments(typed.plan).__vivace_source__ == source


def test_no_dependency_is_a_plain_function() -> None:
    async def items(request: Request, limit: int = 10) -> dict[str, int]:  # pragma: no cover
        return {"limit": limit}

    typed = App(routes=[Route("/", items)]).routes[0].typed  # type: ignore[attr-defined]
    assert typed.arguments.__vivace_source__.startswith("def arguments(")
    assert typed.arguments("the request", [5], None, None, None) == {
        "request": "the request",
        "limit": 5,
    }
