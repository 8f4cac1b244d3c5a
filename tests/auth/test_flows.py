"""``Auth`` against real databases: users, authentication with hash upgrade, throttling,
password change and reset tokens, groups and permissions, a replaced user model."""

from __future__ import annotations

import types
from typing import Any

import pytest

from vivace.auth import (
    AbstractUser,
    AnonymousUser,
    Auth,
    Group,
    Permission,
    User,
    _core,
    create_permissions,
    permission_codename,
)
from vivace.db import Database
from vivace.ratelimit import RateLimiter, RateLimitExceeded
from vivace.web.middleware import _signing

from .conftest import SECRET, fast_passwords, memory_store, redis_store
from .models import Member
from .test_hashers import django_pbkdf2

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_create_and_authenticate(auth: Auth) -> None:
    ada = await auth.create_user("ada", "correct horse", email="ada@example.com")
    assert ada.password.startswith("argon2$argon2id$") and "correct" not in repr(ada)
    assert repr(ada) == f"<User {ada.pk}: 'ada'>" and ada.identity == str(ada.pk)
    assert ada.is_authenticated and not ada.is_anonymous and ada.display_name == "ada"
    found = await auth.authenticate("ada", "correct horse")
    assert found is not None and found.pk == ada.pk
    assert await auth.authenticate("ada", "wrong") is None
    assert await auth.authenticate("nobody", "correct horse") is None
    assert await auth.authenticate("", "correct horse") is None
    assert await auth.authenticate(None, "x") is None  # type: ignore[arg-type]
    assert await auth.authenticate("ada", 1234) is None  # type: ignore[arg-type]
    assert await auth.authenticate("ada", "x" * 100_000) is None
    assert await auth.authenticate("ada\x00", "correct horse") is None
    ada.is_active = False
    await ada.save()
    assert await auth.authenticate("ada", "correct horse") is None
    assert await auth.get_user(ada.pk) is None
    assert await auth.get_user("not a number") is None


async def test_a_user_needs_a_username(auth: Auth) -> None:
    # As Django's create_user: an empty username was stored (SQLite, PostgreSQL, MySQL).
    for empty in ("", None):
        with pytest.raises(ValueError, match="username must be set"):
            await auth.create_user(empty, "pw")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="username must be set"):
        await auth.create_superuser("", "pw")
    assert await User.objects.count() == 0


async def test_unusable_passwords_and_superusers(auth: Auth) -> None:
    bot = await auth.create_user("bot")
    assert bot.password.startswith("!")
    assert await auth.authenticate("bot", "") is None
    assert await auth.authenticate("bot", bot.password) is None
    root = await auth.create_superuser("root", "pw")
    assert root.is_superuser and root.is_staff


async def test_a_django_pbkdf2_hash_verifies_and_is_upgraded_to_argon2(auth: Auth) -> None:
    django_hash = django_pbkdf2("from django", "q9SHMlplvCVWM1MfJGlKQR", 1000)
    await User.objects.create(username="grace", password=django_hash)
    assert await auth.authenticate("grace", "wrong") is None
    assert (await User.objects.get(username="grace")).password == django_hash  # untouched
    user = await auth.authenticate("grace", "from django")
    assert user is not None
    stored = (await User.objects.get(username="grace")).password
    assert stored.startswith("argon2$argon2id$") and stored == user.password
    assert await auth.authenticate("grace", "from django") is not None
    assert (await User.objects.get(username="grace")).password == stored  # current: kept


async def test_weaker_argon2_parameters_are_upgraded(auth: Auth) -> None:
    await auth.create_user("ada", "pw")
    from vivace.auth import Argon2Hasher, Passwords

    stronger = Auth(
        secret_key=SECRET,
        passwords=Passwords([Argon2Hasher(time_cost=2, memory_cost=1024, parallelism=1)]),
    )
    assert "t=1" in (await User.objects.get(username="ada")).password
    assert await stronger.authenticate("ada", "pw") is not None
    assert "t=2" in (await User.objects.get(username="ada")).password


async def test_hashes_of_the_former_default_are_moved_to_the_owasp_profile(
    auth: Auth, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the parameters, not the database, are under test: once is enough")
    from vivace.auth import Argon2Hasher, Passwords

    # Hashes made before: argon2-cffi's profile (64 MiB, 3 passes, 4 lanes).
    former = Argon2Hasher(time_cost=3, memory_cost=65536, parallelism=4)
    await User.objects.create(username="ada", password=former.encode("pw"))
    assert "m=65536,t=3,p=4$" in (await User.objects.get(username="ada")).password
    current = Auth(secret_key=SECRET, passwords=Passwords())
    assert await current.authenticate("ada", "wrong") is None
    assert await current.authenticate("ada", "pw") is not None
    upgraded = (await User.objects.get(username="ada")).password
    assert upgraded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert await current.authenticate("ada", "pw") is not None
    assert (await User.objects.get(username="ada")).password == upgraded  # current: kept
    assert not Argon2Hasher().must_update(upgraded) and former.must_update(upgraded)


@pytest.mark.parametrize("store_kind", [pytest.param("redis", marks=pytest.mark.redis), "memory"])
async def test_login_throttling(db: Database, store_kind: str) -> None:
    opened = redis_store() if store_kind == "redis" else memory_store()
    async with opened as store:
        throttle = RateLimiter(store, "3/minute", algorithm="fixed_window", name="login")
        auth = Auth(secret_key=SECRET, passwords=fast_passwords(), throttle=throttle)
        await auth.create_user("ada", "right")
        await auth.create_user("bob", "right")
        assert await auth.authenticate("ada", "right") is not None  # a success clears
        for _ in range(3):
            assert await auth.authenticate("ada", "wrong") is None
        with pytest.raises(RateLimitExceeded) as refused:
            await auth.authenticate("ada", "right")  # even the right password: refused
        assert refused.value.status_code == 429
        assert "retry-after" in (refused.value.headers or {})
        with pytest.raises(RateLimitExceeded):
            await auth.authenticate("ADA", "right")  # one count per username, any case
        assert await auth.authenticate("bob", "right") is not None  # others unaffected
        await throttle.reset("user:" + __import__("hashlib").sha256(b"ada").hexdigest())
        assert await auth.authenticate("ada", "right") is not None


async def test_change_password(auth: Auth) -> None:
    ada = await auth.create_user("ada", "old")
    old_hash = auth.session_hash(ada)
    assert not await auth.change_password(ada, "wrong", "new")
    assert await auth.change_password(ada, "old", "new")
    assert await auth.authenticate("ada", "old") is None
    assert await auth.authenticate("ada", "new") is not None
    assert auth.session_hash(ada) != old_hash
    await auth.set_password(ada, None)
    assert await auth.authenticate("ada", "new") is None


async def test_reset_tokens_expire_and_work_once(
    auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await auth.create_user("ada", "old")
    token = auth.make_reset_token(ada)
    assert (await auth.check_reset_token(token)).pk == ada.pk  # type: ignore[union-attr]
    assert "old" not in token and str(ada.password) not in token
    user = await auth.reset_password(token, "new")
    assert user is not None and await auth.authenticate("ada", "new") is not None
    # One shot: the password changed, so the same token is void.
    assert await auth.reset_password(token, "again") is None
    assert await auth.authenticate("ada", "new") is not None

    # Expired: signed four days ago, the tokens live three.
    real_time = _signing.time.time
    monkeypatch.setattr(
        _signing, "time", types.SimpleNamespace(time=lambda: real_time() - 4 * 86400)
    )
    old_token = auth.make_reset_token(ada)
    monkeypatch.undo()
    assert await auth.check_reset_token(old_token) is None

    # A login since the token was made voids it too.
    token = auth.make_reset_token(ada)
    ada.last_login = _core._now()
    await ada.save()
    assert await auth.check_reset_token(token) is None


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", "x" * 10_000, "ünïcode.b.c", "MTox.AAAAAGsWI9I.forged-signature"],
)
async def test_bad_reset_tokens(auth: Auth, token: str) -> None:
    await auth.create_user("ada", "pw")
    assert await auth.check_reset_token(token) is None
    assert await auth.check_reset_token(None) is None  # type: ignore[arg-type]


async def test_reset_token_of_another_app_or_a_gone_user(auth: Auth) -> None:
    ada = await auth.create_user("ada", "pw")
    other = Auth(secret_key="another secret", passwords=fast_passwords())
    assert await auth.check_reset_token(other.make_reset_token(ada)) is None
    token = auth.make_reset_token(ada)
    await ada.delete()
    assert await auth.check_reset_token(token) is None
    # A validly signed payload that is not "<pk>:<state>".
    forged = _signing.Signer(SECRET, salt=b"vivace.auth.reset").sign(b"abc:def").decode()
    assert await auth.check_reset_token(forged) is None


async def test_reset_state_is_compared_in_constant_time(
    auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await auth.create_user("ada", "pw")
    calls: list[Any] = []
    real = _core.hmac.compare_digest
    monkeypatch.setattr(_core.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    assert await auth.check_reset_token(auth.make_reset_token(ada)) is not None
    assert calls


async def test_secret_key_is_needed_for_tokens(db: Database) -> None:
    auth = Auth(passwords=fast_passwords())
    ada = await auth.create_user("ada", "pw")
    with pytest.raises(RuntimeError, match="secret_key"):
        auth.make_reset_token(ada)
    with pytest.raises(RuntimeError, match="secret_key"):
        auth.session_hash(ada)


async def test_groups_and_permissions(auth: Auth) -> None:
    ada = await auth.create_user("ada", "pw")
    created = await create_permissions(User)
    assert [p.codename for p in created] == [
        "add_auth_user",
        "change_auth_user",
        "delete_auth_user",
        "view_auth_user",
    ]
    assert created[1].name == "Can change User" and created[1].model == "auth_user"
    again = await create_permissions(User)  # idempotent
    assert [p.pk for p in again] == [p.pk for p in created]
    assert await Permission.objects.count() == 4
    assert permission_codename(User, "view") == "view_auth_user"

    assert await auth.get_permissions(ada) == set()
    assert not await auth.has_perm(ada, "change_auth_user")
    editors = await Group.objects.create(name="editors")
    await editors.permissions.add(created[1])
    await auth.add_to_group(ada, editors)
    await auth.add_to_group(ada, editors)  # twice: one membership
    assert await auth.has_perm(ada, "change_auth_user")
    with pytest.raises(ValueError, match="'no_such_permission'"):
        await auth.grant(ada, "view_auth_user", "no_such_permission")
    fresh = await User.objects.get(pk=ada.pk)  # no permissions cached on it
    assert await auth.get_permissions(fresh) == {"change_auth_user"}  # nothing granted
    await auth.grant(ada, "view_auth_user")
    assert await auth.get_permissions(ada) == {"change_auth_user", "view_auth_user"}
    assert await auth.has_perms(ada, ["change_auth_user", "view_auth_user"])
    assert not await auth.has_perms(ada, ["change_auth_user", "delete_auth_user"])
    await auth.remove_from_group(ada, editors)
    assert await auth.get_permissions(ada) == {"view_auth_user"}

    root = await auth.create_superuser("root", "pw")
    assert await auth.get_permissions(root) == {p.codename for p in created}
    assert await auth.has_perms(root, ["change_auth_user", "not_in_the_database"], {"x": 1})
    assert not await auth.has_perm(AnonymousUser(), "view_auth_user")
    ada.is_active = False
    assert await auth.get_permissions(ada) == set()
    assert not await auth.has_perm(ada, "view_auth_user")


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_the_object_permission_hook(db: Database, asynchronous: bool) -> None:
    def own(user: Any, permission: str, obj: Any) -> bool:
        return permission == "change_auth_user" and obj.get("owner") == user.pk

    async def own_async(user: Any, permission: str, obj: Any) -> bool:
        return own(user, permission, obj)

    auth = Auth(
        secret_key=SECRET,
        passwords=fast_passwords(),
        object_permission=own_async if asynchronous else own,
    )
    ada = await auth.create_user("ada", "pw")
    assert await auth.has_perm(ada, "change_auth_user", {"owner": ada.pk})
    assert not await auth.has_perm(ada, "change_auth_user", {"owner": -1})
    assert not await auth.has_perm(ada, "delete_auth_user", {"owner": ada.pk})
    assert not await auth.has_perm(ada, "change_auth_user")  # model level: not granted


async def test_a_replaced_user_model(db: Database) -> None:
    auth = Auth(secret_key=SECRET, user_model=Member, passwords=fast_passwords())
    member = await auth.create_user("ada@example.com", "pw", username="ada", nickname="A")
    assert isinstance(member, Member) and member.display_name == "ada@example.com"
    found = await auth.authenticate("ada@example.com", "pw")
    assert isinstance(found, Member) and found.nickname == "A"
    assert await auth.authenticate("ada", "pw") is None  # the username is not the login
    editors = await Group.objects.create(name="editors")
    (perm,) = await create_permissions(Member, actions=("view",))
    await editors.permissions.add(perm)
    await auth.add_to_group(member, editors)
    assert await auth.has_perm(member, "view_auth_test_member")


async def test_user_model_is_checked() -> None:
    with pytest.raises(TypeError, match="subclass"):
        Auth(user_model=Group)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="abstract"):
        Auth(user_model=AbstractUser)
