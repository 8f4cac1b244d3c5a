"""Schemas shared by the vivace.schema tests."""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Generic, Literal, TypeVar

from vivace.schema import Field, Schema


class Permissions(enum.Enum):
    READ = "READ"
    WRITE = "WRITE"
    READ_WRITE = "READ_WRITE"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class File(Schema, tag="file", omit_defaults=True):
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    nbytes: Annotated[int, Field(ge=0)]
    permissions: Permissions


class Directory(Schema, tag="directory", omit_defaults=True):
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    contents: list[File | Directory]


class Address(Schema):
    street: str
    city: str = "Paris"
    zip_code: Annotated[str, Field(pattern=r"^[0-9]{5}$")] = "75001"


class User(Schema):
    name: Annotated[str, Field(min_length=1, max_length=20)]
    age: Annotated[int, Field(ge=0, le=150)] = 0
    email: str | None = None
    tags: list[str] = Field(default_factory=list)
    address: Address | None = None
    kind: Literal["person", "robot"] = "person"


def tree_json(depth: int = 2) -> dict[str, object]:
    """A small valid File/Directory document."""
    f = {
        "type": "file",
        "name": "a.txt",
        "created_by": "ada",
        "created_at": "2020-01-02T03:04:05+00:00",
        "nbytes": 10,
        "permissions": "READ",
    }
    node: dict[str, object] = {
        "type": "directory",
        "name": "d0",
        "created_by": "bo",
        "created_at": "2021-01-01T00:00:00Z",
        "contents": [dict(f)],
    }
    for i in range(1, depth):
        node = {**node, "name": f"d{i}", "contents": [node, dict(f)]}
    return node


__all__ = ["Address", "Directory", "File", "Level", "Permissions", "User", "tree_json"]


T = TypeVar("T")


class Item(Schema):
    name: str


class Box(Schema, Generic[T]):
    item: T


class Page(Schema, Generic[T]):
    items: list[T]
    total: int = 0
