"""The docs UIs in headless Chromium, offline: an app serving a static OpenAPI 3.1 spec
(petstore.json) and the three UIs, each page opened in the browser with every request it
makes intercepted.

Interception is the DevTools Fetch domain enabled on the browser target, so it sees the
requests of every page, worker and frame: those to the test server (127.0.0.1) go on,
any other is failed and listed, and the test fails naming them (a font, a CDN, telemetry).
What the page's Content-Security-Policy stopped before it became a request is recorded
too (``securitypolicyviolation`` events) and must be exactly what the UI is known to try.
Then the operations the UI rendered are read back from the page (method, path, summary)
and compared with the spec's.

Chromium comes from Debian; ``scripts/test`` installs it when it may (see
tests/examples/test_chat_browser.py), otherwise these tests are skipped with that reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.examples.cdp import DevTools, Page, browser, chromium_path
from tests.server.conftest import serve
from vivace.web import App, FileResponse, Request, Route
from vivace.web.openapi import SwaggerUI, docs_routes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        chromium_path() is None,
        reason="chromium is not installed (apt-get install -y chromium, or run scripts/test)",
    ),
]

SPEC_PATH = Path(__file__).with_name("petstore.json")
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def spec_operations() -> list[tuple[str, str, str]]:
    spec = json.loads(SPEC_PATH.read_text())
    return sorted(
        (method.upper(), path, operation["summary"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    )


async def openapi(request: Request) -> FileResponse:
    return FileResponse(SPEC_PATH, media_type="application/json")


def make_app(**options: Any) -> App:
    options.setdefault("title", "Pet store")
    return App(routes=[Route("/openapi.json", openapi), *docs_routes("/openapi.json", **options)])


class LocalOnly:
    """Every request of the browser, paused: to 127.0.0.1 continued, anywhere else failed."""

    def __init__(self, devtools: DevTools) -> None:
        self.devtools = devtools
        self.local: list[str] = []
        self.outside: list[str] = []
        self.answers: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self.devtools.on("Fetch.requestPaused", self._paused)
        await self.devtools.call("Fetch.enable", patterns=[{"urlPattern": "*"}])

    def _paused(self, params: dict[str, Any], session: str | None) -> None:
        url = params["request"]["url"]
        request = params["requestId"]
        if urlsplit(url).hostname == "127.0.0.1":
            self.local.append(url)
            answer = self.devtools.call("Fetch.continueRequest", session, requestId=request)
        else:
            self.outside.append(f"{params.get('resourceType')} {url}")
            answer = self.devtools.call(
                "Fetch.failRequest", session, requestId=request, errorReason="BlockedByClient"
            )
        # The reader calls this; the answer waits on the reader, so it runs as a task.
        task = asyncio.ensure_future(answer)
        self.answers.add(task)
        task.add_done_callback(self.answers.discard)

    async def stop(self) -> None:
        """Stop pausing requests; wait for the answers to those that were paused."""
        await self.devtools.call("Fetch.disable")
        await asyncio.gather(*self.answers)


# Recorded before any script of the page runs: what the page's CSP refused.
RECORD_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push([e.effectiveDirective, e.blockedURI]);
});
"""

# In-page waits below have their own deadline and throw when it passes.
SETTLE = """
const settle = async (test, what) => {
  const end = Date.now() + 10000;
  while (!test()) {
    if (Date.now() > end) { throw new Error("timed out waiting for " + what); }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};
"""

SWAGGER_READY = "document.querySelectorAll('.opblock').length > 0"
SWAGGER_READ = """
[...document.querySelectorAll(".opblock")].map((op) => [
  op.querySelector(".opblock-summary-method").textContent.trim().toUpperCase(),
  op.querySelector("[data-path]").getAttribute("data-path"),
  op.querySelector(".opblock-summary-description").textContent.trim(),
])
"""

# ReDoc 3 shows one tag's operations at a time: open each tag from the menu, read its
# operation list (method and path) and the menu's entries (summary), joined by link.
REDOC_READY = (
    "document.querySelector('[data-component-name=\"Menu/MenuItem\"].menu-item-type-group')"
)
REDOC_READ = (
    "(async () => {"
    + SETTLE
    + """
  const routes = new Map();
  const summaries = new Map();
  const item = '[data-component-name="Menu/MenuItem"]';
  for (const group of document.querySelectorAll(item + ".menu-item-type-group > a")) {
    const tag = group.getAttribute("href");
    group.click();
    await settle(() => document.querySelector(`a[href^="${tag}/"] > button`), tag);
    const entries = item + `.menu-item-type-operation > a[href^="${tag}/"]`;
    await settle(() => document.querySelector(entries), "the menu of " + tag);
    for (const button of document.querySelectorAll('a[href^="#/"] > button')) {
      const method = button.querySelector('[data-component-name="Tag/Tag"]');
      routes.set(button.parentElement.getAttribute("href"),
                 [method.textContent.trim().toUpperCase(), method.nextElementSibling.textContent]);
    }
    for (const entry of document.querySelectorAll(item + ".menu-item-type-operation > a")) {
      summaries.set(entry.getAttribute("href"),
                    entry.querySelector("[data-text]").getAttribute("data-text"));
    }
  }
  return [...routes].map(([link, [method, path]]) => [method, path, summaries.get(link)]);
})()"""
)

# Scalar renders a tag's operations card when the tag is opened from the sidebar.
SCALAR_READY = "document.querySelector('aside a[href^=\"#tag/\"]')"
SCALAR_READ = (
    "(async () => {"
    + SETTLE
    + """
  const routes = new Map();
  const tags = [...document.querySelectorAll('aside a[href^="#tag/"]')]
    .map((a) => a.getAttribute("href")).filter((href) => href.split("/").length === 2);
  for (const tag of tags) {
    document.querySelector(`aside a[href="${tag}"]`).click();
    await settle(() => document.querySelector(`.endpoints-card a.endpoint[href^="${tag}/"]`), tag);
    for (const endpoint of document.querySelectorAll(".endpoints-card a.endpoint")) {
      routes.set(endpoint.getAttribute("href"), [
        endpoint.querySelector(".endpoint-method").textContent.trim().toUpperCase(),
        endpoint.querySelector(".endpoint-path").textContent.trim(),
      ]);
    }
  }
  const summaries = new Map([...document.querySelectorAll('aside a[href^="#tag/"]')].map(
    (a) => [a.getAttribute("href"), a.textContent.split("HTTP Method:")[0].trim()]));
  return [...routes].map(([link, [method, path]]) => [method, path, summaries.get(link)]);
})()"""
)


async def open_page(devtools: DevTools, url: str) -> Page:
    page = await devtools.open()
    await devtools.call(
        "Emulation.setDeviceMetricsOverride",
        page.session,
        width=1280,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    await devtools.call("Page.enable", page.session)
    await devtools.call("Page.addScriptToEvaluateOnNewDocument", page.session, source=RECORD_CSP)
    await page.navigate(url)
    return page


@dataclasses.dataclass
class Rendered:
    operations: list[tuple[str, ...]]  # (method, path, summary), sorted
    guard: LocalOnly
    refused: set[tuple[str, ...]]  # (CSP directive, what it refused)
    values: dict[str, Any]  # the extra expressions, evaluated at the end


async def rendered(
    tmp_path: Path, app: App, path: str, ready: str, read: str, **extra: str
) -> Rendered:
    """Open ``path`` of ``app`` in Chromium and read the page back."""
    with serve(app) as server:
        async with browser(tmp_path / "profile") as devtools:
            guard = LocalOnly(devtools)
            await guard.start()
            page = await open_page(devtools, server.url + path)
            await page.wait_for(ready, timeout=20)
            operations = sorted(tuple(op) for op in await page.evaluate(read))
            refused = {tuple(v) for v in await page.evaluate("window.__csp")}
            values = {name: await page.evaluate(expr) for name, expr in extra.items()}
            await guard.stop()
    return Rendered(operations, guard, refused, values)


def assert_offline(guard: LocalOnly, path: str) -> None:
    assert not guard.outside, "requests that left 127.0.0.1:\n" + "\n".join(guard.outside)
    # The page, its files and the spec, all from the test server.
    assert any(urlsplit(url).path == path for url in guard.local)
    assert any(urlsplit(url).path == "/openapi.json" for url in guard.local)


async def test_swagger_ui_renders_the_spec_offline(tmp_path: Path) -> None:
    page = await rendered(tmp_path, make_app(), "/docs", SWAGGER_READY, SWAGGER_READ)
    assert_offline(page.guard, "/docs")
    assert page.refused == set()
    assert page.operations == spec_operations()


async def test_redoc_renders_the_spec_offline(tmp_path: Path) -> None:
    page = await rendered(tmp_path, make_app(), "/redoc", REDOC_READY, REDOC_READ)
    assert_offline(page.guard, "/redoc")
    # What ReDoc 3 may try (depending on timing) that the page's CSP stops: its search's
    # test for eval (it then searches without a worker) and Redocly's logo from their CDN
    # (so never requested). Nothing else.
    assert page.refused <= {
        ("script-src", "eval"),
        ("img-src", "https://cdn.redoc.ly/redoc/logo-mini-full.svg"),
        ("img-src", "https://cdn.redoc.ly/redoc/logo-mini.svg"),
    }
    assert page.operations == spec_operations()


async def test_scalar_renders_the_spec_offline(tmp_path: Path) -> None:
    page = await rendered(
        tmp_path,
        make_app(),
        "/scalar",
        SCALAR_READY,
        SCALAR_READ,
        hosted="document.querySelectorAll('a[href*=\"scalar.com\"]').length",
    )
    assert_offline(page.guard, "/scalar")
    # Zod's test for eval, if it ran yet (it then validates without compiling).
    assert page.refused <= {("script-src", "eval")}
    assert page.operations == spec_operations()
    # "Open API Client" (client.scalar.com) is off; "Powered by Scalar" stays.
    assert page.values["hosted"] == 1


async def test_hostile_title_spec_url_and_config_stay_text(tmp_path: Path) -> None:
    title = "</title><script>window.__pwned = 1</script>"
    app = App(
        routes=[
            Route("/openapi.json", openapi),
            *docs_routes(
                '/openapi.json?x="></script><script>window.__pwned=2</script>',
                title=title,
                swagger_ui=SwaggerUI(config={"x-note": "</script><script>window.__pwned = 3"}),
                redoc_url=None,
                scalar_url=None,
            ),
        ]
    )
    page = await rendered(
        tmp_path,
        app,
        "/docs",
        SWAGGER_READY,
        SWAGGER_READ,
        pwned="typeof window.__pwned",
        title="document.title",
        scripts="document.scripts.length",
    )
    assert page.operations == spec_operations()  # the spec loaded from the hostile URL
    assert_offline(page.guard, "/docs")
    assert page.refused == set()  # nothing even tried to run
    assert page.values == {"pwned": "undefined", "title": f"{title} - Swagger UI", "scripts": 3}
