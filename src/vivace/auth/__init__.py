"""vivace.auth: users, groups and permissions on vivace.orm; passwords; login flows.

>>> import asyncio
>>> from vivace.db import Database
>>> from vivace import orm
>>> from vivace.auth import Auth, PBKDF2Hasher, Passwords, User, create_tables
>>> auth = Auth(secret_key="change-me", passwords=Passwords([PBKDF2Hasher(iterations=1000)]))
>>> async def main():
...     async with Database("sqlite://") as db:
...         orm.bind(db)
...         await create_tables()
...         await auth.create_user("ada", "correct horse")
...         user = await auth.authenticate("ada", "correct horse")
...         wrong = await auth.authenticate("ada", "battery staple")
...         orm.unbind()
...         return user.username, wrong
>>> asyncio.run(main())
('ada', None)

Sessions (``Auth.login``) need ``vivace.sessions.StoreSessionMiddleware``; JWTs need
PyJWT and argon2 needs argon2-cffi: ``pip install 'vivace[auth]'``. See docs/auth.md.

Layer: above ``vivace.orm``, ``vivace.stores`` and ``vivace.web`` (DESIGN.md).
"""

from vivace.auth._backends import (
    AuthMiddleware,
    Backend,
    InvalidToken,
    JWTBackend,
    LazyUser,
    SessionBackend,
    TokenBackend,
)
from vivace.auth._core import SESSION_HASH_KEY, SESSION_KEY, Auth, ObjectPermission
from vivace.auth._guards import Authenticated, login_required, permission_required, requires
from vivace.auth._hashers import (
    MAX_PASSWORD_LENGTH,
    Argon2Hasher,
    Hasher,
    Passwords,
    PBKDF2Hasher,
)
from vivace.auth._models import (
    PERMISSION_ACTIONS,
    AbstractUser,
    AnonymousUser,
    Group,
    Permission,
    User,
    UserGroup,
    UserPermission,
    auth_models,
    create_permissions,
    create_tables,
    drop_tables,
    permission_codename,
)

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "PERMISSION_ACTIONS",
    "SESSION_HASH_KEY",
    "SESSION_KEY",
    "AbstractUser",
    "AnonymousUser",
    "Argon2Hasher",
    "Auth",
    "AuthMiddleware",
    "Authenticated",
    "Backend",
    "Group",
    "Hasher",
    "InvalidToken",
    "JWTBackend",
    "LazyUser",
    "ObjectPermission",
    "PBKDF2Hasher",
    "Passwords",
    "Permission",
    "SessionBackend",
    "TokenBackend",
    "User",
    "UserGroup",
    "UserPermission",
    "auth_models",
    "create_permissions",
    "create_tables",
    "drop_tables",
    "login_required",
    "permission_codename",
    "permission_required",
    "requires",
]
