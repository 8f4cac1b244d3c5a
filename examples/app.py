"""The example app: ``vivace run examples.app:app``, then open http://127.0.0.1:8000.

A small vivace.web app showing the pieces most apps need:

    GET  /                  an HTML page with a form (Jinja2 when installed)
    GET  /api/hello         JSON
    GET  /api/users/{id}    a path parameter (an int; anything else is a 404)
    POST /messages          a form post, answered with a redirect (303) back to the page
    GET  /events            server-sent events: a clock ticking once a second

Messages are stored in SQLite through vivace.db (the embedded default: a file
``example.sqlite3`` in the current directory; set ``VIVACE_EXAMPLE_DATABASE_URL`` to use
another database, e.g. ``postgresql://postgres@127.0.0.1/test``).
"""

from __future__ import annotations

import asyncio
import datetime
import html
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from vivace.db import Database
from vivace.web import (
    App,
    EventSourceResponse,
    HTMLResponse,
    RedirectResponse,
    Request,
    Route,
    ServerSentEvent,
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vivace</title>
<style>body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 3em auto; }}</style>
</head><body>
<h1>vivace is running</h1>
<p>Server time: <span id="clock">…</span></p>
<form method="post" action="/messages">
  <input name="text" placeholder="Leave a message" required maxlength="200">
  <button>Send</button>
</form>
<ul>{messages}</ul>
<p><a href="/api/hello">/api/hello</a> · <a href="/api/users/7">/api/users/7</a></p>
<script>
  new EventSource("/events").addEventListener("tick", (e) => {{
    document.getElementById("clock").textContent = JSON.parse(e.data).time;
  }});
</script>
</body></html>
"""


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
    # One Database per process, reachable from every request as request.state.db.
    url = os.environ.get("VIVACE_EXAMPLE_DATABASE_URL", "sqlite:///example.sqlite3")
    async with Database(url) as db:
        await db.execute(
            "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"
        )
        yield {"db": db}


async def home(request: Request) -> HTMLResponse:
    rows = await request.state.db.fetch_all("SELECT text FROM messages ORDER BY id DESC LIMIT 20")
    items = "".join(f"<li>{html.escape(row.text)}</li>" for row in reversed(rows))
    return HTMLResponse(PAGE.format(messages=items))


async def hello(request: Request) -> dict[str, str]:
    return {"message": "Hello, World!"}


async def user(request: Request) -> dict[str, Any]:
    return {"id": request.path_params["id"], "name": f"user {request.path_params['id']}"}


async def post_message(request: Request) -> RedirectResponse:
    form = await request.form()
    text = str(form.get("text", "")).strip()[:200]
    if text:
        await request.state.db.execute("INSERT INTO messages (text) VALUES (:text)", {"text": text})
    return RedirectResponse("/", status_code=303)


async def events(request: Request) -> EventSourceResponse:
    async def ticks() -> AsyncIterator[ServerSentEvent]:
        while True:
            now = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S UTC")
            yield ServerSentEvent({"time": now}, event="tick")
            await asyncio.sleep(1)

    return EventSourceResponse(ticks())


app = App(
    routes=[
        Route("/", home),
        Route("/api/hello", hello),
        Route("/api/users/{id:int}", user),
        Route("/messages", post_message, methods=["POST"]),
        Route("/events", events),
    ],
    lifespan=lifespan,
)
