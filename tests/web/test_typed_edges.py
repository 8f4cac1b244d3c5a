"""Typed handlers at their edges: markers as defaults, analysis errors, outputs of every
kind, dependency corner cases."""

import dataclasses
from typing import Annotated, Any

import pytest

from vivace.schema import Schema
from vivace.testing import TestClient
from vivace.web import (
    App,
    Body,
    Depends,
    File,
    Form,
    Header,
    HTMLResponse,
    HTTPBasic,
    Path,
    PlainTextResponse,
    Query,
    Request,
    Response,
    Route,
    UploadFile,
    WebSocket,
    WebSocketRoute,
)
from vivace.web._params import REQUIRED, Param, is_typed, strip_optional
from vivace.web.openapi import OpenAPI


class Out(Schema):
    name: str
    size: int = 0


@dataclasses.dataclass
class Box:
    label: str
    items: list[Out]


def client(*routes: Route) -> TestClient:
    return TestClient(App(routes=list(routes)))


def test_markers_as_defaults_and_the_connection_by_name() -> None:
    async def pager(limit: int = Query(5, le=10)) -> int:
        return limit

    async def handler(request, page: int = Depends(pager), *args: Any, **kw: Any) -> dict:  # type: ignore[no-untyped-def]
        return {"page": page, "path": request.url.path}

    c = client(Route("/h", handler))
    assert c.get("/h").json() == {"page": 5, "path": "/h"}
    assert c.get("/h?limit=7").json()["page"] == 7
    assert c.get("/h?limit=70").status_code == 422


def test_analysis_refusals() -> None:
    async def positional_only(x: int, /) -> None: ...

    async def unresolvable(x: "Missing") -> None: ...  # type: ignore[name-defined]  # noqa: F821

    async def both(item: Out, f: Annotated[str, Form()]) -> None: ...

    async def asks_request(websocket: WebSocket, request: Request) -> None: ...

    async def ws_body(websocket: WebSocket, item: Out) -> None: ...

    class Opaque:
        pass

    async def bad_type(x: Annotated[Opaque, Query()]) -> None: ...

    async def bad_body(x: Annotated[Opaque, Body()]) -> None: ...

    async def bad_output() -> Box | Opaque: ...

    with pytest.raises(TypeError, match="positional-only"):
        Route("/", positional_only)
    with pytest.raises(TypeError, match="cannot resolve the annotations"):
        Route("/", unresolvable)
    with pytest.raises(TypeError, match="both a JSON body and a form"):
        Route("/", both, methods=["POST"])
    with pytest.raises(TypeError, match="asks for Request"):
        WebSocketRoute("/", asks_request)
    with pytest.raises(TypeError, match="reads a body"):
        WebSocketRoute("/", ws_body)

    async def ws_without_socket(room: str) -> None: ...

    with pytest.raises(TypeError, match="takes no WebSocket parameter"):
        WebSocketRoute("/", ws_without_socket)
    with pytest.raises(TypeError, match=r"query parameters.*unsupported type"):
        Route("/", bad_type)
    with pytest.raises(TypeError, match=r"body.*unsupported type"):
        Route("/", bad_body, methods=["POST"])
    with pytest.raises(TypeError, match=r"output.*unsupported type"):
        Route("/", bad_output)


def test_outputs_of_every_kind() -> None:
    class Thing:
        def __init__(self) -> None:
            self.label = "box"
            self.items = [type("Row", (), {"name": "a"})(), {"name": "b", "size": 2}]

    async def nested() -> Box:
        return Thing()  # type: ignore[return-value]

    async def none_list() -> list[Out] | None:
        return None

    async def response() -> Out:
        return PlainTextResponse("as is")  # type: ignore[return-value]

    async def created(request: Request) -> dict:
        return {"ok": True}

    async def page(request: Request) -> str:
        return "<p>hi</p>"

    async def typed_html() -> Out:
        return Out(name="x")

    c = client(
        Route("/nested", nested),
        Route("/none", none_list),
        Route("/response", response),
        Route("/created", created, status_code=201),
        Route("/page", page, response_class=HTMLResponse),
        Route("/typed_html", typed_html, response_class=PlainTextResponse),
    )
    assert c.get("/nested").json() == {
        "label": "box",
        "items": [{"name": "a", "size": 0}, {"name": "b", "size": 2}],
    }
    assert c.get("/none").json() is None
    assert c.get("/response").text == "as is"
    r = c.get("/created")
    assert (r.status_code, r.json()) == (201, {"ok": True})
    r = c.get("/page")
    assert r.headers["content-type"].startswith("text/html") and r.text == "<p>hi</p>"
    assert c.get("/typed_html").text == '{"name":"x","size":0}'


def test_embedded_body_defaults_and_optional_upload() -> None:
    async def opt(a: Annotated[int, Body()] = 1, b: Annotated[str, Body()] = "x") -> dict[str, Any]:
        return {"a": a, "b": b}

    async def files(many: list[UploadFile], one: UploadFile | None = None) -> dict[str, Any]:
        return {"many": [f.filename for f in many], "one": one is not None}

    c = client(Route("/opt", opt, methods=["POST"]), Route("/files", files, methods=["POST"]))
    assert c.post("/opt").json() == {"a": 1, "b": "x"}
    assert c.post("/opt", json={"a": 2}).json() == {"a": 2, "b": "x"}
    r = c.post("/files", files=[("many", ("a", b"1")), ("many", ("b", b"2"))])
    assert r.json() == {"many": ["a", "b"], "one": False}


def test_dependency_cache_off_override_reuse_and_yield_twice() -> None:
    calls: list[str] = []

    async def counted() -> int:
        calls.append("x")
        return len(calls)

    async def handler(
        a: Annotated[int, Depends(counted, use_cache=False)],
        b: Annotated[int, Depends(counted, use_cache=False)],
    ) -> dict[str, int]:
        return {"a": a, "b": b}

    def twice() -> Any:
        yield 1
        yield 2

    async def atwice() -> Any:
        yield 1
        yield 2

    async def bad(x: Annotated[int, Depends(twice)]) -> dict[str, int]:
        return {"x": x}

    async def abad(x: Annotated[int, Depends(atwice)]) -> dict[str, int]:
        return {"x": x}

    app = App(routes=[Route("/h", handler), Route("/bad", bad), Route("/abad", abad)])
    c = TestClient(app)
    assert c.get("/h").json() == {"a": 1, "b": 2}

    async def replacement(n: int = 0) -> int:
        return 100 + n

    app.dependency_overrides[counted] = replacement
    assert c.get("/h?n=1").json() == {"a": 101, "b": 101}
    assert c.get("/h?n=2").json() == {"a": 102, "b": 102}  # the analysed override reused
    assert c.get("/h?n=x").status_code == 422
    for path in ("/bad", "/abad"):
        with pytest.raises(RuntimeError, match="yielded twice"):
            c.get(path)


def test_a_dict_parameter_is_the_json_body() -> None:
    async def merge(patch: dict[str, int], extra: Annotated[dict, Body()] = {}) -> dict:  # noqa: B006
        return {"patch": patch, "extra": extra}

    c = client(Route("/m", merge, methods=["POST"]))
    assert c.post("/m", json={"patch": {"a": 1}}).json() == {"patch": {"a": 1}, "extra": {}}
    assert c.post("/m", json={"patch": {"a": "x"}}).status_code == 422


def test_a_list_of_objects_is_the_json_body() -> None:
    # FastAPI's ``items: list[Item]``: a query string cannot hold objects, so a list of
    # schemas, dataclasses or dicts is the body (it was read from the query: always 422).
    async def bulk(items: list[Out]) -> dict:
        return {"names": [i.name for i in items]}

    async def boxes(boxes: list[Box] | None = None, tags: list[str] | None = None) -> dict:
        return {"boxes": len(boxes or ()), "tags": tags}

    async def rows(rows: list[dict[str, int]], page: int = 1) -> dict:
        return {"rows": rows, "page": page}

    c = client(
        Route("/bulk", bulk, methods=["POST"]),
        Route("/boxes", boxes, methods=["POST"]),
        Route("/rows", rows, methods=["POST"]),
    )
    assert c.post("/bulk", json=[{"name": "a"}, {"name": "b"}]).json() == {"names": ["a", "b"]}
    r = c.post("/bulk", json={"name": "a"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body"]
    r = c.post("/boxes?tags=x&tags=y", json=[{"label": "l", "items": []}])
    assert r.json() == {"boxes": 1, "tags": ["x", "y"]}
    assert c.post("/boxes").json() == {"boxes": 0, "tags": None}
    assert c.post("/rows?page=2", json=[{"a": 1}]).json() == {"rows": [{"a": 1}], "page": 2}


class Signup(Schema):
    email: str
    newsletter: bool = True


def test_form_groups_follow_the_form_rules() -> None:
    async def signup(form: Annotated[Signup, Form()], avatar: UploadFile | None = None) -> dict:
        return {"email": form.email, "newsletter": form.newsletter, "avatar": avatar is not None}

    c = client(Route("/s", signup, methods=["POST"]))
    # An absent checkbox is False (not the default), an empty file input is not sent.
    r = c.post("/s", data={"email": "a@b.c"}, files={"avatar": ("", b"")})
    assert r.json() == {"email": "a@b.c", "newsletter": False, "avatar": False}
    assert c.post("/s", data={"newsletter": "on"}).json()["errors"][0]["loc"] == ["form", "email"]


def test_basic_without_auto_error_returns_none() -> None:
    basic = HTTPBasic(auto_error=False)

    async def who(creds: Annotated[Any, Depends(basic)]) -> dict[str, Any]:
        return {"creds": creds}

    assert client(Route("/", who)).get("/").json() == {"creds": None}


def test_markers_helpers_and_signature_rules() -> None:
    assert repr(REQUIRED) == "REQUIRED"
    assert repr(Query(alias="q")) == "Query(alias='q')"
    assert repr(Depends(strip_optional)) == "Depends(strip_optional)"
    with pytest.raises(TypeError, match="takes a callable"):
        Depends(42)  # type: ignore[arg-type]
    assert isinstance(Query(), Param)
    assert strip_optional(int | str) == int | str
    assert strip_optional(int | None) is int
    assert not is_typed(len)  # a builtin: no signature to read
    assert not is_typed(lambda: None)

    async def keyword_only(*, request: Request) -> None: ...

    async def string_annotation(request: "Request") -> None: ...

    async def string_other(item: "Out") -> None: ...

    async def plain_any(request: Any) -> None: ...

    assert is_typed(keyword_only)
    assert not is_typed(string_annotation)
    assert is_typed(string_other)
    assert not is_typed(plain_any)


def test_a_handler_returning_a_response_subclass_annotation_is_untyped() -> None:
    async def handler(request: Request) -> Response | None:
        return Response(b"r")

    route = Route("/", handler)
    assert route.typed is None
    assert client(route).get("/").text == "r"


def test_an_ellipsis_default_means_required_as_in_fastapi() -> None:
    # ``Query(...)`` and ``= ...`` are FastAPI's "required": the Ellipsis was taken for a
    # default, so a request without the parameter called the handler with ``...`` (500).
    async def old_style(
        q: str = Query(..., min_length=3),
        token: Annotated[str, Header()] = ...,  # type: ignore[assignment]
        page: int = ...,  # type: ignore[assignment]
    ) -> dict:
        return {"q": q, "token": token, "page": page}

    async def body(item: Annotated[Out, Body(...)]) -> dict:
        return {"name": item.name}

    async def form(note: str = Form(...)) -> dict:
        return {"note": note}

    c = client(
        Route("/old", old_style),
        Route("/body", body, methods=["POST"]),
        Route("/form", form, methods=["POST"]),
    )
    r = c.get("/old")
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [
        ["query", "q"],
        ["query", "page"],
        ["header", "token"],
    ]
    r = c.get("/old?q=abc&page=2", headers={"token": "t"})
    assert r.json() == {"q": "abc", "token": "t", "page": 2}
    assert c.post("/body").json()["errors"][0]["loc"] == ["body"]
    assert c.post("/body", json={"name": "n"}).json() == {"name": "n"}
    assert c.post("/form").json()["errors"][0]["loc"] == ["form", "note"]
    assert c.post("/form", data={"note": "n"}).json() == {"note": "n"}
    doc = OpenAPI().document(App(routes=[Route("/old", old_style)]))
    parameters = doc["paths"]["/old"]["get"]["parameters"]
    assert [p.get("required", False) for p in parameters] == [True, True, True]
    assert all("default" not in p["schema"] for p in parameters)


class Pager:
    def __init__(self, q: str | None = None, skip: int = 0, limit: int = 100) -> None:
        self.q, self.skip, self.limit = q, skip, limit


def test_depends_without_a_dependency_calls_the_annotated_class() -> None:
    # FastAPI's shortcut for classes as dependencies: Depends() was a TypeError.
    async def listing(pager: Annotated[Pager, Depends()]) -> dict:
        return {"q": pager.q, "skip": pager.skip, "limit": pager.limit}

    async def old_style(pager: Pager = Depends()) -> dict:  # noqa: B008
        return {"skip": pager.skip}

    app = App(routes=[Route("/items", listing), Route("/old", old_style)])
    c = TestClient(app)
    assert c.get("/items?q=a&skip=2").json() == {"q": "a", "skip": 2, "limit": 100}
    assert c.get("/items?skip=x").json()["errors"][0]["loc"] == ["query", "skip"]
    assert c.get("/old?skip=4").json() == {"skip": 4}
    app.dependency_overrides[Pager] = lambda: Pager(skip=9)
    assert c.get("/old").json() == {"skip": 9}
    app.dependency_overrides.clear()

    async def unclear(pager: Annotated[list[int], Depends()]) -> None: ...

    with pytest.raises(TypeError, match=r"'pager'.*Depends\(\) without a dependency"):
        Route("/unclear", unclear)


def test_bytes_marked_file_is_the_uploaded_content() -> None:
    # FastAPI's first file example, file: Annotated[bytes, File()]: every upload was a
    # 422 ("Expected `bytes`, got `UploadFile`"), and OpenAPI showed a base64 string.
    async def upload(
        file: Annotated[bytes, File()],
        more: Annotated[list[bytes], File()] = [],  # noqa: B006
        maybe: Annotated[bytes | None, File()] = None,
        note: Annotated[str, Form()] = "",
    ) -> dict:
        return {"file": file.decode(), "more": [m.decode() for m in more], "maybe": maybe}

    app = App(routes=[Route("/upload", upload, methods=["POST"])], openapi=OpenAPI())
    c = TestClient(app)
    files = [("file", ("a.txt", b"abc")), ("more", ("b", b"1")), ("more", ("c", b"22"))]
    r = c.post("/upload", files=files, data={"note": "n"})
    assert r.json() == {"file": "abc", "more": ["1", "22"], "maybe": None}
    assert c.post("/upload", data={"file": "text"}).json()["file"] == "text"
    assert c.post("/upload").json()["errors"][0]["loc"] == ["form", "file"]
    body = c.get("/openapi.json").json()["paths"]["/upload"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    assert schema["properties"]["file"] == schema["properties"]["maybe"] == binary
    assert schema["properties"]["more"] == {"type": "array", "items": binary}
    assert schema["required"] == ["file"]


def test_a_path_type_its_converter_cannot_give_is_refused_when_the_route_is_built() -> None:
    # ``{item_id:int}`` gives an int: ``item_id: str`` was a 422 on every request.
    import datetime
    import uuid
    from typing import Literal

    def as_text(item_id: str) -> dict[str, Any]:
        return {}

    with pytest.raises(TypeError, match=r"annotated str, but the path's \{item_id:int\}"):
        Route("/items/{item_id:int}", as_text)

    async def ws(websocket: WebSocket, item_id: str) -> None: ...

    with pytest.raises(TypeError, match="gives an int: every request would be a 422 "):
        WebSocketRoute("/ws/{item_id:int}", ws)

    def as_uuid(item_id: uuid.UUID) -> dict[str, Any]:
        return {}

    def as_int(item_id: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
        return {}

    def as_day(item_id: datetime.datetime) -> dict[str, Any]:
        return {}

    with pytest.raises(TypeError, match=r"\{item_id:date\} gives a date"):
        Route("/items/{item_id:date}", as_day)
    with pytest.raises(TypeError, match=r"\{item_id:float\} gives a float"):
        Route("/items/{item_id:float}", as_int)
    with pytest.raises(TypeError, match=r"\{item_id:uuid\} gives a UUID"):
        Route("/items/{item_id:uuid}", as_text)

    # What a converter's values pass stays allowed, constraints and values aside.
    def as_float(item_id: float) -> dict[str, Any]:
        return {"id": item_id}

    def as_literal(item_id: Literal[1, 2]) -> dict[str, Any]:
        return {"id": item_id}

    def as_optional(item_id: int | None = None) -> dict[str, Any]:
        return {"id": item_id}

    Route("/items/{item_id:uuid}", as_uuid)
    Route("/items/{item_id}", as_uuid)
    Route("/items/{item_id:path}", as_text)
    app = App(
        routes=[
            Route("/f/{item_id:int}", as_float),
            Route("/l/{item_id:int}", as_literal),
            Route("/o/{item_id:int}", as_optional),
        ]
    )
    with TestClient(app) as client:
        assert client.get("/f/3").json() == {"id": 3.0}
        assert client.get("/l/2").json() == {"id": 2}
        assert client.get("/l/3").status_code == 422
        assert client.get("/o/4").json() == {"id": 4}
