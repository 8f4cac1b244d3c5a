"""The chat example: in-process, and across two server processes joined by Redis."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from vivace.client import Client, WebSocketDisconnect
from vivace.testing import TestClient

from .chat_servers import chat_servers

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.chat.app import app


def test_chat_in_process() -> None:
    with TestClient(app) as client:
        page = client.get("/")
        assert page.status_code == 200 and "new WebSocket" in page.text
        with client.websocket_connect("/ws/lobby") as a, client.websocket_connect("/ws/lobby") as b:
            assert a.receive_json()["type"] == "system"
            assert b.receive_json() == {"type": "system", "text": "welcome to lobby"}
            a.send_json({"user": " ada ", "text": "<b>hi</b>"})
            expected = {"type": "message", "user": "ada", "text": "<b>hi</b>"}
            assert a.receive_json() == expected
            assert b.receive_json() == expected


def test_chat_says_when_a_message_cannot_be_published(monkeypatch: pytest.MonkeyPatch) -> None:
    from examples.chat import app as chat_module

    from vivace.web import BroadcastError

    async def down(channel: str, message: str) -> None:
        raise BroadcastError("the connection to Redis is down (reconnecting for 1.0 s)")

    with TestClient(app) as client, client.websocket_connect("/ws/lobby") as ws:
        assert ws.receive_json()["type"] == "system"
        monkeypatch.setattr(chat_module.broadcast, "publish", down)
        ws.send_json({"user": "ada", "text": "hello?"})
        assert ws.receive_json() == {"type": "system", "text": "not sent: the chat is reconnecting"}
        monkeypatch.undo()
        ws.send_json({"user": "ada", "text": "back"})  # the connection is still open
        assert ws.receive_json()["text"] == "back"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([1], "send"),
        ({"user": 1, "text": "x"}, "strings"),
        ({"user": "ada", "text": " "}, "empty"),
        ({"user": "a" * 33, "text": "x"}, "too long"),
        ({"user": "ada", "text": "x" * 1001}, "too long"),
    ],
)
def test_chat_refuses_bad_messages(message: object, reason: str) -> None:
    with TestClient(app) as client, client.websocket_connect("/ws/lobby") as ws:
        ws.receive_json()
        ws.send_json(message)
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 1008 and reason in info.value.reason


def test_chat_room_name_limit() -> None:
    from vivace.client import WebSocketRejected

    with (
        TestClient(app) as client,
        pytest.raises(WebSocketRejected),
        client.websocket_connect("/ws/" + "r" * 65),
    ):
        pass


def test_chat_not_json_is_1007() -> None:
    with TestClient(app) as client, client.websocket_connect("/ws/lobby") as ws:
        ws.receive_json()
        ws.send_text("not json")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert info.value.code == 1007


@pytest.mark.slow
@pytest.mark.redis
async def test_broadcast_across_two_server_processes() -> None:
    """A message published through one server process reaches clients of the other."""
    with chat_servers(2) as (first, second):
        async with Client(timeout=10) as client:
            url_a = first.replace("http", "ws") + "/ws/room1"
            url_b = second.replace("http", "ws") + "/ws/room1"
            other = second.replace("http", "ws") + "/ws/room2"
            async with (
                client.websocket_connect(url_a) as a,
                client.websocket_connect(url_b) as b,
                client.websocket_connect(other) as c,
            ):
                for ws in (a, b, c):
                    assert (await ws.receive_json(timeout=10))["type"] == "system"
                await a.send_json({"user": "ada", "text": "hello from vivace 1"})
                for ws in (a, b):
                    message = await ws.receive_json(timeout=10)
                    assert message["text"] == "hello from vivace 1"
                await b.send_json({"user": "bob", "text": "and back"})
                for ws in (a, b):
                    assert (await ws.receive_json(timeout=10))["user"] == "bob"
                with pytest.raises(asyncio.TimeoutError):  # room2 heard nothing
                    await c.receive(timeout=0.3)
