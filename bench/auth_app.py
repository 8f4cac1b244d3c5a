"""The app of bench/auth.py: logins (argon2id) beside a cheap view, on vivace.

``BENCH_DB`` is the SQLite file holding the user ``ada`` (password ``pw``), made by
bench/auth.py. ``BENCH_HASHING`` is ``pool`` (vivace.auth: hashing on the password
pool, off the event loop), ``pool-same`` (the pool's threads at the loop's priority,
``Passwords(nice=0)``) or ``loop`` (the control: the same hash run on the event loop,
as a naive async app would).

Endpoints: ``GET /`` (the other requests: a small JSON answer, the session read
through ``request.user()`` skipped: no cookie) and ``POST /login`` (JSON username and
password: ``Auth.authenticate`` then ``Auth.login`` on a server-side session).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from vivace import orm
from vivace.auth import Argon2Hasher, Auth, AuthMiddleware, Passwords
from vivace.db import Database
from vivace.sessions import StoreSessionMiddleware
from vivace.stores import MemoryStore
from vivace.web import App, JSONResponse, Middleware, Request, Route

DB = os.environ.get("BENCH_DB", "bench-auth.sqlite3")
HASHING = os.environ.get("BENCH_HASHING", "pool")
SECRET = "bench-secret-key-bench-secret-key"


def hasher() -> Argon2Hasher:
    # vivace.auth's default: argon2id at OWASP's profile (19 MiB, 2 passes, 1 lane), what
    # an app gets; ~20 ms of CPU a hash on this machine.
    return Argon2Hasher()


class OnTheLoop(Passwords):
    """The control: the same work, run on the event loop (what vivace.auth avoids)."""

    async def hash(self, password: str) -> str:
        return self.hash_sync(password)

    async def verify(self, password: str, encoded: str | None) -> tuple[bool, bool]:
        return self.verify_sync(password, encoded)


if HASHING == "loop":
    passwords: Passwords = OnTheLoop([hasher()])
else:  # "pool": as shipped (threads nice +10); "pool-same": at the loop's priority
    passwords = Passwords([hasher()], nice=0 if HASHING == "pool-same" else 10)
auth = Auth(secret_key=SECRET, passwords=passwords)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    async with Database(f"sqlite:///{DB}") as database:
        orm.bind(database)
        yield


async def index(request: Request) -> Any:
    return JSONResponse({"ok": True, "items": list(range(20))})


async def login(request: Request) -> Any:
    data = await request.json()
    user = await auth.authenticate(data["username"], data["password"])
    if user is None:
        return JSONResponse({"error": "bad credentials"}, 400)
    await auth.login(request, user)
    return JSONResponse({"id": user.pk})


app = App(
    routes=[Route("/", index), Route("/login", login, methods=["POST"])],
    middleware=[
        Middleware(StoreSessionMiddleware, store=MemoryStore(), secret_key=SECRET),
        Middleware(AuthMiddleware, auth=auth),
    ],
    lifespan=lifespan,
)
