"""The README's example app works."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vivace.testing import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.app import app


def test_example_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIVACE_EXAMPLE_DATABASE_URL", f"sqlite:///{tmp_path / 'example.db'}")
    with TestClient(app, follow_redirects=False) as client:
        page = client.get("/")
        assert page.status_code == 200 and "vivace is running" in page.text
        assert client.get("/api/hello").json() == {"message": "Hello, World!"}
        assert client.get("/api/users/7").json() == {"id": 7, "name": "user 7"}
        assert client.get("/api/users/x").status_code == 404
        r = client.post("/messages", data={"text": "<b>hi</b>"})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "<li>&lt;b&gt;hi&lt;/b&gt;</li>" in client.get("/").text
        assert client.post("/messages", data={"text": "  "}).status_code == 303
        with client.stream("GET", "/events") as events:
            for line in events.iter_lines():
                if line.startswith("data:"):
                    assert '"time"' in line
                    break


def test_example_messages_survive_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Messages live in SQLite, not in the process: a second app start still shows them.
    monkeypatch.setenv("VIVACE_EXAMPLE_DATABASE_URL", f"sqlite:///{tmp_path / 'example.db'}")
    with TestClient(app, follow_redirects=False) as client:
        assert client.post("/messages", data={"text": "kept"}).status_code == 303
    with TestClient(app) as client:
        assert "<li>kept</li>" in client.get("/").text
    assert (tmp_path / "example.db").exists()
