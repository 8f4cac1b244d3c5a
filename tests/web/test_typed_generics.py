"""A typed handler taking and returning generic schemas (``Box[Item]`` in, ``Page[Item]``
out), and their place in the OpenAPI document."""

from typing import Any

from openapi_spec_validator import OpenAPIV31SpecValidator

from tests.schema.models import Box, Item, Page
from vivace.testing import TestClient
from vivace.web import App, Route
from vivace.web.openapi import OpenAPI


async def add(body: Box[Item]) -> Page[Item]:
    return Page(items=[body.item], total=1)


async def listing() -> Page[Item]:
    # A dict where the generic schema is declared: validated against Page[Item].
    result: Any = {"items": [{"name": "a"}, {"name": "b"}], "total": 2}
    return result  # type: ignore[no-any-return]


APP = App(
    routes=[
        Route("/items", add, methods=["POST"]),
        Route("/items", listing, methods=["GET"]),
    ]
)


def test_generic_body_and_output() -> None:
    with TestClient(APP) as client:
        ok = client.post("/items", json={"item": {"name": "pen"}})
        assert ok.status_code == 200
        assert ok.json() == {"items": [{"name": "pen"}], "total": 1}
        bad = client.post("/items", json={"item": {"name": 1}})
        assert bad.status_code == 422
        assert [(e["loc"], e["code"]) for e in bad.json()["errors"]] == [
            (["body", "item", "name"], "type")
        ]
        assert client.get("/items").json() == {
            "items": [{"name": "a"}, {"name": "b"}],
            "total": 2,
        }


def test_generic_schemas_in_the_openapi_document() -> None:
    doc = OpenAPI().document(APP)
    assert [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()] == []
    post = doc["paths"]["/items"]["post"]
    assert "parameters" not in post
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Box_Item_"
    }
    ok = post["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Page_Item_"}
    schemas = doc["components"]["schemas"]
    assert schemas["Box_Item_"]["title"] == "Box[Item]"
    assert schemas["Page_Item_"]["properties"]["items"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Item"},
    }
    assert OpenAPI().document(APP) == doc
