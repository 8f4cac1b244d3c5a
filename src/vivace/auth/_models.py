"""The auth models: users (extend ``AbstractUser`` or bring your own), groups, permissions.

Tables (Django's names, so a Django project's data maps one to one)::

    auth_user               User: username, password hash, email, flags, dates
    auth_group              Group: a name
    auth_permission         Permission: codename ("add_article"), name, model (a table)
    auth_group_permissions  Group.permissions (many-to-many)
    auth_user_groups        UserGroup: user_id -> group
    auth_user_permissions   UserPermission: user_id -> permission

The user links hold the user's primary key as a plain column, not a foreign key to
``auth_user``: an app that replaces the user model (``Auth(user_model=Member)``) keeps
groups and permissions without touching these tables' definitions. So the database does
not delete them with the user: ``user.delete()`` (and ``Auth.delete_user``) does, in the
same transaction. A bulk ``User.objects.filter(...).delete()`` does not: left behind,
the links would pass to a later user given the same key (SQLite reuses the largest).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from vivace import orm
from vivace.orm import (
    CASCADE,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKey,
    ManyToManyField,
    Model,
)

if TYPE_CHECKING:
    from vivace.db import Database

__all__ = [
    "PERMISSION_ACTIONS",
    "AbstractUser",
    "AnonymousUser",
    "Group",
    "Permission",
    "User",
    "UserGroup",
    "UserPermission",
    "auth_models",
    "create_permissions",
    "create_tables",
    "drop_tables",
    "permission_codename",
]

#: The permissions every model gets from ``create_permissions`` (Django's four).
PERMISSION_ACTIONS = ("add", "change", "delete", "view")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Permission(Model):
    """A permission: ``codename`` (``"add_article"``) on the model stored in ``model``."""

    codename: str = CharField(max_length=100, unique=True)
    name: str = CharField(max_length=255)
    model: str = CharField(max_length=100, db_index=True)

    class Meta:
        table = "auth_permission"
        ordering = ("codename",)


class Group(Model):
    """A named set of permissions users belong to."""

    name: str = CharField(max_length=150, unique=True)
    permissions = ManyToManyField(Permission, related_name="groups")

    class Meta:
        table = "auth_group"


class AbstractUser(Model):
    """The fields and behaviour of a user; subclass it to add fields.

    >>> from vivace.orm import CharField
    >>> class Member(AbstractUser):
    ...     nickname: str = CharField(max_length=50, default="")
    ...     class Meta:
    ...         table = "member"

    ``USERNAME_FIELD`` names the field people log in with (``username``; set it to
    ``"email"`` for e-mail logins, and make that field unique).
    """

    USERNAME_FIELD: ClassVar[str] = "username"

    username: str = CharField(max_length=150, unique=True)
    # 255: an argon2id hash with large parameters is longer than Django's 128.
    password: str = CharField(max_length=255, default="")
    email: str = CharField(max_length=254, default="", blank=True)
    is_active: bool = BooleanField(default=True)
    is_staff: bool = BooleanField(default=False)
    is_superuser: bool = BooleanField(default=False)
    last_login: datetime.datetime | None = DateTimeField(null=True, default=None)
    date_joined: datetime.datetime = DateTimeField(default=_now)

    class Meta:
        abstract = True

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def identity(self) -> str:
        """The primary key as a string (what rate limits ``by_user`` key on)."""
        return str(self.pk)

    @property
    def display_name(self) -> str:
        return str(getattr(self, self.USERNAME_FIELD))

    def __repr__(self) -> str:
        # Never the password hash: reprs end up in logs and tracebacks.
        return f"<{type(self).__name__} {self.pk}: {self.display_name!r}>"

    async def delete(self, *, using: Database | None = None) -> int:
        """Delete the user and its group and permission links, in one transaction.

        Its sessions and bearer tokens die with it (each is checked against the row on
        use). Returns the user rows deleted (1).
        """
        async with orm.database(using).transaction():
            await UserGroup.objects.using(using).filter(user_id=self.pk).delete()
            await UserPermission.objects.using(using).filter(user_id=self.pk).delete()
            return await super().delete(using=using)


class User(AbstractUser):
    """The default user model (table ``auth_user``)."""

    class Meta:
        table = "auth_user"


class UserGroup(Model):
    """A user's membership of a group (``user_id`` is the user model's primary key)."""

    user_id: int = BigIntegerField(db_index=True)
    group: Group = ForeignKey(Group, on_delete=CASCADE, related_name="user_links")

    class Meta:
        table = "auth_user_groups"
        unique_together = (("user_id", "group"),)


class UserPermission(Model):
    """A permission granted to one user directly."""

    user_id: int = BigIntegerField(db_index=True)
    permission: Permission = ForeignKey(Permission, on_delete=CASCADE, related_name="user_links")

    class Meta:
        table = "auth_user_permissions"
        unique_together = (("user_id", "permission"),)


class AnonymousUser:
    """The user of a request nobody authenticated: no identity, no permissions.

    >>> AnonymousUser().is_authenticated, AnonymousUser().pk
    (False, None)
    """

    __slots__ = ()
    pk = None
    is_active = False
    is_staff = False
    is_superuser = False

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def is_anonymous(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "AnonymousUser()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnonymousUser)

    def __hash__(self) -> int:
        return hash(AnonymousUser)


def permission_codename(model: type[Model] | str, action: str) -> str:
    """``"<action>_<table>"``: the codename ``create_permissions`` gives a model's permission.

    >>> permission_codename("article", "change")
    'change_article'
    """
    table = model if isinstance(model, str) else model._meta.table_name
    return f"{action}_{table}"


async def create_permissions(
    *models: type[Model], actions: tuple[str, ...] = PERMISSION_ACTIONS, using: Any = None
) -> list[Permission]:
    """Create (if missing) the add/change/delete/view permissions of each model.

    Run it from a data migration or at start-up; it is idempotent.
    """
    created = []
    for model in models:
        table = model._meta.table_name
        for action in actions:
            codename = permission_codename(table, action)
            permission, _ = await Permission.objects.using(using).get_or_create(
                codename=codename,
                defaults={"name": f"Can {action} {model.__name__}", "model": table},
            )
            created.append(permission)
    return created


def auth_models(user_model: type[Model] | None = None) -> list[type[Model]]:
    """The auth models: ``user_model`` (default ``User``), permissions, groups, links."""
    return [user_model or User, Permission, Group, UserGroup, UserPermission]


async def create_tables(user_model: type[Model] | None = None, *, using: Any = None) -> None:
    """Create the auth tables (tests, scripts, first runs; use migrations in production:
    importing ``vivace.auth`` puts them in ``vivace.orm.metadata``). ``user_model``
    replaces ``User`` (its table is made instead of ``auth_user``)."""
    await orm.create_tables(*auth_models(user_model), using=using)


async def drop_tables(user_model: type[Model] | None = None, *, using: Any = None) -> None:
    """Drop the auth tables if they exist."""
    await orm.drop_tables(*auth_models(user_model), using=using)
