"""The OpenAPI generator's less common paths: hosts, websockets, options, parameter
documentation, form groups, response classes."""

from typing import Annotated, Any

from openapi_spec_validator import OpenAPIV31SpecValidator

from vivace.schema import Field, Schema
from vivace.testing import TestClient
from vivace.web import (
    App,
    Form,
    Header,
    Host,
    HTMLResponse,
    PlainTextResponse,
    Query,
    Request,
    Route,
    Router,
    UploadFile,
    WebSocket,
    WebSocketRoute,
)
from vivace.web.openapi import OpenAPI


class Contact(Schema):
    """Write to us."""

    email: str
    message: str = Field(default="", description="What to say")


class Empty(Schema):
    pass


class Secretive(Schema):
    id: int = Field(default=0, read_only=True)


def valid(doc: dict[str, Any]) -> dict[str, Any]:
    assert [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()] == []
    return doc


def test_parameters_documentation_groups_and_form_groups() -> None:
    async def search(
        tags: Annotated[
            list[str], Query(description="Any of", deprecated=True, examples=[["a"]])
        ] = [],  # noqa: B006
        hidden: Annotated[int, Query(include_in_schema=False)] = 0,
        group: Annotated[Contact, Header()] = Contact(email="x"),  # noqa: B008
    ) -> list[Empty]:
        return []

    async def contact(form: Annotated[Contact, Form()]) -> Secretive:
        return Secretive()

    async def gone(request: Request) -> None:
        return None

    async def page(request: Request) -> str:
        return "<p>"

    async def text() -> Any:
        return "t"

    async def socket(websocket: WebSocket) -> None: ...

    app = App(
        routes=[
            Route("/search", search, security=[{"key": []}], openapi_extra={"x-rate": {"per": 1}}),
            Route(
                "/contact",
                contact,
                methods=["POST"],
                responses={"default": {"description": "Other"}},
            ),
            Route(
                "/gone",
                gone,
                methods=["DELETE"],
                status_code=204,
                responses={204: {"description": "Gone"}},
            ),
            Route("/page", page, response_class=HTMLResponse, responses={599: {}}),
            Route("/text", text, response_class=PlainTextResponse, operation_id="search"),
            Route("/hidden", gone, include_in_schema=False),
            WebSocketRoute("/ws", socket),
            Host("api.example.org", Router([Route("/hosted", gone)])),
        ]
    )
    openapi = OpenAPI(summary="Short", validation_error_response=True)
    doc = valid(openapi.document(app))
    assert doc["info"]["summary"] == "Short"
    assert list(doc["paths"]) == ["/search", "/contact", "/gone", "/page", "/text", "/hosted"]
    search_op = doc["paths"]["/search"]["get"]
    params = search_op["parameters"]
    assert params[0] == {
        "name": "tags",
        "in": "query",
        "description": "Any of",
        "deprecated": True,
        "examples": {"example1": {"value": ["a"]}},
        "explode": True,
        "schema": {"default": [], "type": "array", "items": {"type": "string"}},
    }
    assert [p["name"] for p in params] == ["tags", "email", "message"]  # hidden left out
    assert params[1] == {
        "name": "email",
        "in": "header",
        "schema": {"type": "string"},
        "required": True,
    }
    assert params[2]["description"] == "What to say"
    assert search_op["security"] == [{"key": []}]
    assert search_op["x-rate"] == {"per": 1}
    assert search_op["responses"]["200"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/Empty"
    }
    contact_op = doc["paths"]["/contact"]["post"]
    assert contact_op["requestBody"]["content"]["application/x-www-form-urlencoded"] == {
        "schema": {"$ref": "#/components/schemas/Contact"}
    }
    assert contact_op["responses"]["default"] == {"description": "Other"}
    assert doc["paths"]["/gone"]["delete"]["responses"] == {"204": {"description": "Gone"}}
    assert list(doc["paths"]["/page"]["get"]["responses"]) == ["200", "599"]
    assert doc["paths"]["/page"]["get"]["responses"]["599"] == {"description": "Response"}
    assert doc["paths"]["/text"]["get"]["operationId"] == "search_2"  # "search" taken
    assert doc["paths"]["/text"]["get"]["responses"]["200"]["content"] == {"text/plain": {}}
    schemas = doc["components"]["schemas"]
    assert schemas["Empty"] == {"title": "Empty", "type": "object", "properties": {}}
    assert schemas["Secretive"]["required"] == ["id"]  # output only: always written
    # Built once, then the same bytes.
    assert openapi.json(app) is openapi.json(app)


def test_multipart_with_a_list_of_files_and_optional_fields() -> None:
    async def upload(
        files: list[UploadFile], note: Annotated[str | None, Form()] = None
    ) -> dict[str, int]:
        return {"n": len(files)}

    doc = valid(OpenAPI().document(App(routes=[Route("/u", upload, methods=["POST"])])))
    body = doc["paths"]["/u"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["files"] == {
        "type": "array",
        "items": {"type": "string", "contentMediaType": "application/octet-stream"},
    }
    assert schema["required"] == ["files"] and schema["additionalProperties"] is False


class Stamp(Schema):
    id: int = Field(read_only=True)
    note: str = Field(default="", write_only=True)


def test_read_only_and_write_only_fields_in_each_direction() -> None:
    async def stamp(body: Stamp) -> Stamp:
        return body

    doc = valid(OpenAPI().document(App(routes=[Route("/s", stamp, methods=["POST"])])))
    schemas = doc["components"]["schemas"]
    assert schemas["Stamp-Input"]["properties"] == {
        "note": {"type": "string", "default": "", "writeOnly": True}
    }
    assert "required" not in schemas["Stamp-Input"]
    assert schemas["Stamp-Output"]["required"] == ["id"]
    assert list(schemas["Stamp-Output"]["properties"]) == ["id"]


def test_an_app_with_no_typed_routes_and_a_router() -> None:
    async def home(request: Request) -> Any:
        return {}

    doc = valid(OpenAPI().document(Router([Route("/", home)])))
    assert "components" not in doc
    assert doc["paths"]["/"]["get"]["summary"] == "Home"
    client = TestClient(App(routes=[Route("/", home)], openapi=OpenAPI(docs={"redoc_url": None})))
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs").status_code == 200


class Span(Schema):
    lo: int = 0
    hi: int = 10


class Search(Schema):
    q: str = Field("", description="the text")
    price: Span | None = None
    spans: list[Span] = Field(default_factory=list, alias="span")


class Spans(Schema):
    span: Span | None = None


def test_a_query_group_with_nested_classes_defines_them_in_components() -> None:
    async def search(filters: Annotated[Search, Query()]) -> dict[str, Any]:
        return {}

    async def spans(s: Annotated[Spans, Query()], out: int = 0) -> Span:
        return Span()

    app = App(
        routes=[Route("/search", search), Route("/spans", spans)],
        openapi=OpenAPI(title="t", version="1"),
    )
    doc = valid(TestClient(app).get("/openapi.json").json())
    params = {p["name"]: p for p in doc["paths"]["/search"]["get"]["parameters"]}
    assert params["q"]["schema"] == {"type": "string", "description": "the text", "default": ""}
    assert params["q"]["description"] == "the text"
    # Span is also an output (of /spans), whose fields are all required: two definitions.
    ref = {"$ref": "#/components/schemas/Span-Input"}
    assert params["price"]["schema"] == {"default": None, "anyOf": [ref, {"type": "null"}]}
    assert params["span"]["schema"]["items"] == ref
    components = doc["components"]["schemas"]
    assert components["Span-Input"]["properties"]["hi"]["default"] == 10
    assert components["Span-Output"]["required"] == ["lo", "hi"]
    span = doc["paths"]["/spans"]["get"]["parameters"][0]
    assert span["schema"]["anyOf"][0] == ref
