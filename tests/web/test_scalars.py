"""The single-pass reader of typed path/query/header/cookie parameters (web/_scalars.py):
the query reader agrees with QueryParams on every rule, hostile query strings, and the
errors of every source in one 422."""

import json
import random
import time
from typing import Annotated

import pytest

from vivace.http import QueryParams
from vivace.schema import ErrorDetail, ValidationError
from vivace.testing import TestClient
from vivace.web import App, Cookie, Header, Query, Request, Route
from vivace.web._scalars import HEADER, PATH, QUERY, Scalars, query_values


def expected(query: bytes, names: set[str]) -> dict[str, list[str]]:
    params = QueryParams(query)
    return {n: params.getlist(n) for n in names if params.getlist(n)}


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"a=1",
        b"a=1&a=2&b=&c",
        b"&&a=1&&",
        b"a=red+shoes&b=%2B1&c=100%25",
        b"%61=percent-name&a+b=plus-name&a%20b=space-name",
        b"a=caf%C3%A9&b=%E9t%E9&c=%ZZ&d=%",
        "a=café&b=日本".encode(),
        b"a=\xff\xfe&b=ok&\xc3=x",
        b"a==1&b=x=y&=nameless",
        b"a=1;b=2",
    ],
)
def test_query_values_agree_with_query_params(query: bytes) -> None:
    names = {"a", "b", "c", "d", "a b", "\ufffd", ""}
    assert query_values(query, names) == expected(query, names)


def test_query_values_agree_on_random_strings() -> None:
    rng = random.Random(16)
    alphabet = b"ab=&+%2C3\xc3\xa9\xff "
    names = {"a", "b", "ab", "a b", "b ", "", "\ufffd", ","}
    for _ in range(3000):
        query = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
        assert query_values(query, names) == expected(query, names), query


def test_query_values_only_decode_declared_names() -> None:
    got = query_values(b"x=%41&limit=5&y=" + b"%FF" * 1000, {"limit"})
    assert got == {"limit": ["5"]}


def test_hostile_query_strings_stay_linear() -> None:
    many = b"&".join(b"p%d=%d" % (i, i) for i in range(10_000)) + b"&limit=3"
    huge = b"q=" + b"%41" * 200_000
    start = time.perf_counter()
    assert query_values(many, {"limit", "p9999"}) == {"limit": ["3"], "p9999": ["9999"]}
    assert query_values(huge, {"q"}) == {"q": ["A" * 200_000]}
    assert query_values(b"&" * 100_000, {"q"}) == {}
    assert time.perf_counter() - start < 2.0


async def item(
    item_id: int,
    q: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    tag: list[str] | None = None,
    ids: Annotated[list[int], Query()] = [],  # noqa: B006 - copied per request
    flag: bool = False,
    x_token: Annotated[str, Header()] = "",
    x_many: Annotated[list[int] | None, Header()] = None,
    session: Annotated[str | None, Cookie()] = None,
) -> dict[str, object]:
    ids.append(0)  # a default mutated here must not leak into the next request
    return {
        "item_id": item_id,
        "q": q,
        "limit": limit,
        "tag": tag,
        "ids": ids,
        "flag": flag,
        "x_token": x_token,
        "x_many": x_many,
        "session": session,
    }


@pytest.fixture
def client() -> TestClient:
    return TestClient(App(routes=[Route("/items/{item_id}", item)]))


def test_every_source_in_one_pass(client: TestClient) -> None:
    r = client.get(
        "/items/7?q=red+shoes&limit=20&tag=a&tag=b&ids=1&ids=2&flag=on",
        headers=[("x-token", "t"), ("x-many", "1"), ("x-many", "2")],
        cookies={"session": "s1"},
    )
    assert r.status_code == 200
    assert r.json() == {
        "item_id": 7,
        "q": "red shoes",
        "limit": 20,
        "tag": ["a", "b"],
        "ids": [1, 2, 0],
        "flag": True,
        "x_token": "t",
        "x_many": [1, 2],
        "session": "s1",
    }


async def test_a_repeated_header_gives_every_value_to_a_list() -> None:
    # The test client merges repeated headers: the ASGI call is made by hand.
    app = App(routes=[Route("/items/{item_id}", item)])
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/items/3",
        "raw_path": b"/items/3",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"x-many", b"1"), (b"x-token", b"a"), (b"x-many", b"2"), (b"x-token", b"b")],
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    body = json.loads(sent[1]["body"])
    assert (body["x_many"], body["x_token"]) == ([1, 2], "b")


def test_defaults_blank_values_and_the_last_of_repeated_values(client: TestClient) -> None:
    first = client.get("/items/1?limit=&q=&flag=").json()
    assert first == {
        "item_id": 1,
        "q": None,
        "limit": 10,
        "tag": None,
        "ids": [0],
        "flag": False,
        "x_token": "",
        "x_many": None,
        "session": None,
    }
    assert client.get("/items/1").json()["ids"] == [0]  # the default list is not shared
    assert client.get("/items/1?limit=3&limit=4").json()["limit"] == 4


def test_errors_of_every_source_in_one_422(client: TestClient) -> None:
    r = client.get(
        "/items/x?limit=0&ids=1&ids=y&flag=maybe&limit=500",
        headers={"x-many": "z"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    errors = [(e["loc"], e["code"]) for e in r.json()["errors"]]
    assert errors == [
        (["path", "item_id"], "invalid"),
        (["query", "limit"], "le"),
        (["query", "ids", 1], "invalid"),
        (["query", "flag"], "invalid"),
        (["header", "x-many", 0], "invalid"),
    ]


def test_a_missing_required_parameter_and_invalid_utf8() -> None:
    async def search(q: str, page: int) -> dict[str, object]:
        return {"q": q, "page": page}

    c = TestClient(App(routes=[Route("/s", search)]))
    r = c.get("/s?page=")
    assert [(e["loc"], e["code"]) for e in r.json()["errors"]] == [
        (["query", "q"], "missing"),
        (["query", "page"], "missing"),
    ]
    assert c.get("/s?q=%FF%FE&page=1").json() == {"q": "\ufffd\ufffd", "page": 1}
    huge = "&".join(f"p{i}={i}" for i in range(10_000))
    assert c.get(f"/s?{huge}&q=a&page=2").json() == {"q": "a", "page": 2}


def test_a_json_body_without_a_content_type_is_refused() -> None:
    async def create(item: dict[str, int]) -> dict[str, int]:
        return item

    c = TestClient(App(routes=[Route("/", create, methods=["POST"])]))
    assert c.post("/", content=b'{"a": 1}').status_code == 415
    r = c.post("/", content=b'{"a": 1}', headers={"content-type": "application/json"})
    assert r.json() == {"a": 1}


# --- the generated reader against the loop it replaced ---------------------------------

MISSING = object()


def reference_read(scalars: Scalars, connection: Request) -> tuple[list[object], list[object]]:
    """The reading rules written as a plain loop over the parameters and their checks
    (what Scalars.read did before it was generated)."""
    scope = connection.scope
    path = scope.get("path_params") or {}
    names = {s.key for s in scalars.scalars if s.kind == QUERY}
    query = query_values(scope.get("query_string", b""), names)
    values: list[object] = [None] * (max(s.index for s in scalars.scalars) + 1)
    errs: list[ErrorDetail] = []
    for s in scalars.scalars:
        if s.kind == QUERY:
            found = query.get(s.key)
            raw = (found if s.many else found[-1]) if found else MISSING
        elif s.kind == PATH:
            raw = path.get(s.key, MISSING)
        elif s.kind == HEADER:
            found = connection.headers.getlist(s.key)
            raw = (found if s.many else found[-1]) if found else MISSING
        else:
            raw = connection.cookies.get(s.key, MISSING)
        if raw is MISSING or (s.check.blank_is_absent and raw == ""):
            values[s.index] = s.check.default(s.loc, errs)
        else:
            values[s.index] = s.check.check(raw, s.loc, errs)
    return values, [(e.loc, e.code, e.msg) for e in errs]


def generated_read(scalars: Scalars, connection: Request) -> tuple[list[object], list[object]]:
    values: list[object] = [None] * (max(s.index for s in scalars.scalars) + 1)
    errors: list[ValidationError] = []
    scalars.read(connection, values, errors)
    details = [(e.loc, e.code, e.msg) for error in errors for e in error.details]
    return values, details


def test_the_generated_reader_agrees_with_the_loop_on_random_requests() -> None:
    typed = App(routes=[Route("/items/{item_id}", item)]).routes[0].typed  # type: ignore[attr-defined]
    scalars = typed.scalars
    assert "isdigit" in scalars.source  # the int shortcut is used
    rng = random.Random(16)
    pieces = ["", "0", "1", "20", "100", "101", "-5", "+5", "007", "x", "%20", "on", "²", "9" * 25]
    names = ["q", "limit", "tag", "ids", "flag", "other"]
    headers = [b"x-token", b"x-many", b"cookie", b"other"]
    for _ in range(3000):
        query = "&".join(
            f"{rng.choice(names)}={rng.choice(pieces)}" for _ in range(rng.randrange(0, 5))
        )
        scope = {
            "type": "http",
            "query_string": query.encode(),
            "path_params": {"item_id": rng.choice(pieces)} if rng.random() < 0.9 else {},
            "headers": [
                (
                    name,
                    b"session=" + rng.choice(pieces).encode()
                    if name == b"cookie"
                    else rng.choice(pieces).encode(),
                )
                for name in rng.sample(headers, rng.randrange(0, 4))
            ],
        }
        assert generated_read(scalars, Request(scope)) == reference_read(scalars, Request(scope)), (
            scope
        )


def test_a_converted_path_parameter_takes_the_check() -> None:
    async def get(item_id: int, name: str = "") -> dict[str, object]:
        return {"item_id": item_id, "name": name}

    c = TestClient(App(routes=[Route("/items/{item_id:int}", get)]))
    assert c.get("/items/42").json() == {"item_id": 42, "name": ""}
