"""Auth in an app: login/logout on server-side sessions in Redis (session fixation, other
sessions logged out by a password change), the lazy ``request.user``, guards for HTTP and
WebSocket routes, JWT and opaque-token backends under attack, and the dependency's
OpenAPI security schemes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import orjson
import pytest
import pytest_asyncio

from vivace.auth import (
    Auth,
    Authenticated,
    AuthMiddleware,
    JWTBackend,
    SessionBackend,
    TokenBackend,
    create_permissions,
    login_required,
    permission_required,
    requires,
)
from vivace.client import WebSocketRejected
from vivace.csrf import CSRFMiddleware, csrf_token
from vivace.db import Database
from vivace.sessions import StoreSessionMiddleware
from vivace.stores import Store
from vivace.testing import AsyncTestClient
from vivace.web import (
    App,
    HTTPConnection,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Route,
    WebSocket,
    WebSocketRoute,
)
from vivace.web.middleware import Signer

from .conftest import SECRET, fast_passwords, redis_store

pytestmark = [pytest.mark.asyncio(loop_scope="package"), pytest.mark.redis]

JWT_KEY = "jwt-signing-key-" + "k" * 49  # 64 bytes: enough for HS512 too


class Harness:
    def __init__(self, auth: Auth, store: Store) -> None:
        self.auth = auth
        self.store = store
        self.jwt = JWTBackend(auth, JWT_KEY)
        self.tokens = TokenBackend(auth, store)
        self.backends = [SessionBackend(auth), self.tokens, self.jwt]
        self.current = Authenticated(*self.backends, scopes=["profile"])
        self.app = self.make_app()

    def make_app(self) -> App:
        auth = self.auth

        async def login(request: Request) -> Any:
            data = await request.json()
            user = await auth.authenticate(data["username"], data["password"], conn=request)
            if user is None:
                return JSONResponse({"error": "bad credentials"}, 400)
            await auth.login(request, user)
            me = await request.user()
            return {"id": user.pk, "now": me.username}

        async def logout(request: Request) -> Any:
            await auth.logout(request)
            return {"anonymous": not (await request.user()).is_authenticated}

        async def visit(request: Request) -> Any:
            request.session["visited"] = True
            return {}

        async def lazy(request: Request) -> Any:
            return {"loaded": request.user.loaded, "repr": repr(request.user)}

        @login_required
        async def me(request: Request) -> Any:
            user = await request.user()
            return {"username": user.username, "scopes": request.auth.scopes}

        @login_required(redirect="login_page")
        async def page(request: Request) -> Any:
            return PlainTextResponse("secret page")

        async def login_page(request: Request) -> Any:
            return PlainTextResponse("log in")

        @permission_required("change_auth_user")
        async def edit(request: Request) -> Any:
            return {"edited": True}

        async def owned(conn: HTTPConnection) -> Any:
            return {"owner": int(conn.path_params["owner"])}

        @permission_required("change_auth_user", get_object=owned)
        async def edit_owned(request: Request) -> Any:
            return {"edited": request.path_params["owner"]}

        @requires("articles:write")
        async def publish(request: Request) -> Any:
            return {"published": True}

        async def change(request: Request) -> Any:
            data = await request.json()
            user = await request.user()
            done = await auth.change_password(user, data["old"], data["new"], request)
            return {"changed": done}

        async def dependency(request: Request) -> Any:
            user = await self.current(request)
            return {"username": user.username}

        @login_required
        async def chat(websocket: WebSocket) -> None:
            user = await websocket.user()
            await websocket.accept()
            await websocket.send_text(f"hello {user.username}")
            await websocket.close()

        return App(
            routes=[
                Route("/login", login, methods=["POST"]),
                Route("/logout", logout, methods=["POST"]),
                Route("/visit", visit, methods=["POST"]),
                Route("/lazy", lazy),
                Route("/me", me),
                Route("/page", page),
                Route("/login-page", login_page, name="login_page"),
                Route("/edit", edit),
                Route("/edit/{owner}", edit_owned),
                Route("/publish", publish),
                Route("/change", change, methods=["POST"]),
                Route("/dependency", dependency),
                WebSocketRoute("/chat", chat),
            ],
            middleware=[
                Middleware(StoreSessionMiddleware, store=self.store, secret_key=SECRET),
                Middleware(AuthMiddleware, auth=auth, backends=self.backends),
            ],
        )


@pytest_asyncio.fixture(loop_scope="package")
async def harness(db: Database) -> AsyncIterator[Harness]:
    def own(user: Any, permission: str, obj: Any) -> bool:
        return bool(obj["owner"] == user.pk)

    auth = Auth(secret_key=SECRET, passwords=fast_passwords(), object_permission=own)
    async with redis_store() as store:
        yield Harness(auth, store)


def session_id(client: AsyncTestClient) -> str:
    token = client.cookies["sessionid"]
    payload, _, _ = Signer(SECRET, salt=b"vivace.sessions").unsign(token.encode(), max_age=None)
    return payload.decode()


async def log_in(client: AsyncTestClient, username: str = "ada", password: str = "pw") -> Any:
    r = await client.post("/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


async def test_login_rotates_the_session_and_defeats_fixation(harness: Harness) -> None:
    await harness.auth.create_user("ada", "pw")
    app = harness.app
    async with AsyncTestClient(app) as attacker, AsyncTestClient(app) as victim:
        await attacker.post("/visit")
        planted = attacker.cookies["sessionid"]
        planted_id = session_id(attacker)
        victim.cookies.set("sessionid", planted, domain="testserver")
        assert (await log_in(victim))["now"] == "ada"
        assert victim.cookies["sessionid"] != planted and session_id(victim) != planted_id
        assert (await victim.get("/me")).json() == {"username": "ada", "scopes": ["authenticated"]}
        # The planted id is dead: the attacker is not logged in as the victim.
        assert (await attacker.get("/me")).status_code == 401
        assert await harness.store.namespace("session:").get(planted_id) is None


async def test_wrong_credentials_and_anonymous_requests(harness: Harness) -> None:
    await harness.auth.create_user("ada", "pw")
    async with AsyncTestClient(harness.app) as client:
        r = await client.post("/login", json={"username": "ada", "password": "nope"})
        assert r.status_code == 400 and "sessionid" not in client.cookies
        assert (await client.get("/me")).status_code == 401
        r = await client.get("/page?x=1", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "http://testserver/login-page?next=%2Fpage%3Fx%3D1"
        assert (await client.get("/edit")).status_code == 401
        assert (await client.get("/publish")).status_code == 401


async def test_the_user_is_loaded_only_when_asked(harness: Harness) -> None:
    await harness.auth.create_user("ada", "pw")
    async with AsyncTestClient(harness.app) as client:
        await log_in(client)
        assert (await client.get("/lazy")).json() == {
            "loaded": False,
            "repr": "LazyUser(<not loaded>)",
        }


async def test_logout_ends_the_session(harness: Harness) -> None:
    await harness.auth.create_user("ada", "pw")
    async with AsyncTestClient(harness.app) as client:
        await log_in(client)
        cookie = client.cookies["sessionid"]
        r = await client.post("/logout")
        assert r.json() == {"anonymous": True} and "sessionid" not in client.cookies
        assert (await client.get("/me")).status_code == 401
        client.cookies.set("sessionid", cookie, domain="testserver")  # replayed
        assert (await client.get("/me")).status_code == 401


async def test_logging_in_as_another_user_empties_the_session(harness: Harness) -> None:
    await harness.auth.create_user("ada", "pw")
    await harness.auth.create_user("bob", "pw")
    async with AsyncTestClient(harness.app) as client:
        await client.post("/visit")
        await log_in(client, "ada")
        first = session_id(client)
        await log_in(client, "bob")
        assert session_id(client) != first
        data = orjson.loads(await harness.store.namespace("session:").get(session_id(client)))
        assert "visited" not in data and (await client.get("/me")).json()["username"] == "bob"


async def test_a_password_change_logs_the_other_sessions_out(harness: Harness) -> None:
    await harness.auth.create_user("ada", "old")
    async with AsyncTestClient(harness.app) as laptop, AsyncTestClient(harness.app) as phone:
        await log_in(laptop, password="old")
        await log_in(phone, password="old")
        before = session_id(laptop)
        r = await laptop.post("/change", json={"old": "wrong", "new": "new"})
        assert r.json() == {"changed": False}
        r = await laptop.post("/change", json={"old": "old", "new": "new"})
        assert r.json() == {"changed": True}
        assert session_id(laptop) != before  # rotated with the privilege change
        assert (await laptop.get("/me")).status_code == 200
        assert (await phone.get("/me")).status_code == 401


async def test_a_deactivated_user_is_logged_out(harness: Harness) -> None:
    ada = await harness.auth.create_user("ada", "pw")
    async with AsyncTestClient(harness.app) as client:
        await log_in(client)
        ada.is_active = False
        await ada.save()
        assert (await client.get("/me")).status_code == 401


async def test_tampered_session_data_is_anonymous(harness: Harness) -> None:
    ada = await harness.auth.create_user("ada", "pw")
    async with AsyncTestClient(harness.app) as client:
        await log_in(client)
        sessions = harness.store.namespace("session:")
        sid = session_id(client)
        for data in (
            {"_auth_user_id": str(ada.pk), "_auth_user_hash": "0" * 64},
            {"_auth_user_id": "x", "_auth_user_hash": "0" * 64},
            {"_auth_user_id": 1, "_auth_user_hash": None},
            {"_auth_user_id": "99999999999999999999999", "_auth_user_hash": "0"},
        ):
            await sessions.set(sid, orjson.dumps(data), ttl=60)
            assert (await client.get("/me")).status_code == 401, data


async def test_permissions_on_routes(harness: Harness) -> None:
    ada = await harness.auth.create_user("ada", "pw")
    await create_permissions(type(ada))
    async with AsyncTestClient(harness.app) as client:
        await log_in(client)
        assert (await client.get("/edit")).status_code == 403
        await harness.auth.grant(ada, "change_auth_user")
        assert (await client.get("/edit")).json() == {"edited": True}
        # The object hook decides for one object: ada owns only her own.
        assert (await client.get(f"/edit/{ada.pk}")).status_code == 200
        assert (await client.get(f"/edit/{ada.pk + 1}")).status_code == 403
        assert (await client.get("/publish")).status_code == 403  # no such scope


async def test_websocket_routes_are_guarded(harness: Harness) -> None:
    ada = await harness.auth.create_user("ada", "pw")
    token = await harness.tokens.issue(ada)
    async with AsyncTestClient(harness.app) as client:
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket_connect("/chat"):
                pass  # pragma: no cover - refused before
        assert info.value.response.status_code == 403
        headers = {"authorization": f"Bearer {token}"}
        async with client.websocket_connect("/chat", headers=headers) as ws:
            assert await ws.receive_text() == "hello ada"
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket_connect(
                "/chat", headers={"authorization": "Bearer vt_forged"}
            ):
                pass  # pragma: no cover - refused before
        assert info.value.response.status_code == 401


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


async def test_jwt_backend(harness: Harness) -> None:
    ada = await harness.auth.create_user("ada", "pw")
    good = harness.jwt.issue(ada, scopes=["profile", "articles:write"])
    async with AsyncTestClient(harness.app) as client:

        async def get(path: str, token: str) -> Any:
            return await client.get(path, headers={"authorization": f"Bearer {token}"})

        r = await get("/me", good)
        assert r.json() == {
            "username": "ada",
            "scopes": ["authenticated", "profile", "articles:write"],
        }
        assert (await get("/publish", good)).json() == {"published": True}
        assert (await get("/dependency", good)).json() == {"username": "ada"}
        assert "sessionid" not in client.cookies  # a token makes no session

        now = int(time.time())
        claims = {"sub": str(ada.pk), "iat": now, "exp": now + 60}
        refused = {
            "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
            "alg none, signed": jwt.encode(claims, None, algorithm="none"),
            "wrong key": jwt.encode(claims, "another-key-of-at-least-32-bytes!!", "HS256"),
            "other alg": jwt.encode(claims, JWT_KEY, algorithm="HS512"),
            "expired": harness.jwt.issue(ada, ttl=-5),
            "no exp": jwt.encode({"sub": str(ada.pk)}, JWT_KEY, "HS256"),
            "no sub": jwt.encode({"exp": now + 60}, JWT_KEY, "HS256"),
            "unknown user": jwt.encode({**claims, "sub": "424242"}, JWT_KEY, "HS256"),
            "bad sub": jwt.encode({**claims, "sub": "ada"}, JWT_KEY, "HS256"),
            "garbage": "a.b.c",
            "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        }
        for name, token in refused.items():
            r = await get("/me", token)
            assert r.status_code == 401, name
        r = await get("/me", harness.jwt.issue(ada, ttl=-5))
        assert r.text == "token expired"
        assert r.headers["www-authenticate"] == (
            'Bearer error="invalid_token", error_description="token expired"'
        )
        # Not a JWT and not ours: no credentials, anonymous.
        assert (await get("/me", "opaque-something")).status_code == 401
        r = await client.get("/me", headers={"authorization": "Basic YWRhOnB3"})
        assert r.status_code == 401


async def test_jwt_audience_issuer_and_asymmetric_keys(db: Database) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    auth = Auth(secret_key=SECRET, passwords=fast_passwords())
    ada = await auth.create_user("ada", "pw")
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    backend = JWTBackend(
        auth, pem, algorithm="ES256", verify_key=public, audience="api", issuer="me"
    )
    token = backend.issue(ada)
    assert backend.decode(token)["aud"] == "api"
    other = JWTBackend(auth, pem, algorithm="ES256", verify_key=public, audience="web", issuer="me")
    with pytest.raises(Exception, match="invalid token"):
        other.decode(token)
    # The classic confusion: an HS256 token "signed" with the public key.
    # PyJWT will not sign with a PEM as an HMAC key, so the attacker's token is made by hand.
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64({'sub': '1', 'exp': 2**40})}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(Exception, match="invalid token"):
        backend.decode(confused)


async def test_jwt_backend_settings_are_checked(db: Database) -> None:
    auth = Auth()
    for algorithm in ("none", "None", ""):
        with pytest.raises(ValueError, match="none"):
            JWTBackend(auth, JWT_KEY, algorithm=algorithm)
    with pytest.raises(ValueError, match="unknown"):
        JWTBackend(auth, JWT_KEY, algorithm="HS1")
    with pytest.raises(ValueError, match="key"):
        JWTBackend(auth, "")


async def test_opaque_tokens(harness: Harness) -> None:
    ada = await harness.auth.create_user("ada", "pw")
    token = await harness.tokens.issue(ada, scopes=["profile"])
    assert token.startswith("vt_") and len(token) > 40
    stored = [key async for key in harness.tokens.store.scan()]
    assert stored and token not in stored[0]  # only the hash is kept
    async with AsyncTestClient(harness.app) as client:
        headers = {"authorization": f"Bearer {token}"}
        r = await client.get("/me", headers=headers)
        assert r.json() == {"username": "ada", "scopes": ["authenticated", "profile"]}
        assert (await client.get("/dependency", headers=headers)).status_code == 200
        assert await harness.tokens.revoke(token)
        assert not await harness.tokens.revoke(token)
        assert (await client.get("/me", headers=headers)).status_code == 401
        r = await client.get("/me", headers={"authorization": "Bearer vt_" + "x" * 300})
        assert r.status_code == 401
        # A corrupted entry in the store is refused, not a crash.
        bad = "vt_corrupted"
        await harness.tokens.store.set(TokenBackend._key(bad), b"{not json", ttl=60)
        r = await client.get("/me", headers={"authorization": f"Bearer {bad}"})
        assert r.status_code == 401
        await harness.tokens.store.set(TokenBackend._key(bad), b'{"user": 1}', ttl=60)
        assert (
            await client.get("/me", headers={"authorization": f"Bearer {bad}"})
        ).status_code == 401
        gone = await harness.tokens.issue(ada)
        await ada.delete()
        r = await client.get("/me", headers={"authorization": f"Bearer {gone}"})
        assert r.status_code == 401


async def test_the_dependency(harness: Harness) -> None:
    ada = await harness.auth.create_user("ada", "pw")
    async with AsyncTestClient(harness.app) as client:
        r = await client.get("/dependency")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        await log_in(client)
        assert (await client.get("/dependency")).status_code == 403  # no "profile" scope
        no_scope = harness.jwt.issue(ada)
        r = await client.get("/dependency", headers={"authorization": f"Bearer {no_scope}"})
        assert r.status_code == 403


async def test_the_dependency_without_the_middleware(db: Database) -> None:
    auth = Auth(secret_key=SECRET, passwords=fast_passwords())
    backend = JWTBackend(auth, JWT_KEY)
    current = Authenticated(backend, permissions=["view_auth_user"])
    ada = await auth.create_user("ada", "pw")
    await create_permissions(type(ada))

    async def handler(request: Request) -> Any:
        return {"id": (await current(request)).pk}

    app = App(routes=[Route("/", handler)])
    headers = {"authorization": f"Bearer {backend.issue(ada)}"}
    async with AsyncTestClient(app) as client:
        assert (await client.get("/", headers=headers)).status_code == 403
        await auth.grant(ada, "view_auth_user")
        assert (await client.get("/", headers=headers)).json() == {"id": ada.pk}
        assert (await client.get("/")).status_code == 401


async def test_openapi_security_schemes(db: Database) -> None:
    auth = Auth(secret_key=SECRET)
    async with redis_store() as store:
        current = Authenticated(
            JWTBackend(auth, JWT_KEY),
            TokenBackend(auth, store),
            SessionBackend(auth, cookie="sid"),
            scopes=["articles:read"],
        )
    assert current.__openapi_security__ == [
        ("jwt", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}, ["articles:read"]),
        ("token", {"type": "http", "scheme": "bearer"}, ["articles:read"]),
        ("session", {"type": "apiKey", "in": "cookie", "name": "sid"}, ["articles:read"]),
    ]
    assert Authenticated(SessionBackend(auth)).__openapi_security__ == [
        ("session", {"type": "apiKey", "in": "cookie", "name": "sessionid"}, [])
    ]
    with pytest.raises(ValueError, match="backend"):
        Authenticated()


async def test_guards_are_checked(db: Database) -> None:
    with pytest.raises(TypeError, match="async"):
        login_required(lambda request: None)
    with pytest.raises(ValueError, match="permission"):
        permission_required()

    @login_required
    async def no_request(value: int) -> int:
        return value

    with pytest.raises(TypeError, match="request"):
        await no_request(1)

    async def unguarded(request: Request) -> Any:
        return await me(request)

    @login_required
    async def me(request: Request) -> Any:
        return {}

    app = App(routes=[Route("/", unguarded)])
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        assert (await client.get("/")).status_code == 500  # no AuthMiddleware: a clear error
    with pytest.raises(RuntimeError, match="AuthMiddleware"):
        async with AsyncTestClient(app) as client:
            await client.get("/")


async def test_login_needs_a_session(db: Database) -> None:
    auth = Auth(secret_key=SECRET, passwords=fast_passwords())
    ada = await auth.create_user("ada", "pw")

    async def handler(request: Request) -> Any:
        await auth.login(request, ada)

    async with AsyncTestClient(App(routes=[Route("/", handler)])) as client:
        with pytest.raises(RuntimeError, match="StoreSessionMiddleware"):
            await client.get("/")


async def test_login_replaces_the_csrf_secret(harness: Harness) -> None:
    # As Django's login(): a CSRF token handed out before login (to an attacker who
    # planted their session cookie on the victim, say) must not pass after it.
    auth = harness.auth
    await auth.create_user("ada", "pw")

    async def token(request: Request) -> Any:
        return {"token": csrf_token(request)}

    async def login(request: Request) -> Any:
        user = await auth.authenticate("ada", "pw")
        assert user is not None
        await auth.login(request, user)
        return {"token": csrf_token(request)}

    async def act(request: Request) -> Any:
        return {"done": True}

    app = App(
        routes=[
            Route("/token", token),
            Route("/login", login, methods=["POST"]),
            Route("/act", act, methods=["POST"]),
        ],
        middleware=[
            Middleware(StoreSessionMiddleware, store=harness.store, secret_key=SECRET),
            Middleware(CSRFMiddleware),
            Middleware(AuthMiddleware, auth=auth),
        ],
    )
    async with AsyncTestClient(app) as attacker, AsyncTestClient(app) as victim:
        known = (await attacker.get("/token")).json()["token"]
        victim.cookies.set("sessionid", attacker.cookies["sessionid"], domain="testserver")
        r = await victim.post("/login", headers={"x-csrf-token": known})
        assert r.status_code == 200
        fresh = r.json()["token"]
        assert (await victim.post("/act", headers={"x-csrf-token": known})).status_code == 403
        assert (await victim.post("/act", headers={"x-csrf-token": fresh})).status_code == 200
