"""The ``int`` path converter's bounds: int64 by default, ``{id:int(min=..,max=..)}``."""

from __future__ import annotations

import pytest

from vivace.client import WebSocketRejected
from vivace.testing import TestClient
from vivace.web import App, Mount, NoMatchFound, Request, Route, WebSocket, WebSocketRoute
from vivace.web._compiled_matcher import fits_int64
from vivace.web._converters import INT64_MAX, IntegerConverter
from vivace.web._paths import PathTemplate

BIG = "9" * 30


async def show(request: Request) -> dict[str, int]:
    return dict(request.path_params)


def _app() -> App:
    return App(
        routes=[
            # Whole-segment routes (generated matching code) and regex-matched ones.
            Route("/todos/{id:int}", show, name="todo"),
            Route("/pages/{n:int(min=1,max=100)}", show, name="page"),
            Route("/from/{n:int( min = 5 )}", show, name="from"),
            Route("/v{major:int(max=9)}.{minor:int}", show, name="version"),
            Route("/files/{rest:path}/{id:int}", show, name="file"),
            Mount("/orgs/{org:int(min=1)}", routes=[Route("/users/{id:int}", show, name="u")]),
        ]
    )


@pytest.mark.parametrize(
    ("path", "status", "params"),
    [
        ("/todos/0", 200, {"id": 0}),
        (f"/todos/{INT64_MAX}", 200, {"id": INT64_MAX}),
        (f"/todos/000{INT64_MAX}", 200, {"id": INT64_MAX}),
        (f"/todos/{INT64_MAX + 1}", 404, None),
        ("/todos/99999999999999999999999", 404, None),
        ("/todos/" + "9" * 5000, 404, None),  # past int()'s digit limit: still a 404
        ("/todos/" + "0" * 30 + "7", 200, {"id": 7}),
        ("/todos/" + "0" * 5000 + "7", 404, None),  # int() refuses 4300+ digits, zeros or not
        ("/todos/-1", 404, None),
        ("/todos/\u0661", 404, None),  # an Arabic-Indic digit
        ("/pages/0", 404, None),
        ("/pages/1", 200, {"n": 1}),
        ("/pages/100", 200, {"n": 100}),
        ("/pages/101", 404, None),
        (f"/pages/{BIG}", 404, None),
        ("/from/4", 404, None),
        ("/from/5", 200, {"n": 5}),
        (f"/from/{INT64_MAX + 1}", 404, None),
        ("/v9.1", 200, {"major": 9, "minor": 1}),
        ("/v10.1", 404, None),
        (f"/v1.{INT64_MAX + 1}", 404, None),
        ("/files/a/b/3", 200, {"rest": "a/b", "id": 3}),
        (f"/files/a/b/{BIG}", 404, None),
        ("/files/a/" + "9" * 5000, 404, None),
        ("/orgs/0/users/1", 404, None),
        ("/orgs/1/users/1", 200, {"org": 1, "id": 1}),
        (f"/orgs/1/users/{BIG}", 404, None),
    ],
)
def test_bounds_decide_the_match(path: str, status: int, params: dict[str, int] | None) -> None:
    response = TestClient(_app()).get(path)
    assert response.status_code == status
    if params is not None:
        assert response.json() == params


def test_bounds_with_a_websocket_route_and_middleware_free_app() -> None:
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(websocket.path_params)
        await websocket.close()

    app = App(routes=[WebSocketRoute("/ws/{id:int(max=10)}", ws)])
    with TestClient(app).websocket_connect("/ws/10") as session:
        assert session.receive_json() == {"id": 10}
    with pytest.raises(WebSocketRejected) as info, TestClient(app).websocket_connect("/ws/11"):
        pass
    assert info.value.response.status_code == 404


def test_url_path_for_respects_bounds() -> None:
    app = _app()
    assert app.url_path_for("page", n=7) == "/pages/7"
    assert app.url_path_for("todo", id=INT64_MAX) == f"/todos/{INT64_MAX}"
    for name, value in (("page", 0), ("page", 101), ("todo", INT64_MAX + 1), ("todo", -1)):
        key = "n" if name == "page" else "id"
        with pytest.raises(NoMatchFound):
            app.url_path_for(name, **{key: value})
    with pytest.raises(NoMatchFound):
        app.url_path_for("todo", id=True)
    with pytest.raises(NoMatchFound):
        app.url_path_for("todo", id="7")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("/{id:int(min=5,max=1)}", "min \\(5\\) is above max \\(1\\)"),
        ("/{id:int(min=-1)}", "min must be an int >= 0"),
        ("/{id:int(step=2)}", "takes min and max, not \\['step'\\]"),
        ("/{id:int(min=1,min=2)}", "given twice"),
        ("/{id:int(min)}", "malformed option 'min'"),
        ("/{id:int(min=one)}", "malformed option 'min=one'"),
        ("/{id:int(min=1,)}", "malformed option ''"),
        ("/{id:str(max=3)}", "StringConverter path converter takes no options"),
        ("/{id:int(min=1}", "malformed parameter"),
        ("/{id:int(min=(1))}", "malformed parameter"),
    ],
)
def test_bad_options_fail_when_the_route_is_built(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PathTemplate(template)


def test_converter_directly() -> None:
    converter = IntegerConverter()
    assert converter.min == 0
    assert converter.max == INT64_MAX
    assert converter.convert("12") == 12
    with pytest.raises(ValueError, match="is not within"):
        converter.convert(str(INT64_MAX + 1))
    with pytest.raises(ValueError, match="is not within"):
        converter.convert("1" * 10_000)
    wide = IntegerConverter(max=10**30)
    assert wide.convert(str(10**30)) == 10**30
    with pytest.raises(ValueError, match="max must be an int"):
        IntegerConverter(max=True)
    with pytest.raises(ValueError, match="min must be an int"):
        IntegerConverter(min=1.5)  # type: ignore[arg-type]
    narrowed = converter.with_options(max=9)
    assert (narrowed.min, narrowed.max) == (0, 9)
    assert narrowed.to_string(9) == "9"
    with pytest.raises(ValueError, match=r"within 0\.\.9"):
        narrowed.to_string(10)


def test_fits_int64() -> None:
    assert fits_int64("0")
    assert fits_int64(str(INT64_MAX))
    assert fits_int64("0" * 100 + str(INT64_MAX))
    assert not fits_int64(str(INT64_MAX + 1))
    assert not fits_int64("1" + "0" * 19)
    assert fits_int64("9" * 18)
