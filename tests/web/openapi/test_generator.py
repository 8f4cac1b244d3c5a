"""The OpenAPI generator: the example API's document passes openapi-spec-validator, Redocly
and schemathesis; the document says what the routes do; its bytes are deterministic."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest

from tests.web.openapi import example_api
from tests.web.openapi.test_spec_tools import redocly_lint
from vivace.schema import Schema, SchemaError
from vivace.testing import TestClient
from vivace.web import (
    APIKeyCookie,
    APIKeyQuery,
    App,
    Depends,
    HTTPBasic,
    HTTPBearer,
    OAuth2,
    Request,
    Route,
)
from vivace.web.openapi import OpenAPI

ROOT = Path(__file__).resolve().parents[3]


def document(**options: Any) -> dict[str, Any]:
    app = example_api.make_app(**options)
    assert app.openapi is not None
    return app.openapi.document(app)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


# -- the tools -------------------------------------------------------------------------


def test_openapi_spec_validator_finds_no_error(doc: dict[str, Any]) -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    assert [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()] == []
    no_split = document(separate_input_output=False, validation_error_response=False)
    assert [e.message for e in OpenAPIV31SpecValidator(no_split).iter_errors()] == []


def test_redocly_lint_finds_no_error(doc: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc))
    report = redocly_lint(path)
    assert report["totals"]["errors"] == 0, report["problems"]


def test_schemathesis_finds_no_failure() -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", example_api.make_app())
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def check(case: Any) -> None:
            case.call_and_validate()

        try:
            check()
        except Exception as exc:  # a FailureGroup: collect every operation's failures
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations == 13
    assert failures == []


# -- what the document says ---------------------------------------------------------------


def test_info_servers_tags_and_paths(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {
        "title": "Pets",
        "version": "1.0.0",
        "description": "An example API.",
        "license": {"name": "MIT", "identifier": "MIT"},
    }
    assert doc["servers"] == [{"url": "http://127.0.0.1"}]
    assert [t["name"] for t in doc["tags"]] == ["pets", "photos"]
    assert list(doc["paths"]) == [
        "/pets",
        "/pets/{pet_id}",
        "/pets/{pet_id}/photos",
        "/pets/{pet_id}/name",
        "/token",
        "/me",
        "/admin",
        "/profile",
        "/old",
        "/subscriptions",
        "/v2/pets",
    ]
    assert "/openapi.json" not in doc["paths"] and "/docs" not in doc["paths"]


def test_parameters_from_typed_inputs_dependencies_and_groups(doc: dict[str, Any]) -> None:
    get = doc["paths"]["/pets"]["get"]
    params = {(p["in"], p["name"]): p for p in get["parameters"]}
    assert list(params) == [
        ("query", "offset"),
        ("query", "limit"),
        ("query", "kind"),
        ("query", "page"),
        ("query", "q"),
    ]
    assert params["query", "offset"] == {
        "name": "offset",
        "in": "query",
        "description": "Items to skip",
        "schema": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 0},
    }
    assert params["query", "page"]["schema"]["maximum"] == 1000
    assert get["summary"] == "List pets."
    assert get["description"] == "Filtered by kind, a page at a time."
    assert get["tags"] == ["pets"]
    path = doc["paths"]["/pets/{pet_id}"]["get"]["parameters"]
    assert path == [
        {
            "name": "pet_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31},
        }
    ]
    header = doc["paths"]["/pets"]["post"]["parameters"]
    assert header == [
        {
            "name": "request-id",
            "in": "header",
            "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        }
    ]
    cookie = doc["paths"]["/me"]["get"]["parameters"]
    assert cookie[0]["in"] == "cookie" and cookie[0]["name"] == "session"


def test_request_bodies_json_embedded_form_and_multipart(doc: dict[str, Any]) -> None:
    post = doc["paths"]["/pets"]["post"]["requestBody"]
    assert post == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PetIn"}}},
    }
    rename = doc["paths"]["/pets/{pet_id}/name"]["put"]["requestBody"]["content"]
    schema = rename["application/json"]["schema"]
    assert schema["required"] == ["name"] and list(schema["properties"]) == ["name", "note"]
    assert schema["properties"]["name"] == {"type": "string", "minLength": 1, "maxLength": 50}
    token = doc["paths"]["/token"]["post"]["requestBody"]["content"]
    assert list(token) == ["application/x-www-form-urlencoded"]
    photo = doc["paths"]["/pets/{pet_id}/photos"]["post"]["requestBody"]["content"]
    multipart = photo["multipart/form-data"]["schema"]
    assert multipart["properties"]["photo"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
    }
    assert multipart["required"] == ["photo"]
    sub = doc["paths"]["/subscriptions"]["post"]["requestBody"]["content"]
    assert list(sub["application/json"]["schema"]["properties"]) == ["url"]  # embed=True


def test_responses_status_codes_examples_links_and_the_422(doc: dict[str, Any]) -> None:
    post = doc["paths"]["/pets"]["post"]["responses"]
    assert list(post) == ["201", "401", "403", "409", "422"]
    assert post["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Pet-Output"
    }
    assert post["201"]["content"]["application/json"]["examples"]["rex"]["summary"] == "A dog"
    assert post["409"]["description"] == "The pet exists"
    assert post["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationProblem"
    }
    get = doc["paths"]["/pets/{pet_id}"]["get"]["responses"]
    assert get["200"]["links"]["photos"]["operationId"] == "PetPhotos_get"
    assert get["404"] == {"description": "No such pet"}
    assert "422" not in doc["paths"]["/token"]["post"]["responses"]  # responses={422: None}
    assert "422" not in doc["paths"]["/old"]["get"]["responses"]  # untyped: nothing to refuse
    assert doc["paths"]["/pets/{pet_id}/photos"]["get"]["responses"]["200"]["content"] == {
        "application/json": {"schema": {"type": "array", "items": {"type": "string"}}}
    }
    no_422 = document(validation_error_response=False)
    assert "ValidationProblem" not in no_422["components"]["schemas"]
    assert all(
        "422" not in op["responses"] for item in no_422["paths"].values() for op in item.values()
    )


def test_input_and_output_schemas_split_or_not(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert sorted(schemas) == ["Pet-Input", "Pet-Output", "PetIn", "ValidationProblem"]
    assert "id" not in schemas["Pet-Input"]["properties"]  # read-only: never sent
    assert "secret_note" not in schemas["Pet-Output"]["properties"]  # write-only
    assert schemas["Pet-Output"]["required"] == ["id", "name", "kind", "born"]
    assert schemas["Pet-Input"]["required"] == ["name"]
    together = document(separate_input_output=False)["components"]["schemas"]
    assert sorted(together) == ["Pet", "PetIn", "ValidationProblem"]
    assert together["Pet"]["properties"]["id"]["readOnly"] is True
    assert together["Pet"]["properties"]["secret_note"]["writeOnly"] is True


def test_security_schemes_from_dependencies(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes == {
        "APIKeyHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "A key from your account page",
        },
        "HTTPBasic": {"type": "http", "scheme": "basic"},
        "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "OAuth2PasswordBearer": {
            "type": "oauth2",
            "flows": {"password": {"tokenUrl": "/token", "scopes": {"pets:write": "Change pets"}}},
        },
        "OpenIdConnect": {
            "type": "openIdConnect",
            "openIdConnectUrl": "https://id.example.org/.well-known/openid-configuration",
        },
    }
    paths = doc["paths"]
    assert paths["/pets"]["post"]["security"] == [{"APIKeyHeader": []}]
    assert paths["/pets/{pet_id}/name"]["put"]["security"] == [
        {"OAuth2PasswordBearer": ["pets:write"]}
    ]
    assert paths["/pets"]["get"]["security"] == []  # public, said explicitly


def test_custom_security_interface_on_any_callable() -> None:
    async def session_user(request: Request) -> str:
        return "ada"

    session_user.__openapi_security__ = [  # type: ignore[attr-defined]
        ("session", {"type": "apiKey", "in": "cookie", "name": "sid"}, ["read"])
    ]

    async def handler(user: Annotated[str, Depends(session_user)]) -> dict[str, str]:
        return {"user": user}

    app = App(routes=[Route("/u", handler)], openapi=OpenAPI())
    assert app.openapi is not None
    spec = app.openapi.document(app)
    assert spec["components"]["securitySchemes"]["session"]["name"] == "sid"
    assert spec["paths"]["/u"]["get"]["security"] == [{"session": ["read"]}]
    assert TestClient(app).get("/u").json() == {"user": "ada"}


def test_webhooks_callbacks_deprecated_and_operation_ids(doc: dict[str, Any]) -> None:
    hook = doc["webhooks"]["petEvent"]["post"]
    assert hook["summary"] == "A pet changed (sent to subscribers)."
    assert hook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Pet-Input"
    }
    callback = doc["paths"]["/subscriptions"]["post"]["callbacks"]["petEvent"]
    assert list(callback) == ["{$request.body#/url}"]
    assert doc["paths"]["/admin"]["get"]["deprecated"] is True
    assert doc["paths"]["/admin"]["get"]["summary"] == "Admin"  # from the route's name
    assert doc["paths"]["/profile"]["get"]["summary"] == "Profile"
    ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
    ]
    assert len(ids) == len(set(ids))
    assert ids[:4] == ["list_pets", "create_pet", "get_pet", "PetPhotos_get"]
    assert "legacyOld" in ids and "list_pets_v2" in ids


def test_the_bytes_are_the_same_across_runs_and_hash_seeds() -> None:
    code = (
        "import sys; from tests.web.openapi.example_api import app; "
        "sys.stdout.buffer.write(app.openapi.json(app))"
    )
    outputs = set()
    for seed in ("0", "1", "4242", "random"):
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            timeout=120,
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    app = example_api.make_app()
    assert app.openapi is not None
    assert outputs == {app.openapi.json(app)}


def test_two_schemas_with_one_name_fail_clearly_and_the_hook_names_them() -> None:
    def make(field: str) -> type[Schema]:
        return type("Item", (Schema,), {"__annotations__": {field: int}, "__module__": field})

    first, second = make("a"), make("b")

    async def one(item: first) -> None:  # type: ignore[valid-type]
        return None

    async def two(item: second) -> None:  # type: ignore[valid-type]
        return None

    routes = [Route("/one", one, methods=["POST"]), Route("/two", two, methods=["POST"])]
    clash = App(routes=list(routes), openapi=OpenAPI())
    with pytest.raises(SchemaError, match=r"two schemas are named 'Item': a\.Item and b\.Item"):
        clash.openapi.document(clash)  # type: ignore[union-attr]
    named = App(
        routes=list(routes),
        openapi=OpenAPI(schema_name=lambda cls: f"{cls.__module__.upper()}Item"),
    )
    schemas = named.openapi.document(named)["components"]["schemas"]  # type: ignore[union-attr]
    assert sorted(schemas) == ["AItem", "BItem", "ValidationProblem"]


# -- serving ------------------------------------------------------------------------------


def test_app_serves_the_document_and_the_docs_uis() -> None:
    client = TestClient(example_api.make_app())
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["info"]["title"] == "Pets"
    page = client.get("/docs")
    assert "<title>Pets - Swagger UI</title>" in page.text
    assert client.get("/redoc").status_code == 200

    bare = App(openapi=OpenAPI(openapi_url="/api.json", docs=None))
    client = TestClient(bare)
    assert client.get("/api.json").status_code == 200
    assert client.get("/docs").status_code == 404
    off = App(openapi=OpenAPI(openapi_url=None))
    assert off.routes == []


def test_untyped_routes_and_converters_are_documented() -> None:
    async def plain(request: Request) -> Any:
        return {}

    app = App(routes=[Route("/a/{x:int}/{y}/{z:float}", plain, methods=["GET", "DELETE"])])
    spec = OpenAPI().document(app)
    item = spec["paths"]["/a/{x}/{y}/{z}"]
    assert list(item) == ["get", "delete"]
    assert [p["schema"] for p in item["get"]["parameters"]] == [
        {"type": "integer"},
        {"type": "string"},
        {"type": "number"},
    ]
    assert item["get"]["operationId"] == "plain_get"
    assert item["get"]["responses"] == {"200": {"description": "Successful response"}}


def test_unknown_route_option_is_refused() -> None:
    async def handler(request: Request) -> Any:
        return {}

    with pytest.raises(TypeError, match="unknown route option"):
        Route("/", handler, tagz=["x"])


# -- the security dependencies -----------------------------------------------------------


def test_security_dependencies_read_credentials_and_refuse() -> None:
    bearer, basic = HTTPBearer(), HTTPBasic(realm="r")
    query, cookie = APIKeyQuery("key"), APIKeyCookie("sid", auto_error=False)
    oauth = OAuth2({"clientCredentials": {"tokenUrl": "/t", "scopes": {}}})

    async def handler(
        token: Annotated[str, Depends(bearer)],
        key: Annotated[str, Depends(query)],
        sid: Annotated[str | None, Depends(cookie)],
        other: Annotated[str, Depends(oauth)],
    ) -> dict[str, Any]:
        return {"token": token, "key": key, "sid": sid, "other": other}

    async def who(creds: Annotated[Any, Depends(basic)]) -> dict[str, str]:
        return {"user": creds.username, "password": creds.password, "repr": repr(creds)}

    c = TestClient(App(routes=[Route("/h", handler), Route("/who", who)]))
    r = c.get("/h?key=k", headers={"authorization": "Bearer abc"})
    assert r.json() == {"token": "abc", "key": "k", "sid": None, "other": "abc"}
    missing = c.get("/h?key=k")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert c.get("/h", headers={"authorization": "Bearer abc"}).status_code == 403
    assert c.get("/h?key=k", headers={"authorization": "Basic abc"}).status_code == 401
    assert c.get("/h?key=k", headers={"authorization": "Bearer "}).status_code == 401

    good = base64.b64encode(b"ada:pass:word").decode()
    r = c.get("/who", headers={"authorization": f"Basic {good}"})
    assert r.json() == {
        "user": "ada",
        "password": "pass:word",
        "repr": "HTTPBasicCredentials(username='ada', password='**********')",
    }
    for bad in (
        "!!!",
        base64.b64encode(b"no-colon").decode(),
        base64.b64encode(b"\xff:x").decode(),
    ):
        r = c.get("/who", headers={"authorization": f"Basic {bad}"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Basic realm="r"'
