"""``Auth``: an app's auth settings and the flows built on them.

One object names the user model (the hook for apps that replace it), the password
hashers, the secret that signs reset tokens and session hashes, the login throttle and
the object-permission hook; its methods are the flows:

    authenticate(username, password)    throttled; verifies off the loop; upgrades the hash
    login(conn, user) / logout(conn)    session: rotated on login (session fixation)
    set_password / change_password      a change logs other sessions out and voids tokens
    delete_user(user)                   the user and its group and permission links
    make_reset_token / reset_password   signed, expiring, one-shot
    get_permissions / has_perm(s)       groups, direct grants, superusers, object hook

Session keys (Django's meaning): ``_auth_user_id`` (the primary key as a string) and
``_auth_user_hash``, an HMAC of the stored password hash: when the password changes,
every other session of the user stops matching and is logged out on its next request.
Bearer tokens carry ``token_stamp(user)``, another HMAC of the same hash, for the same
reason: a password change or reset revokes every JWT and opaque token issued before it,
in every process, with no list of tokens to keep (the state is the user's row).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from vivace.auth._hashers import Passwords, unusable_password
from vivace.auth._models import (
    AbstractUser,
    AnonymousUser,
    Group,
    Permission,
    User,
    UserGroup,
    UserPermission,
)
from vivace.csrf import SESSION_KEY as CSRF_SESSION_KEY
from vivace.csrf import rotate_token
from vivace.orm import IntegerField, UUIDField
from vivace.ratelimit import RateLimiter, RateLimitExceeded
from vivace.web import HTTPConnection
from vivace.web.middleware import BadSignature, Signer

__all__ = ["SESSION_HASH_KEY", "SESSION_KEY", "Auth", "ObjectPermission"]

SESSION_KEY = "_auth_user_id"
SESSION_HASH_KEY = "_auth_user_hash"

#: ``hook(user, permission, obj) -> bool`` (sync or async): object-level permissions.
ObjectPermission = Callable[[Any, str, Any], "bool | Awaitable[bool]"]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Auth:
    """The auth settings of an app, and its login, password and permission flows.

    >>> auth = Auth(secret_key="change-me")
    >>> auth.user_model.__name__
    'User'

    ``user_model``: the model users are (default ``vivace.auth.User``; any subclass of
    ``AbstractUser``). ``passwords``: the hashers (default argon2id, then PBKDF2).
    ``throttle``: a ``RateLimiter`` counting login attempts per username (a success
    clears the count); a refused attempt raises ``RateLimitExceeded`` (429) before any
    password is checked. ``object_permission``: ``hook(user, perm, obj)`` deciding
    permissions on one object (without it, an object check is the model-level check).
    ``reset_max_age``: seconds a password-reset token lives. ``using``: the database
    (default: the one ``vivace.orm.bind`` set).
    """

    def __init__(
        self,
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        *,
        user_model: type[AbstractUser] = User,
        passwords: Passwords | None = None,
        throttle: RateLimiter | None = None,
        object_permission: ObjectPermission | None = None,
        reset_max_age: int = 3 * 24 * 60 * 60,
        using: Any = None,
    ) -> None:
        if not (isinstance(user_model, type) and issubclass(user_model, AbstractUser)):
            raise TypeError("user_model must be a subclass of vivace.auth.AbstractUser")
        if user_model._meta.abstract:
            raise TypeError(f"user_model {user_model.__name__} is abstract: it has no table")
        self.user_model = user_model
        self.passwords = passwords if passwords is not None else Passwords()
        self.throttle = throttle
        self.object_permission = object_permission
        self.reset_max_age = reset_max_age
        self.using = using
        self._secret = secret_key
        self._reset_signer = (
            Signer(secret_key, salt=b"vivace.auth.reset") if secret_key is not None else None
        )
        if secret_key is not None:
            first = secret_key if isinstance(secret_key, str | bytes) else secret_key[0]
            raw = first.encode() if isinstance(first, str) else first
            self._hash_key = hmac.new(raw, b"vivace.auth.session", hashlib.sha256).digest()

    def _need_secret(self) -> Signer:
        if self._reset_signer is None:
            raise RuntimeError("this needs Auth(secret_key=...)")
        return self._reset_signer

    # -- users ------------------------------------------------------------------------

    def _users(self) -> Any:
        return self.user_model.objects.using(self.using)

    async def get_user(self, pk: Any) -> AbstractUser | None:
        """The active user with primary key ``pk``, or None."""
        value = _coerce_pk(self.user_model, pk)
        if value is None:
            return None
        user: AbstractUser | None = await self._users().filter(pk=value, is_active=True).first()
        return user

    async def create_user(
        self, username: str, password: str | None = None, /, **fields: Any
    ) -> AbstractUser:
        """A new user; ``username`` fills ``USERNAME_FIELD``; ``password=None`` gives an
        unusable password. An empty ``username`` is a ValueError (as in Django): nobody
        could log in as that user, and the next empty one would collide with it."""
        if not isinstance(username, str) or not username:
            raise ValueError(f"create_user(): {self.user_model.USERNAME_FIELD} must be set")
        encoded = await self.passwords.hash(password) if password is not None else None
        fields[self.user_model.USERNAME_FIELD] = username
        fields["password"] = encoded if encoded is not None else unusable_password()
        user: AbstractUser = await self._users().create(**fields)
        return user

    async def create_superuser(
        self, username: str, password: str, /, **fields: Any
    ) -> AbstractUser:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return await self.create_user(username, password, **fields)

    async def delete_user(self, user: AbstractUser) -> None:
        """Delete ``user`` with its group and permission links (one transaction).

        Its sessions end (flushed on their next request) and its JWTs and opaque
        tokens are refused from then on, in every process: each is checked against
        the user's row, and bound to its password hash, so even a new user given the
        same primary key does not inherit them.
        """
        await user.delete(using=self.using)

    # -- passwords --------------------------------------------------------------------

    async def authenticate(
        self, username: str, password: str, *, conn: HTTPConnection | None = None
    ) -> AbstractUser | None:
        """The active user these credentials belong to, or None.

        Throttled per username when ``throttle`` is set (429 once over the rate). A
        hash made by another algorithm or with weaker parameters than the first
        hasher's is replaced on success. ``conn`` is accepted for backends that look
        at the request; the check itself only needs the credentials.
        """
        if not isinstance(username, str) or not isinstance(password, str):
            return None  # type: ignore[unreachable]  # callers pass form data: anything
        throttle_key = "user:" + hashlib.sha256(username.casefold().encode()).hexdigest()
        if self.throttle is not None:
            result = await self.throttle.hit(throttle_key)
            if not result.allowed:
                raise RateLimitExceeded(result)
        field = self.user_model.USERNAME_FIELD
        # A NUL (which PostgreSQL refuses in text) or an absurd length cannot name a user:
        # no query, but the password is still checked against nothing (same timing).
        plausible = 0 < len(username) <= 1024 and "\x00" not in username
        user: AbstractUser | None = None
        if plausible:
            user = await self._users().filter(**{field: username}).first()
        encoded = user.password if user is not None else None
        matches, must_update = await self.passwords.verify(password, encoded)
        if not matches or user is None or not user.is_active:
            return None
        if must_update:
            user.password = await self.passwords.hash(password)
            await user.save(update_fields=["password"], using=self.using)
        if self.throttle is not None:
            await self.throttle.reset(throttle_key)
        return user

    async def check_password(self, user: AbstractUser, password: str) -> bool:
        matches, _ = await self.passwords.verify(password, user.password)
        return matches

    async def set_password(self, user: AbstractUser, password: str | None) -> None:
        """Hash and save a new password (None: unusable); voids sessions and reset tokens."""
        user.password = (
            await self.passwords.hash(password) if password is not None else unusable_password()
        )
        await user.save(update_fields=["password"], using=self.using)

    async def change_password(
        self,
        user: AbstractUser,
        old_password: str,
        new_password: str,
        conn: HTTPConnection | None = None,
    ) -> bool:
        """Set ``new_password`` if ``old_password`` is right; False otherwise.

        Other sessions of the user are logged out; with ``conn``, the current one stays
        logged in (its session hash is renewed and its id rotated).
        """
        if not await self.check_password(user, old_password):
            return False
        await self.set_password(user, new_password)
        if conn is not None:
            session = _session(conn)
            if session.get(SESSION_KEY) == str(user.pk):
                session[SESSION_HASH_KEY] = self.session_hash(user)
                _rotate(session)
        return True

    def session_hash(self, user: AbstractUser) -> str:
        """HMAC of the stored password hash: a session is valid while it matches."""
        self._need_secret()
        return hmac.new(self._hash_key, user.password.encode(), hashlib.sha256).hexdigest()

    def token_stamp(self, user: AbstractUser) -> str:
        """What a bearer token of ``user`` is bound to (JWT claim, opaque token entry).

        An HMAC of the stored password hash, so a new password (``set_password``,
        ``change_password``, ``reset_password``) revokes every token issued before it.
        Keyed by the secret: a JWT's readers learn nothing about the hash. 128 bits.
        """
        self._need_secret()
        message = b"vivace.auth.token\x00" + user.password.encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()[:32]

    def token_stamp_matches(self, user: AbstractUser, stamp: object) -> bool:
        """Whether ``stamp`` (from a token) is the user's current one (constant time)."""
        if not isinstance(stamp, str) or not stamp.isascii():
            return False
        return hmac.compare_digest(stamp.encode(), self.token_stamp(user).encode())

    # -- login and logout -------------------------------------------------------------

    async def login(self, conn: HTTPConnection, user: AbstractUser) -> None:
        """Log ``user`` in on the connection's session (the session id is rotated).

        A session that belonged to another user is emptied first, so nothing of theirs
        carries over. The session's CSRF secret is replaced, as Django's ``login()``
        does: a token handed out before (to whoever planted the session) stops
        working. ``last_login`` is updated (it also voids reset tokens issued before).
        """
        session = _session(conn)
        if session.get(SESSION_KEY) not in (None, str(user.pk)):
            _flush(session)
        else:
            _rotate(session)
            if CSRF_SESSION_KEY in session:
                rotate_token(conn)
        session[SESSION_KEY] = str(user.pk)
        session[SESSION_HASH_KEY] = self.session_hash(user)
        user.last_login = _now()
        await user.save(update_fields=["last_login"], using=self.using)
        loader: Any = conn.scope.get("user")
        if hasattr(loader, "set"):
            loader.set(user, ["authenticated"])

    async def logout(self, conn: HTTPConnection) -> None:
        """End the session (data and id) and make the request anonymous."""
        _flush(_session(conn))
        loader: Any = conn.scope.get("user")
        if hasattr(loader, "set"):
            loader.set(AnonymousUser(), [])

    async def session_user(self, conn: HTTPConnection) -> AbstractUser | None:
        """The user the connection's session is logged in as (None: nobody, or stale)."""
        session = conn.scope.get("session")
        if not isinstance(session, dict):
            return None
        pk, stored_hash = session.get(SESSION_KEY), session.get(SESSION_HASH_KEY)
        if not isinstance(pk, str) or not isinstance(stored_hash, str):
            return None
        user = await self.get_user(pk)
        if user is None or not hmac.compare_digest(
            stored_hash.encode(), self.session_hash(user).encode()
        ):
            # The user is gone, deactivated, or changed their password since.
            _flush(session)
            return None
        return user

    # -- password reset ---------------------------------------------------------------

    def _reset_state(self, user: AbstractUser) -> bytes:
        # What a reset token is bound to: the password hash and the last login. Using
        # the token changes the first, so a token works once; a login voids it too.
        last = user.last_login.isoformat() if user.last_login else ""
        message = f"{user.pk}\x00{user.password}\x00{last}".encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()[:32].encode()

    def make_reset_token(self, user: AbstractUser) -> str:
        """A signed token that lets ``user`` set a new password once, within
        ``reset_max_age`` seconds (send it by e-mail, never log it)."""
        signer = self._need_secret()
        payload = str(user.pk).encode() + b":" + self._reset_state(user)
        return signer.sign(payload).decode("ascii")

    async def check_reset_token(self, token: str) -> AbstractUser | None:
        """The user a valid, unexpired, unused reset token belongs to, else None."""
        signer = self._need_secret()
        if not isinstance(token, str) or len(token) > 512 or not token.isascii():
            return None
        try:
            payload, _, _ = signer.unsign(token.encode("ascii"), max_age=self.reset_max_age)
        except BadSignature:
            return None
        pk, _, state = payload.partition(b":")
        user = await self.get_user(pk.decode("ascii", "replace"))
        if user is None or not hmac.compare_digest(state, self._reset_state(user)):
            return None
        return user

    async def reset_password(self, token: str, new_password: str) -> AbstractUser | None:
        """Set a new password with a reset token; the user, or None for a bad token."""
        user = await self.check_reset_token(token)
        if user is None:
            return None
        await self.set_password(user, new_password)
        return user

    # -- groups and permissions -------------------------------------------------------

    async def get_permissions(self, user: Any) -> set[str]:
        """Codenames the user holds, directly and through groups (superusers: all)."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return set()
        permissions = Permission.objects.using(self.using)
        if user.is_superuser:
            return set(await permissions.values_list("codename", flat=True))
        direct = await permissions.filter(user_links__user_id=user.pk).values_list(
            "codename", flat=True
        )
        grouped = await permissions.filter(groups__user_links__user_id=user.pk).values_list(
            "codename", flat=True
        )
        return set(direct) | set(grouped)

    async def has_perm(self, user: Any, permission: str, obj: Any = None) -> bool:
        """Whether ``user`` holds ``permission`` (on ``obj`` when given). Active
        superusers hold every permission, existing or not, on every object."""
        return await self.has_perms(user, [permission], obj)

    async def has_perms(self, user: Any, permissions: Iterable[str], obj: Any = None) -> bool:
        wanted = list(permissions)
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        if user.is_superuser:  # every permission, on every object (as in Django)
            return True
        cached = getattr(user, "_vivace_permissions", None)
        if cached is None:
            cached = await self.get_permissions(user)
            try:
                user._vivace_permissions = cached
            except AttributeError:  # pragma: no cover - a user model with __slots__
                pass
        if obj is not None and self.object_permission is not None:
            for permission in wanted:
                allowed = self.object_permission(user, permission, obj)
                if inspect.isawaitable(allowed):
                    allowed = await allowed
                if not allowed:
                    return False
            return True
        return all(permission in cached for permission in wanted)

    async def grant(self, user: AbstractUser, *codenames: str) -> None:
        """Give ``user`` these permissions directly. A codename with no permission (a typo,
        a model whose permissions were not created) raises ``ValueError`` naming it, and
        nothing is granted: a grant that silently did nothing would go unnoticed until the
        user is refused."""
        permissions = await Permission.objects.using(self.using).filter(
            codename__in=list(codenames)
        )
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise ValueError(
                f"grant(): no permission named {', '.join(map(repr, sorted(missing)))} "
                "(create_permissions() makes a model's permissions)"
            )
        for permission in permissions:
            await UserPermission.objects.using(self.using).get_or_create(
                user_id=user.pk, permission=permission
            )
        _forget_permissions(user)

    async def add_to_group(self, user: AbstractUser, group: Group) -> None:
        await UserGroup.objects.using(self.using).get_or_create(user_id=user.pk, group=group)
        _forget_permissions(user)

    async def remove_from_group(self, user: AbstractUser, group: Group) -> None:
        await UserGroup.objects.using(self.using).filter(user_id=user.pk, group=group).delete()
        _forget_permissions(user)


def _coerce_pk(model: type[AbstractUser], value: Any) -> Any:
    """``value`` (from a session, a token's ``sub``) as the user model's key, or None.

    These values come from clients (signed, but a key may be rotated, a model changed):
    a wrong type must mean "no user", never a database error.
    """
    field = model._meta.pk
    if isinstance(field, IntegerField):
        if isinstance(value, bool):
            return None
        if isinstance(value, str):
            if not (value.isascii() and value.isdigit() and len(value) <= 19):
                return None
            value = int(value)
        if not isinstance(value, int) or not 0 < value < 2**63:
            return None
        return value
    if isinstance(field, UUIDField):
        try:
            return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        except ValueError:
            return None
    return value if isinstance(value, str | int) else None


def _forget_permissions(user: Any) -> None:
    user.__dict__.pop("_vivace_permissions", None)


def _session(conn: HTTPConnection) -> dict[str, Any]:
    session = conn.scope.get("session")
    if not isinstance(session, dict):
        raise RuntimeError(
            "login and logout need a session: install vivace.sessions.StoreSessionMiddleware"
        )
    return session


def _rotate(session: dict[str, Any]) -> None:
    rotate = getattr(session, "rotate", None)
    if rotate is not None:
        rotate()


def _flush(session: dict[str, Any]) -> None:
    flush = getattr(session, "flush", None)
    if flush is not None:
        flush()
    else:
        session.clear()
