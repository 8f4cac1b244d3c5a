"""Test models of the auth suite (their tables are made with the auth tables)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from vivace.auth import AbstractUser
from vivace.orm import CharField, UUIDField


class Member(AbstractUser):
    """A replaced user model: logs in by e-mail."""

    USERNAME_FIELD: ClassVar[str] = "email"
    email: str = CharField(max_length=254, unique=True)
    nickname: str = CharField(max_length=50, default="")

    class Meta:
        table = "auth_test_member"


class UUIDUser(AbstractUser):
    """A user model keyed by UUID (no table: for the key coercion tests)."""

    id: uuid.UUID = UUIDField(primary_key=True, default=uuid.uuid4)

    class Meta:
        table = "auth_test_uuid_user"


class CodeUser(AbstractUser):
    """A user model keyed by a string (no table)."""

    code: str = CharField(max_length=20, primary_key=True)

    class Meta:
        table = "auth_test_code_user"
