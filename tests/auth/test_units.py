"""The pieces without a database: key coercion, the lazy user, sessions of any kind."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from vivace.auth import SESSION_HASH_KEY, SESSION_KEY, AnonymousUser, Auth, LazyUser, User
from vivace.auth._core import _coerce_pk
from vivace.web import HTTPConnection
from vivace.web.middleware import AuthCredentials

from .conftest import SECRET, fast_passwords
from .models import CodeUser, UUIDUser


def conn(**scope: Any) -> HTTPConnection:
    return HTTPConnection({"type": "http", "path": "/", "headers": [], **scope})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        ("7", 7),
        (True, None),
        (0, None),
        (-3, None),
        (2**63, None),
        ("1" * 20, None),
        ("٣", None),
        ("7.0", None),
        (7.0, None),
        (None, None),
    ],
)
def test_integer_keys(value: Any, expected: Any) -> None:
    assert _coerce_pk(User, value) == expected


def test_uuid_and_string_keys() -> None:
    key = uuid.uuid4()
    assert _coerce_pk(UUIDUser, key) == key
    assert _coerce_pk(UUIDUser, str(key)) == key
    assert _coerce_pk(UUIDUser, "not a uuid") is None
    assert _coerce_pk(CodeUser, "ada") == "ada"
    assert _coerce_pk(CodeUser, ["ada"]) is None


def test_the_anonymous_user() -> None:
    anonymous = AnonymousUser()
    assert not anonymous.is_authenticated and anonymous.is_anonymous
    assert anonymous.display_name == "" and repr(anonymous) == "AnonymousUser()"
    assert anonymous == AnonymousUser() and anonymous != object()
    assert hash(anonymous) == hash(AnonymousUser())
    assert not anonymous.is_active and not anonymous.is_superuser


async def test_the_lazy_user_before_and_after_loading() -> None:
    auth = Auth(secret_key=SECRET, passwords=fast_passwords())
    connection = conn()  # no scope["auth"]: the loader keeps its own credentials
    loader = LazyUser(auth, [], connection)
    assert not loader.loaded and loader.scopes == [] and loader.identity is None
    assert not loader.is_authenticated and loader.auth is auth
    assert await loader() == AnonymousUser()
    assert loader.loaded and repr(loader) == "LazyUser(AnonymousUser())"
    user = User(id=5, username="ada")
    loader.set(user, ["authenticated", "x"])
    assert loader.is_authenticated and loader.identity == "5" and loader.scopes[1] == "x"
    assert await loader() is user
    assert "auth" not in connection.scope
    anonymous = LazyUser(auth, [], conn(headers=[(b"authorization", b"Bearer x")]))
    assert anonymous.is_authenticated  # not loaded: maybe (a cache must skip it)
    await anonymous()
    assert not anonymous.is_authenticated and anonymous.identity is None
    logged_in = LazyUser(auth, [], conn(session={SESSION_KEY: "5"}))
    assert logged_in.is_authenticated and logged_in.identity is None
    assert not LazyUser(auth, [], conn(session={"cart": 1})).is_authenticated
    shared = conn(auth=AuthCredentials())
    LazyUser(auth, [], shared).set(user, ["y"])
    assert shared.scope["auth"].scopes == ["y"]


async def test_login_on_a_cookie_session_and_without_auth_middleware(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = Auth(secret_key=SECRET, passwords=fast_passwords())
    user = User(id=5, username="ada", password="pbkdf2_sha256$1$a$b")

    async def no_save(**options: Any) -> None:
        return None

    monkeypatch.setattr(user, "save", no_save)
    session: dict[str, Any] = {"cart": 1}  # the signed-cookie SessionMiddleware's plain dict
    connection = conn(session=session)
    await auth.login(connection, user)
    assert session[SESSION_KEY] == "5" and session[SESSION_HASH_KEY] == auth.session_hash(user)
    assert session["cart"] == 1 and user.last_login is not None
    await auth.logout(connection)
    assert session == {}
    assert await auth.session_user(conn()) is None  # no session at all
    assert await auth.session_user(conn(session={})) is None


async def test_change_password_keeps_only_its_own_session(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = Auth(secret_key=SECRET, passwords=fast_passwords())
    user = User(id=5, username="ada", password=fast_passwords().hash_sync("old"))

    async def no_save(**options: Any) -> None:
        return None

    monkeypatch.setattr(user, "save", no_save)
    others = {SESSION_KEY: "6", SESSION_HASH_KEY: "h"}  # an admin changing ada's password
    assert await auth.change_password(user, "old", "new", conn(session=others))
    assert others == {SESSION_KEY: "6", SESSION_HASH_KEY: "h"}
