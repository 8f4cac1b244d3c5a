"""The exact-type shortcut of a typed handler's output (_typed.Output.exact): a result of
exactly the declared schema is written by msgspec's encoder directly; it gives the same
bytes as the general path, which still filters subclasses, objects and dicts."""

from typing import Annotated, Any

import pytest

from vivace.schema import Field, Schema, Validator
from vivace.testing import TestClient
from vivace.web import App, Route
from vivace.web._handlers import to_response
from vivace.web._responses import JSONResponse
from vivace.web._typed import Output


class Address(Schema):
    street: str
    city: Annotated[str, Field(max_length=50)]


class Order(Schema):
    reference: str
    quantity: int
    tags: list[str]
    address: Address
    coupon: str | None = None


class Tagged(Order):
    secret: str = "hidden"


class Renamed(Schema):
    name: str = Field(alias="full-name")
    token: str = Field("t", exclude=True)


ORDER = Order(
    reference="r-1", quantity=2, tags=["a"], address=Address(street="1 rue", city="Paris")
)


@pytest.mark.parametrize(
    ("tp", "result"),
    [
        (Order, ORDER),
        (
            Order,
            Tagged(
                reference="r-2",
                quantity=3,
                tags=[],
                address=Address(street="x", city="y"),
                coupon="c",
                secret="s",
            ),
        ),
        (
            Order,
            {
                "reference": "r-3",
                "quantity": 1,
                "tags": [],
                "address": Address(street="a", city="b"),
            },
        ),
        (Renamed, Renamed(name="ada")),
    ],
)
def test_the_shortcut_writes_what_the_general_path_writes(tp: Any, result: Any) -> None:
    fast = Output(tp, 200, JSONResponse)
    slow = Output(tp, 200, JSONResponse)
    slow.exact = None
    assert fast.response(result).body == slow.response(result).body
    assert b"secret" not in fast.response(result).body  # only the declared fields


def test_the_shortcut_is_taken_only_where_msgspec_writes_the_class() -> None:
    assert Output(Order, 200, JSONResponse).exact is not None
    assert Output(Renamed, 200, JSONResponse).exact is None  # an excluded field
    assert Output(dict[str, int], 200, JSONResponse).exact is None  # plain JSON: orjson
    assert Validator(list[Order]).exact_encoder() is None


def test_status_code_and_echo_through_the_app() -> None:
    async def create(order: Order) -> Order:
        return order

    client = TestClient(App(routes=[Route("/", create, methods=["POST"], status_code=201)]))
    r = client.post(
        "/",
        json={"reference": "r", "quantity": 1, "tags": [], "address": {"street": "s", "city": "c"}},
    )
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "reference": "r",
        "quantity": 1,
        "tags": [],
        "address": {"street": "s", "city": "c"},
        "coupon": None,
    }


@pytest.mark.parametrize("status", [200, 201])
@pytest.mark.parametrize("tp", [None, dict[str, Any], dict[str, int] | None])
def test_a_plain_dict_gets_what_to_response_gives(tp: Any, status: int) -> None:
    got = Output(tp, status, JSONResponse).response({"a": 1, "b": [None]})
    want = to_response({"a": 1, "b": [None]})
    assert (got.status_code, got.body, got.raw_headers) == (status, want.body, want.raw_headers)


def test_a_status_without_content_sends_none_as_the_empty_response() -> None:
    # FastAPI's @app.delete(..., status_code=204) returning None: it was a 500 ("a
    # handler returned NoneType").
    async def delete(item_id: int) -> None:
        return None

    def delete_sync(item_id: int) -> None:
        return None

    async def stale(request: Any) -> Order:  # whatever it returns: no content for a 304
        return ORDER

    async def replaced(item_id: int) -> None:
        return JSONResponse({"kept": True}, status_code=200)  # type: ignore[return-value]

    app = App(
        routes=[
            Route("/items/{item_id}", delete, methods=["DELETE"], status_code=204),
            Route("/sync/{item_id}", delete_sync, methods=["DELETE"], status_code=204),
            Route("/stale", stale, status_code=304),
            Route("/replaced/{item_id}", replaced, status_code=204),
        ]
    )
    client = TestClient(app)
    for path in ("/items/1", "/sync/1"):
        r = client.delete(path)
        assert (r.status_code, r.content, r.headers.get("content-length")) == (204, b"", None)
    r = client.get("/stale")
    assert (r.status_code, r.content) == (304, b"")
    assert client.get("/replaced/1").json() == {"kept": True}
    assert client.delete("/items/x").status_code == 422


class Public(Schema):
    name: str


class Other(Schema):
    code: int


class Catalog(Schema):
    by_key: dict[str, Public]
    either: Public | Other | None = None


class Row:  # e.g. an ORM model: more attributes than the output declares
    def __init__(self, name: str) -> None:
        self.name, self.password_hash = name, "argon2$..."


def test_dict_values_and_union_members_are_written_through_their_class() -> None:
    # A dict's values and a union's members were written as they were: the extra keys
    # of a returned dict (a secret) leaked, and an object was a 500.
    async def mapping() -> dict[str, Public]:
        return {"a": {"name": "ada", "secret": "s"}, "b": Row("bob")}  # type: ignore[dict-item]

    async def either(kind: str) -> Public | Other:
        if kind == "code":
            return {"code": 7, "secret": "s"}  # type: ignore[return-value]
        return Row("ada")  # type: ignore[return-value]

    async def plain_member() -> Public | str:
        return "plain"

    async def nested() -> Catalog:
        value = {"by_key": {"k": {"name": "n", "secret": 1}}, "either": {"code": 1, "pin": 2}}
        return value  # type: ignore[return-value]

    client = TestClient(
        App(
            routes=[
                Route("/mapping", mapping),
                Route("/either", either),
                Route("/plain", plain_member),
                Route("/nested", nested),
            ]
        )
    )
    assert client.get("/mapping").json() == {"a": {"name": "ada"}, "b": {"name": "bob"}}
    assert client.get("/either?kind=code").json() == {"code": 7}
    assert client.get("/either?kind=row").json() == {"name": "ada"}
    assert client.get("/plain").json() == "plain"
    assert client.get("/nested").json() == {"by_key": {"k": {"name": "n"}}, "either": {"code": 1}}
