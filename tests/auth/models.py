"""Test models of the auth suite (their tables are made with the auth tables)."""

from __future__ import annotations

from typing import ClassVar

from vivace.auth import AbstractUser
from vivace.orm import CharField


class Member(AbstractUser):
    """A replaced user model: logs in by e-mail."""

    USERNAME_FIELD: ClassVar[str] = "email"
    email: str = CharField(max_length=254, unique=True)
    nickname: str = CharField(max_length=50, default="")

    class Meta:
        table = "auth_test_member"
