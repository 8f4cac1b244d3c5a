"""The docs UIs' pages and routes, without a browser: what the HTML holds, how hostile
values are kept in their place, URLs under a mount or ``root_path``, options."""

from __future__ import annotations

import base64
import hashlib
import json
from html.parser import HTMLParser
from typing import Any

import pytest

from vivace.testing import TestClient
from vivace.web import App, JSONResponse, Mount, Request, Route
from vivace.web.openapi import DocsUI, ReDoc, Scalar, SwaggerUI, docs_routes
from vivace.web.openapi._ui import check_url, url_origin


async def spec(request: Request) -> JSONResponse:
    return JSONResponse({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}})


def client(*routes: Any, root_path: str = "") -> TestClient:
    return TestClient(App(routes=[Route("/openapi.json", spec), *routes]), root_path=root_path)


class Page(HTMLParser):
    """The parts of a page the tests look at."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.title = ""
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.links: list[dict[str, str | None]] = []
        self._in: dict[str, str | None] | None = None
        self._in_title = False
        self._text = ""
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._in, self._text = dict(attrs), ""
        elif tag == "title":
            self._in_title = True
        elif tag == "link":
            self.links.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in is not None:
            self.scripts.append((self._in, self._text))
            self._in = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._text += data
        elif self._in_title:
            self.title += data

    @property
    def config(self) -> Any:
        [text] = [t for a, t in self.scripts if a.get("id") == "vivace-docs-config"]
        return json.loads(text)

    @property
    def inline(self) -> str:
        [text] = [t for a, t in self.scripts if "src" not in a and "id" not in a]
        return text


HOSTILE = "</script><script>alert(1)</script><!--\"'&amp;\u2028"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/scalar"])
def test_hostile_title_and_config_stay_data(path: str) -> None:
    routes = docs_routes(
        f"/openapi.json?q={HOSTILE.replace(' ', '')}",
        title=HOSTILE,
        swagger_ui=SwaggerUI(config={"x": HOSTILE}, init_oauth={"clientId": HOSTILE}),
        redoc=ReDoc(config={"x": HOSTILE}),
        scalar=Scalar(config={"x": HOSTILE}),
    )
    with client(*routes) as http:
        text = http.get(path).text
    page = Page(text)
    # The title is text; the scripts are exactly the page's own (no element came from a
    # value); the config block parses back to the values given.
    assert page.title.startswith(HOSTILE + " - ")
    assert len(page.scripts) == (2 if path == "/redoc" else 3)
    assert text.count("<script") == len(page.scripts)
    assert "alert(1)" not in page.inline
    found = json.dumps(page.config)
    assert json.dumps(HOSTILE)[1:-1] in found
    assert "</script" not in text.split('type="application/json">')[1].split("</script>")[0]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/scalar"])
def test_csp_allows_the_page_script_by_its_hash(path: str) -> None:
    with client(*docs_routes()) as http:
        response = http.get(path)
    csp = response.headers["content-security-policy"]
    digest = hashlib.sha256(Page(response.text).inline.encode()).digest()
    assert f"script-src 'self' 'sha256-{base64.b64encode(digest).decode()}'" in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert "font-src 'self' data:" in csp
    assert "unsafe" not in csp
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_default_routes_and_names() -> None:
    app = App(routes=docs_routes())
    assert [app.url_path_for(name) for name in ("swagger_ui", "redoc", "scalar")] == [
        "/docs",
        "/redoc",
        "/scalar",
    ]
    assert app.url_path_for("swagger_ui_oauth2_redirect") == "/docs/oauth2-redirect.html"
    assert all(not route.include_in_schema for route in app.routes)  # type: ignore[attr-defined]


def test_a_url_of_none_turns_a_ui_off() -> None:
    with client(*docs_routes(swagger_url=None, scalar_url=None)) as http:
        assert http.get("/docs").status_code == 404
        assert http.get("/docs/swagger-ui.css").status_code == 404
        assert http.get("/scalar").status_code == 404
        assert http.get("/redoc").status_code == 200
    assert docs_routes(swagger_url=None, redoc_url=None, scalar_url=None) == []


def test_paths_are_configurable_and_assets_follow() -> None:
    with client(*docs_routes(swagger_url="/api/ui/", redoc_url="/r", scalar_url="/")) as http:
        page = Page(http.get("/api/ui/").text)
        assert page.links[-1]["href"] == "/api/ui/swagger-ui.css?v=7eb9f5a125e4"
        assert http.get("/api/ui/swagger-ui.css").status_code == 200
        assert page.config["options"]["oauth2RedirectUrl"] == "/api/ui/oauth2-redirect.html"
        scalar = Page(http.get("/").text)
        assert scalar.scripts[0][0]["src"] == "/standalone.js?v=93951f1794b0"
        assert http.get("/standalone.js").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"swagger_url": "/docs", "redoc_url": "/docs/"}, "two docs UIs at one path"),
        ({"swagger_url": "docs"}, "fixed path starting with '/'"),
        ({"redoc_url": "/docs/{version}"}, "fixed path"),
        ({"openapi_url": "javascript:alert(1)"}, "path or an http"),
        ({"openapi_url": "data:application/json,{}"}, "path or an http"),
        ({"openapi_url": "http://host:99999/x"}, "not a valid port"),
        ({"favicon_url": "javascript:alert(1)"}, "path or an http"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        docs_routes(**kwargs)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "java\tscript:alert(1)",
        " javascript:alert(1)",
        "\x00javascript:alert(1)",
        "vbscript:msgbox(1)",
        "/path with space",
        "file:///etc/passwd",
        "/x\n",
    ],
)
def test_unsafe_urls(url: str) -> None:
    with pytest.raises(ValueError, match="must be a path or an http"):
        check_url(url, "openapi_url")


def test_safe_urls() -> None:
    for url in ["/openapi.json", "openapi.json", "../spec.json", "https://h/s.json", "//h/x"]:
        assert check_url(url, "openapi_url") == url
    assert check_url("data:,", "favicon_url", allow_data=True) == "data:,"
    assert url_origin("//h:8080/x") == "h:8080"
    assert url_origin("http://[::1]:9/x") == "http://[::1]:9"


def test_wrong_types_are_refused() -> None:
    with pytest.raises(TypeError, match="openapi_url must be a string"):
        docs_routes(b"/openapi.json")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="title must be a string"):
        docs_routes(title=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config must hold JSON values"):
        SwaggerUI(config={"requestInterceptor": lambda r: r})
    with pytest.raises(TypeError, match="config must hold JSON values"):
        Scalar(config={1: "int key"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="not a CSP source expression"):
        ReDoc(allow_origins=["https://a.example; script-src *"])
    with pytest.raises(ValueError, match="not a CSP source expression"):
        ReDoc(allow_origins=["https://a.example, https://b"])


def test_mounted_docs_use_the_mount_prefix() -> None:
    with client(Mount("/v1", routes=[Route("/openapi.json", spec), *docs_routes()])) as http:
        page = Page(http.get("/v1/docs").text)
        assert page.config["options"]["url"] == "/v1/openapi.json"
        assert page.links[-1]["href"] == "/v1/docs/swagger-ui.css?v=7eb9f5a125e4"
        assert http.get("/v1/openapi.json").status_code == 200
        redoc = Page(http.get("/v1/redoc").text)
        assert redoc.config["bundle"] == "/v1/redoc/redoc.standalone.js?v=8c70c2de83d3"


def test_root_path_prefixes_paths_not_full_urls() -> None:
    routes = docs_routes("https://specs.example/pets.json", favicon_url="/static/icon.png")
    with client(*routes, root_path="/my app") as http:
        page = Page(http.get("/docs").text)
        assert page.config["options"]["url"] == "https://specs.example/pets.json"
        assert page.links[0]["href"] == "/my%20app/static/icon.png"
        assert page.links[-1]["href"] == "/my%20app/docs/swagger-ui.css?v=7eb9f5a125e4"
        redoc = http.get("/redoc")
    # ReDoc may connect to the spec's origin, and nowhere else but the app.
    csp = redoc.headers["content-security-policy"]
    assert csp.endswith("; connect-src 'self' https://specs.example")
    assert "img-src 'self' data: blob:;" in csp


def test_pages_per_root_path_are_rendered_right_past_the_cache() -> None:
    app = App(routes=[Mount("/{tenant}", routes=docs_routes(redoc_url=None, scalar_url=None))])
    with TestClient(app) as http:
        for n in range(70):
            assert Page(http.get(f"/t{n}/docs").text).config["options"]["url"] == (
                f"/t{n}/openapi.json"
            )


def test_swagger_ui_options() -> None:
    ui = SwaggerUI(
        deep_linking=False,
        persist_authorization=True,
        oauth2_redirect=False,
        init_oauth={"clientId": "docs", "usePkceWithAuthorizationCodeGrant": True},
        config={"docExpansion": "none", "layout": "BaseLayout"},
    )
    with client(*docs_routes(swagger_ui=ui)) as http:
        config = Page(http.get("/docs").text).config
        assert http.get("/docs/oauth2-redirect.html").status_code == 404
    options = config["options"]
    assert options["deepLinking"] is False
    assert options["persistAuthorization"] is True
    assert "oauth2RedirectUrl" not in options
    assert options["docExpansion"] == "none"
    assert options["validatorUrl"] is None and options["queryConfigEnabled"] is False
    assert config["initOAuth"] == {"clientId": "docs", "usePkceWithAuthorizationCodeGrant": True}


def test_swagger_ui_oauth2_redirect_page_is_served() -> None:
    with client(*docs_routes()) as http:
        page = http.get("/docs/oauth2-redirect.html")
        script = http.get("/docs/oauth2-redirect.js")
    assert page.status_code == 200 and '<script src="oauth2-redirect.js">' in page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert script.status_code == 200 and "opener" in script.text


def test_redoc_and_scalar_defaults_keep_the_page_offline() -> None:
    with client(*docs_routes()) as http:
        redoc = Page(http.get("/redoc").text).config
        scalar = Page(http.get("/scalar").text).config["configuration"]
    assert redoc["options"] == {"disableTelemetry": True}
    assert redoc["specUrl"] == "/openapi.json"
    assert scalar == {
        "url": "/openapi.json",
        "withDefaultFonts": False,
        "telemetry": False,
        "showDeveloperTools": "never",
        "agent": {"disabled": True},
        "mcp": {"disabled": True},
        "hideClientButton": True,
    }


def test_user_config_wins() -> None:
    ui = Scalar(config={"telemetry": True, "theme": "moon"})
    config = ui.config("/s.json", {}, "/scalar")["configuration"]
    assert config["telemetry"] is True and config["theme"] == "moon"
    assert ReDoc(config={"disableTelemetry": False}).config("/s", {"redoc.standalone.js": ""}, "")[
        "options"
    ] == {"disableTelemetry": False}


def test_head_and_other_methods() -> None:
    with client(*docs_routes()) as http:
        head = http.head("/docs")
        get = http.get("/docs")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(get.content))
        assert http.post("/docs").status_code == 405
        assert http.delete("/docs/swagger-ui.css").status_code == 405


async def test_http_only() -> None:
    [page, asset, *_] = docs_routes(redoc_url=None, scalar_url=None)

    async def nothing(*args: Any) -> Any:
        raise AssertionError("not called")

    for route in (page, asset):
        with pytest.raises(RuntimeError, match="only serves HTTP"):
            await route.endpoint({"type": "websocket"}, nothing, nothing)  # type: ignore[attr-defined]


def test_a_huge_title_is_fine() -> None:
    title = "\x00<b>" * 100_000
    with client(*docs_routes(title=title, redoc_url=None, scalar_url=None)) as http:
        page = Page(http.get("/docs").text)
    assert page.title == title + " - Swagger UI"


def test_docs_ui_is_the_base_of_the_three() -> None:
    assert all(issubclass(ui, DocsUI) for ui in (SwaggerUI, ReDoc, Scalar))
    assert {ui.route_name for ui in (SwaggerUI, ReDoc, Scalar)} == {"swagger_ui", "redoc", "scalar"}
