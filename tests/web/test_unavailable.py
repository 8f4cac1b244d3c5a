"""A database or store that is down: 503 with Retry-After and one log line (issue 20)."""

from __future__ import annotations

import logging

import pytest

from vivace.db import ConnectionLost, OperationalError, PoolTimeout
from vivace.stores import StoreUnavailable
from vivace.testing import TestClient
from vivace.web import App, PlainTextResponse, Request, Route


def raising(exc: Exception) -> App:
    async def handler(request: Request) -> str:
        raise exc

    return App(routes=[Route("/", handler)])


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionLost("connection to PostgreSQL lost: terminated", sql="SELECT 1"),
        PoolTimeout("no connection in 5 s"),
        StoreUnavailable("Redis at 127.0.0.1:6379 refused the connection"),
    ],
)
def test_unavailable_service_gets_503_and_one_log_line(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), TestClient(raising(exc)) as client:
        response = client.get("/")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.text == "Service Unavailable"
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1 and records[0].exc_info is None
    assert f"503 for GET /: {type(exc).__name__}" in records[0].getMessage()


def test_other_operational_errors_stay_500() -> None:
    with TestClient(raising(OperationalError("timeout")), raise_server_exceptions=False) as c:
        assert c.get("/").status_code == 500


def test_a_registered_handler_wins() -> None:
    app = raising(ConnectionLost("lost"))

    async def mine(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("maintenance", 503, {"retry-after": "60"})

    app.add_exception_handler(ConnectionLost, mine)
    with TestClient(app) as client:
        response = client.get("/")
    assert (response.status_code, response.text, response.headers["retry-after"]) == (
        503,
        "maintenance",
        "60",
    )


def test_the_attribute_must_be_true_not_merely_present() -> None:
    class Odd(Exception):
        service_unavailable = "yes"

    with TestClient(raising(Odd()), raise_server_exceptions=False) as client:
        assert client.get("/").status_code == 500


def test_the_503_looks_like_the_apps_other_errors() -> None:
    app = raising(ConnectionLost("lost"))
    app = App(routes=list(app.routes), json_errors=True)
    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 503 and response.headers["retry-after"] == "1"
