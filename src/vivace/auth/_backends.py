"""Authentication backends, ``AuthMiddleware`` and the lazy ``request.user``.

``AuthMiddleware`` does no I/O itself: it puts a ``LazyUser`` in ``scope["user"]`` (so
``request.user`` / ``websocket.user`` is it), and ``await request.user()`` asks the
backends, in order, the first time; later calls return the same user. A request whose
handler never asks for its user costs no database query.

Backends: ``authenticate(conn)`` returns ``(AuthCredentials, user)``, None when the
request carries no credentials for it (the next backend is asked), or raises
``AuthenticationError`` (401) when it carries bad ones.

- ``SessionBackend``: the user ``Auth.login`` stored in the session (needs
  ``vivace.sessions.StoreSessionMiddleware`` outside ``AuthMiddleware``).
- ``JWTBackend``: ``Authorization: Bearer <JWT>`` (PyJWT). The algorithm is pinned:
  a token naming another one, ``none`` included, is refused, as are a bad signature, a
  missing or past ``exp``, and a wrong ``aud``/``iss`` when configured.
- ``TokenBackend``: opaque ``vt_...`` bearer tokens kept in a ``vivace.stores`` store
  under the SHA-256 of the token (a leaked store holds no usable token); revocable.

Both token kinds carry ``Auth.token_stamp(user)`` (the ``stamp`` claim, or a field of
the stored entry): once the user's password changes, the stamp no longer matches and
the token is refused (401 "token revoked"), whichever process issued it.

Each backend carries ``security_scheme``, ``(name, OpenAPI Security Scheme Object)``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from vivace.auth._core import SESSION_KEY, Auth
from vivace.auth._models import AnonymousUser
from vivace.stores import Store
from vivace.types import ASGIApp, Receive, Scope, Send
from vivace.web import HTTPConnection
from vivace.web.middleware import AuthCredentials, AuthenticationError

if TYPE_CHECKING:
    from vivace.auth._models import AbstractUser

__all__ = [
    "AuthMiddleware",
    "Backend",
    "InvalidToken",
    "JWTBackend",
    "LazyUser",
    "SessionBackend",
    "TokenBackend",
]

#: The scope every authenticated user has (``requires("authenticated")``).
AUTHENTICATED = "authenticated"
_TOKEN_PREFIX = "vt_"


def _bearer(conn: HTTPConnection) -> str | None:
    value = conn.headers.get("authorization")
    if value is None:
        return None
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


class InvalidToken(AuthenticationError):
    """A bearer token that is expired, forged, revoked or malformed: 401 with the
    challenge of RFC 6750 section 3 (``error="invalid_token"``)."""

    def __init__(self, detail: str = "invalid token") -> None:
        super().__init__(detail)
        self.headers = {
            "www-authenticate": f'Bearer error="invalid_token", error_description="{detail}"'
        }


class Backend:
    """Base of the backends: ``authenticate`` and the OpenAPI ``security_scheme``."""

    security_scheme: tuple[str, dict[str, Any]]

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Any] | None:
        raise NotImplementedError


class SessionBackend(Backend):
    """The user logged in with ``Auth.login`` on this session.

    ``cookie`` names the session cookie (for the OpenAPI scheme only).
    """

    def __init__(self, auth: Auth, *, cookie: str = "sessionid") -> None:
        self.auth = auth
        self.security_scheme = ("session", {"type": "apiKey", "in": "cookie", "name": cookie})

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Any] | None:
        user = await self.auth.session_user(conn)
        if user is None:
            return None
        return AuthCredentials([AUTHENTICATED]), user


class JWTBackend(Backend):
    """Bearer JSON Web Tokens (RFC 7519) signed by this app.

    >>> backend = JWTBackend(Auth(), key="a-secret-of-at-least-32-bytes!!!!")
    >>> backend.algorithm, backend.security_scheme[1]["bearerFormat"]
    ('HS256', 'JWT')

    ``algorithm`` is the only one accepted (HS256 with a shared ``key``; RS256/ES256/
    EdDSA with a private ``key`` to sign and ``verify_key`` to check). ``ttl``: the
    lifetime of issued tokens in seconds. The ``scope`` claim (space-separated, RFC 8693
    section 4.2) becomes the credentials' scopes. ``stamp_claim`` names the claim that
    binds a token to the user's password (a password change revokes it); ``None``
    accepts tokens without one, for tokens another issuer signs (no revocation then).
    """

    def __init__(
        self,
        auth: Auth,
        key: str | bytes,
        *,
        algorithm: str = "HS256",
        verify_key: str | bytes | None = None,
        ttl: int = 15 * 60,
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = 0,
        stamp_claim: str | None = "stamp",
    ) -> None:
        try:
            import jwt
        except ImportError as exc:  # pragma: no cover - the auth extra installs it
            raise ImportError("JWTBackend needs PyJWT: pip install 'vivace[auth]'") from exc
        if not algorithm or algorithm.lower() == "none":
            raise ValueError("JWTBackend needs a signing algorithm; 'none' is never accepted")
        if algorithm not in jwt.algorithms.get_default_algorithms():
            raise ValueError(f"unknown JWT algorithm {algorithm!r}")
        if not key:
            raise ValueError("JWTBackend needs a key")
        self._jwt = jwt
        self.auth = auth
        self.algorithm = algorithm
        self.key = key
        self.verify_key = verify_key if verify_key is not None else key
        self.ttl = ttl
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway
        self.stamp_claim = stamp_claim
        self.security_scheme = ("jwt", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})

    def issue(
        self,
        user: AbstractUser,
        *,
        scopes: Sequence[str] = (),
        ttl: int | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A signed token for ``user`` (``sub`` is its primary key)."""
        now = int(time.time())
        payload: dict[str, Any] = dict(claims or {})
        payload.update(sub=str(user.pk), iat=now, exp=now + (self.ttl if ttl is None else ttl))
        if scopes:
            payload["scope"] = " ".join(scopes)
        if self.stamp_claim is not None:
            payload[self.stamp_claim] = self.auth.token_stamp(user)
        if self.audience is not None:
            payload["aud"] = self.audience
        if self.issuer is not None:
            payload["iss"] = self.issuer
        return str(self._jwt.encode(payload, self.key, algorithm=self.algorithm))

    def decode(self, token: str) -> dict[str, Any]:
        """The verified claims; raises ``AuthenticationError`` (401) otherwise."""
        jwt = self._jwt
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.verify_key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        return claims

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Any] | None:
        token = _bearer(conn)
        # Not a JWT (three dot-separated parts): another backend's token, or none.
        if token is None or token.count(".") != 2:
            return None
        claims = self.decode(token)
        user = await self.auth.get_user(claims["sub"])
        if user is None:
            raise InvalidToken()
        if self.stamp_claim is not None and not self.auth.token_stamp_matches(
            user, claims.get(self.stamp_claim)
        ):
            raise InvalidToken("token revoked")
        scope = claims.get("scope", "")
        scopes = scope.split() if isinstance(scope, str) else []
        return AuthCredentials([AUTHENTICATED, *scopes]), user


class TokenBackend(Backend):
    """Opaque bearer tokens kept in a store (revocable, shared across processes).

    ``ttl``: seconds a token lives (default 30 days); ``prefix``: the store key prefix.
    """

    def __init__(
        self,
        auth: Auth,
        store: Store,
        *,
        ttl: int = 30 * 24 * 60 * 60,
        prefix: str = "authtoken:",
    ) -> None:
        self.auth = auth
        self.store = store.namespace(prefix)
        self.ttl = ttl
        self.security_scheme = ("token", {"type": "http", "scheme": "bearer"})

    @staticmethod
    def _key(token: str) -> str:
        # The store never sees the token: looking it up by its hash keeps a leaked store
        # (a dump, a replica) from being a list of valid credentials.
        return hashlib.sha256(token.encode()).hexdigest()

    async def issue(
        self, user: AbstractUser, *, scopes: Sequence[str] = (), ttl: int | None = None
    ) -> str:
        """A new token for ``user``; shown once (only its hash is stored)."""
        token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        stamp = self.auth.token_stamp(user)
        value = orjson.dumps({"user": str(user.pk), "scopes": list(scopes), "stamp": stamp})
        await self.store.set(self._key(token), value, ttl=self.ttl if ttl is None else ttl)
        return token

    async def revoke(self, token: str) -> bool:
        """Forget a token; whether it existed."""
        return bool(await self.store.delete(self._key(token)))

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Any] | None:
        token = _bearer(conn)
        if token is None or not token.startswith(_TOKEN_PREFIX) or len(token) > 256:
            return None
        stored = await self.store.get(self._key(token))
        if stored is None:
            raise InvalidToken()
        try:
            data = orjson.loads(stored)
            user_pk, scopes = data["user"], [str(s) for s in data["scopes"]]
            stamp = data["stamp"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidToken() from exc
        user = await self.auth.get_user(user_pk)
        if user is None:
            raise InvalidToken()
        if not self.auth.token_stamp_matches(user, stamp):
            # The password changed since: the token is dead everywhere; drop its entry.
            await self.store.delete(self._key(token))
            raise InvalidToken("token revoked")
        return AuthCredentials([AUTHENTICATED, *scopes]), user


async def authenticate_with(
    backends: Sequence[Backend], conn: HTTPConnection
) -> tuple[AuthCredentials, Any]:
    """The first backend's answer, or the anonymous user with no scopes."""
    for backend in backends:
        found = await backend.authenticate(conn)
        if found is not None:
            return found
    return AuthCredentials(), AnonymousUser()


class LazyUser:
    """``request.user`` under ``AuthMiddleware``: ``await request.user()`` is the user.

    The backends run on the first call only; ``loaded`` tells whether it was asked,
    ``scopes`` are the credentials'. ``is_authenticated`` and ``identity`` serve
    middleware that look at ``scope["user"]`` synchronously (response cache, rate
    limits ``by_user``).
    """

    __slots__ = ("_auth", "_backends", "_conn", "_credentials", "_user")

    def __init__(self, auth: Auth, backends: Sequence[Backend], conn: HTTPConnection) -> None:
        self._auth = auth
        self._backends = backends
        self._conn = conn
        self._user: Any = None
        self._credentials: AuthCredentials | None = None

    async def __call__(self) -> Any:
        if self._credentials is None:
            credentials, user = await authenticate_with(self._backends, self._conn)
            self.set(user, credentials.scopes)
        return self._user

    def set(self, user: Any, scopes: Sequence[str]) -> None:
        """Replace the user (``Auth.login`` and ``logout`` do it for this request)."""
        self._user = user
        auth = self._conn.scope.get("auth")
        if isinstance(auth, AuthCredentials):
            auth.scopes = list(scopes)
            self._credentials = auth
        else:
            self._credentials = AuthCredentials(scopes)

    @property
    def auth(self) -> Auth:
        return self._auth

    @property
    def loaded(self) -> bool:
        return self._credentials is not None

    @property
    def scopes(self) -> list[str]:
        return list(self._credentials.scopes) if self._credentials is not None else []

    @property
    def is_authenticated(self) -> bool:
        """The user's, once loaded. Before, a guess that errs on the safe side for
        middleware reading it synchronously (the response cache skips authenticated
        requests): True when the request carries a logged-in session or an
        ``Authorization`` header."""
        if self._credentials is not None:
            return bool(getattr(self._user, "is_authenticated", False))
        session = self._conn.scope.get("session")
        if isinstance(session, dict) and SESSION_KEY in session:
            return True
        return any(name == b"authorization" for name, _ in self._conn.scope["headers"])

    @property
    def identity(self) -> str | None:
        """The loaded user's ``identity`` (None before loading, or anonymous)."""
        return getattr(self._user, "identity", None) if self.loaded else None

    def __repr__(self) -> str:
        return f"LazyUser({self._user!r})" if self.loaded else "LazyUser(<not loaded>)"


class AuthMiddleware:
    """Put a ``LazyUser`` on every HTTP request and WebSocket (``request.user``).

    >>> from vivace.sessions import StoreSessionMiddleware
    >>> from vivace.stores import MemoryStore
    >>> from vivace.web import App, Middleware
    >>> auth = Auth(secret_key="change-me")
    >>> app = App(middleware=[
    ...     Middleware(StoreSessionMiddleware, store=MemoryStore(), secret_key="change-me"),
    ...     Middleware(AuthMiddleware, auth=auth),
    ... ])

    ``backends`` default to ``[SessionBackend(auth)]``. ``scope["auth"]`` holds the
    credentials (``request.auth.scopes``), filled in when the user is loaded.
    """

    def __init__(self, app: ASGIApp, auth: Auth, backends: Sequence[Backend] | None = None) -> None:
        self.app = app
        self.auth = auth
        self.backends = list(backends) if backends is not None else [SessionBackend(auth)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["auth"] = AuthCredentials()
            scope["user"] = LazyUser(self.auth, self.backends, HTTPConnection(scope))
        await self.app(scope, receive, send)
