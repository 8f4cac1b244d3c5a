"""The test clients drive a Django ASGI app (no lifespan support, sync views in threads,
CSRF-exempt POST, cookies, redirects, 404s)."""

from __future__ import annotations

import sys
import types

import django
import pytest
from django.conf import settings

from vivace.testing import AsyncTestClient, TestClient

urls = types.ModuleType("vivace_test_django_urls")
sys.modules[urls.__name__] = urls

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="vivace-tests-only",
        ROOT_URLCONF=urls.__name__,
        ALLOWED_HOSTS=["testserver"],
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.shortcuts import redirect  # noqa: E402
from django.urls import path  # noqa: E402


def hello(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "method": request.method,
            "host": request.get_host(),
            "q": request.GET.get("q"),
            "agent": request.headers.get("user-agent"),
            "cookie": request.COOKIES.get("flavour"),
        }
    )


def echo(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(request.POST.get("field", "") + ":" + request.body.decode()[:0])
    response.set_cookie("flavour", "chocolate")
    return response


def go(request: HttpRequest) -> HttpResponse:
    return redirect("/hello")


urls.urlpatterns = [path("hello", hello), path("echo", echo), path("go", go)]  # type: ignore[attr-defined]
application = get_asgi_application()


def test_django_with_sync_client() -> None:
    with TestClient(application) as client:  # Django has no lifespan: still works
        r = client.get("/hello", params={"q": "x"})
        assert r.status_code == 200
        assert r.json() == {
            "method": "GET",
            "host": "testserver",
            "q": "x",
            "agent": "testclient",
            "cookie": None,
        }
        r = client.post("/echo", data={"field": "v"})
        assert r.text == "v:"
        assert client.cookies["flavour"] == "chocolate"
        assert client.get("/hello").json()["cookie"] == "chocolate"
        r = client.get("/go")
        assert r.url.path == "/hello" and r.history[0].status_code == 302
        assert client.get("/missing").status_code == 404


def test_django_disallowed_host() -> None:
    client = TestClient(application, base_url="http://evil.example")
    assert client.get("/hello").status_code == 400
    client.close()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_django_with_async_client(method: str) -> None:
    async with AsyncTestClient(application) as client:
        r = await client.request(method, "/hello")
        assert r.status_code == 200
        if method == "GET":
            assert r.json()["method"] == "GET"
