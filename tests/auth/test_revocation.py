"""A new password revokes the user's bearer tokens; deleting a user removes its links.

JWTs and opaque tokens (in memory, database and Redis stores) issued before a password
change, reset or ``set_password`` are refused afterwards, on every database backend,
and also when the change happens in another process. ``Auth.delete_user`` (and
``user.delete()``) takes the group and permission links with the user, and a new user
given the same key inherits neither them nor the old user's tokens.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from vivace.auth import (
    Auth,
    Group,
    InvalidToken,
    JWTBackend,
    Permission,
    TokenBackend,
    UserGroup,
    UserPermission,
    create_permissions,
)
from vivace.db import Database
from vivace.stores import DatabaseStore, Store
from vivace.web import HTTPConnection

from .conftest import SECRET, fast_passwords, memory_store, redis_store

pytestmark = pytest.mark.asyncio(loop_scope="package")

JWT_KEY = "revocation-signing-key-" + "r" * 41
ROOT = Path(__file__).resolve().parents[2]


def bearer(token: str) -> HTTPConnection:
    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]}
    return HTTPConnection(scope)


async def refusal(backend: Any, token: str) -> str | None:
    """None when ``backend`` authenticates the token, else the 401's detail."""
    try:
        found = await backend.authenticate(bearer(token))
    except InvalidToken as exc:
        return str(exc.detail)
    assert found is not None
    return None


@contextlib.asynccontextmanager
async def database_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = DatabaseStore(f"sqlite:///{tmp_path / 'tokens.db'}")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


STORES = ["memory", "database", "redis"]


@contextlib.asynccontextmanager
async def open_token_store(kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    opener = {"memory": memory_store, "redis": redis_store}.get(kind)
    async with opener() if opener is not None else database_store(tmp_path) as store:
        yield store


@pytest.mark.redis
@pytest.mark.parametrize("store_kind", STORES)
async def test_a_new_password_revokes_every_token(
    auth: Auth, store_kind: str, tmp_path: Path
) -> None:
    ada = await auth.create_user("ada", "pw")
    grace = await auth.create_user("grace", "pw")
    jwts = JWTBackend(auth, JWT_KEY)
    async with open_token_store(store_kind, tmp_path) as store:
        opaque = TokenBackend(auth, store)
        for change in ("change_password", "set_password", "reset_password"):
            old_jwt, old_opaque = jwts.issue(ada), await opaque.issue(ada)
            others = jwts.issue(grace), await opaque.issue(grace)
            assert await refusal(jwts, old_jwt) is None
            assert await refusal(opaque, old_opaque) is None
            if change == "change_password":
                assert await auth.change_password(ada, "pw", "pw2")
            elif change == "set_password":
                await auth.set_password(ada, "pw")
            else:
                reset = await auth.reset_password(auth.make_reset_token(ada), "pw2")
                assert reset is not None
                ada = reset
            assert await refusal(jwts, old_jwt) == "token revoked"
            assert await refusal(opaque, old_opaque) == "token revoked"
            # A revoked opaque token's entry is dropped from the store.
            assert await store.get(TokenBackend._key(old_opaque)) is None
            # Other users' tokens, and tokens issued after the change, still work.
            assert await refusal(jwts, others[0]) is None
            assert await refusal(opaque, others[1]) is None
            assert await refusal(jwts, jwts.issue(ada)) is None
            assert await refusal(opaque, await opaque.issue(ada)) is None
        # An unusable password is a change too.
        last = jwts.issue(ada)
        await auth.set_password(ada, None)
        assert await refusal(jwts, last) == "token revoked"


async def test_a_token_without_the_stamp_or_with_a_forged_one(auth: Auth) -> None:
    ada = await auth.create_user("ada", "pw")
    backend = JWTBackend(auth, JWT_KEY)
    claims = jwt.decode(backend.issue(ada), JWT_KEY, algorithms=["HS256"])
    assert len(claims["stamp"]) == 32 and ada.password not in claims.values()
    for stamp in (None, "", 5, "x" * 32, "é" * 32, claims["stamp"].upper()):
        forged = dict(claims)
        if stamp is None:
            del forged["stamp"]
        else:
            forged["stamp"] = stamp
        assert await refusal(backend, jwt.encode(forged, JWT_KEY, "HS256")) == "token revoked"
    # A stamp is keyed by the secret: another app's secret gives another stamp.
    other = Auth(secret_key="another-secret", passwords=fast_passwords())
    assert other.token_stamp(ada) != auth.token_stamp(ada)
    # Tokens of another issuer carry no stamp: accepted when the claim is turned off.
    foreign = JWTBackend(auth, JWT_KEY, stamp_claim=None)
    del claims["stamp"]
    token = jwt.encode(claims, JWT_KEY, "HS256")
    assert await refusal(foreign, token) is None
    assert "stamp" not in foreign.decode(foreign.issue(ada))
    # The stamp needs the secret, like session hashes.
    with pytest.raises(RuntimeError, match="secret_key"):
        Auth(passwords=fast_passwords()).token_stamp(ada)


async def test_an_opaque_entry_without_a_stamp_is_refused(auth: Auth) -> None:
    ada = await auth.create_user("ada", "pw")
    async with memory_store() as store:
        backend = TokenBackend(auth, store)
        token = "vt_" + uuid.uuid4().hex
        entry = b'{"user": "%d", "scopes": []}' % ada.pk
        await backend.store.set(TokenBackend._key(token), entry, ttl=60)
        assert await refusal(backend, token) == "invalid token"


# -- across processes -------------------------------------------------------------------

CHANGE_PASSWORD = """
import asyncio, sys
from vivace.auth import Argon2Hasher, Auth, Passwords, PBKDF2Hasher
from vivace.db import Database

async def main(url, username):
    passwords = Passwords([Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),
                           PBKDF2Hasher(iterations=1000)])
    async with Database(url) as db:
        auth = Auth(secret_key=sys.argv[3], passwords=passwords, using=db)
        user = await auth.user_model.objects.using(db).get(username=username)
        assert await auth.change_password(user, "pw", "changed elsewhere")

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.redis
async def test_a_password_changed_in_another_process(auth_database: Database) -> None:
    # Committed rows (not the rolled-back `db` fixture): the other process must see them.
    auth = Auth(secret_key=SECRET, passwords=fast_passwords(), using=auth_database)
    username = f"ada-{uuid.uuid4().hex[:8]}"
    ada = await auth.create_user(username, "pw")
    try:
        async with redis_store() as store:
            jwts, opaque = JWTBackend(auth, JWT_KEY), TokenBackend(auth, store)
            tokens = [(jwts, jwts.issue(ada)), (opaque, await opaque.issue(ada))]
            for backend, token in tokens:
                assert await refusal(backend, token) is None
            script = textwrap.dedent(CHANGE_PASSWORD)
            done = subprocess.run(
                [sys.executable, "-c", script, str(auth_database.url), username, SECRET],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=ROOT,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            for backend, token in tokens:
                assert await refusal(backend, token) == "token revoked"
            assert await auth.authenticate(username, "changed elsewhere") is not None
    finally:
        await auth.delete_user(ada)


# -- deleting a user ----------------------------------------------------------------------


async def links_of(user_pk: Any) -> tuple[int, int]:
    groups = await UserGroup.objects.filter(user_id=user_pk).count()
    permissions = await UserPermission.objects.filter(user_id=user_pk).count()
    return groups, permissions


async def test_delete_user_removes_its_links(auth: Auth) -> None:
    await create_permissions(auth.user_model)
    editors = await Group.objects.create(name="editors")
    await editors.permissions.add(await Permission.objects.get(codename="view_auth_user"))
    ada = await auth.create_user("ada", "pw")
    grace = await auth.create_user("grace", "pw")
    for user in (ada, grace):
        await auth.add_to_group(user, editors)
        await auth.grant(user, "change_auth_user")
    token = JWTBackend(auth, JWT_KEY).issue(ada)
    ada_pk = ada.pk
    assert await links_of(ada_pk) == (1, 1)
    await auth.delete_user(ada)
    assert await links_of(ada_pk) == (0, 0)
    assert await auth.user_model.objects.filter(pk=ada_pk).count() == 0
    # Nothing of anyone else's went with it.
    assert await links_of(grace.pk) == (1, 1)
    assert await auth.get_permissions(grace) == {"view_auth_user", "change_auth_user"}
    assert await Group.objects.filter(name="editors").count() == 1
    # The token of a deleted user is refused.
    assert await refusal(JWTBackend(auth, JWT_KEY), token) == "invalid token"
    # A user that was never saved cannot be deleted; nothing else is touched.
    with pytest.raises(ValueError, match="primary key is None"):
        await auth.delete_user(auth.user_model(username="ghost"))
    assert await links_of(grace.pk) == (1, 1)


async def test_a_reused_key_inherits_nothing(auth: Auth, backend: str) -> None:
    # SQLite gives a new row the largest key + 1, so deleting the newest user frees its
    # key for the next one: the links and tokens of the old user must not pass over.
    await create_permissions(auth.user_model)
    ada = await auth.create_user("ada", "pw")
    await auth.grant(ada, "delete_auth_user")
    jwts = JWTBackend(auth, JWT_KEY)
    old = jwts.issue(ada)
    await auth.delete_user(ada)
    eve = await auth.create_user("eve", "pw")
    reused = eve.pk == ada.pk
    assert reused or backend != "sqlite"
    assert await auth.get_permissions(eve) == set()
    assert await refusal(jwts, old) == ("token revoked" if reused else "invalid token")
