"""FastAPI's ``response_model_exclude_unset``, ``_exclude_defaults``, ``_exclude_none``,
``_include`` and ``_exclude`` on routes: the output written through vivace.schema's
``dump`` with those options; the OpenAPI output schema stays the declared one."""

from typing import Any

import pytest

from vivace.schema import Schema
from vivace.testing import TestClient
from vivace.web import App, JSONResponse, PlainTextResponse, Route
from vivace.web.openapi import OpenAPI


class Owner(Schema):
    name: str
    email: str | None = None


class Item(Schema):
    name: str
    description: str | None = None
    price: float
    tax: float = 10.5
    tags: list[str] = []  # noqa: RUF012 - copied per instance
    owner: Owner | None = None


ITEMS: dict[str, dict[str, Any]] = {
    "foo": {"name": "Foo", "price": 50.2},
    "bar": {"name": "Bar", "description": None, "price": 62, "tax": 20.2},
    "baz": {"name": "Baz", "price": 50.2, "tax": 10.5, "owner": {"name": "Ann"}},
}


async def read(item_id: str) -> Item:
    return ITEMS[item_id]  # type: ignore[return-value] - a dict, converted


async def read_object(item_id: str) -> Item:
    return Item(**ITEMS[item_id])


async def read_all() -> list[Item]:
    return list(ITEMS.values())  # type: ignore[arg-type]


def get(route: Route, path: str) -> Any:
    with TestClient(App(routes=[route])) as client:
        r = client.get(path)
        assert r.status_code == 200, r.text
        return r.json()


def test_exclude_unset_leaves_out_what_the_returned_data_did_not_set() -> None:
    route = Route("/items/{item_id}", read, response_model_exclude_unset=True)
    assert get(route, "/items/foo") == {"name": "Foo", "price": 50.2}
    assert get(route, "/items/bar") == {
        "name": "Bar",
        "description": None,
        "price": 62.0,
        "tax": 20.2,
    }
    assert get(route, "/items/baz")["owner"] == {"name": "Ann"}  # nested too
    many = Route("/items", read_all, response_model_exclude_unset=True)
    assert get(many, "/items")[0] == {"name": "Foo", "price": 50.2}
    # A schema object returned: all its fields are set (vivace does not track which
    # were passed to its constructor).
    obj = Route("/o/{item_id}", read_object, response_model_exclude_unset=True)
    assert get(obj, "/o/foo")["tax"] == 10.5
    # Without the option, every field is written.
    assert get(Route("/items/{item_id}", read), "/items/foo")["tags"] == []


def test_exclude_defaults_none_include_exclude() -> None:
    route = Route("/items/{item_id}", read, response_model_exclude_defaults=True)
    assert get(route, "/items/baz") == {"name": "Baz", "price": 50.2, "owner": {"name": "Ann"}}
    route = Route("/items/{item_id}", read, response_model_exclude_none=True)
    assert get(route, "/items/baz") == {
        "name": "Baz",
        "price": 50.2,
        "tax": 10.5,
        "tags": [],
        "owner": {"name": "Ann"},  # its email None left out too
    }
    route = Route("/items/{item_id}", read, response_model_include={"name", "tax"})
    assert get(route, "/items/bar") == {"name": "Bar", "tax": 20.2}
    route = Route(
        "/items/{item_id}", read, response_model_exclude={"tax": True, "owner": {"email"}}
    )
    assert get(route, "/items/baz") == {
        "name": "Baz",
        "description": None,
        "price": 50.2,
        "tags": [],
        "owner": {"name": "Ann"},
    }


def test_a_response_passes_and_the_openapi_schema_stays_the_declared_one() -> None:
    async def raw() -> Item:
        return JSONResponse({"as": "is", "x": None})  # type: ignore[return-value]

    async def plain() -> dict[str, Any]:
        return {"a": 1, "b": None}

    app = App(
        routes=[
            Route("/raw", raw, response_model_exclude_none=True),
            Route("/plain", plain, response_model_exclude_none=True, status_code=201),
            Route("/items/{item_id}", read, response_model_exclude_unset=True),
            Route(
                "/text/{item_id}",
                read,
                response_model_include={"name"},
                response_class=PlainTextResponse,
            ),
        ],
        openapi=OpenAPI(),
    )
    with TestClient(app) as client:
        assert client.get("/raw").json() == {"as": "is", "x": None}
        r = client.get("/plain")
        assert (r.status_code, r.json()) == (201, {"a": 1})
        assert client.get("/text/foo").text == '{"name":"Foo"}'
        doc = client.get("/openapi.json").json()
    ok = doc["paths"]["/items/{item_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    assert "tags" in doc["components"]["schemas"]["Item"]["properties"]


def test_a_required_field_missing_still_fails_and_no_output_is_refused() -> None:
    async def broken() -> Item:
        return {"name": "no price"}  # type: ignore[return-value]

    app = App(routes=[Route("/b", broken, response_model_exclude_unset=True)])
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/b").status_code == 500

    async def untyped():  # type: ignore[no-untyped-def]
        return {}

    with pytest.raises(TypeError, match="response_model_exclude_none shapes the declared"):
        Route("/u", untyped, response_model_exclude_none=True)
