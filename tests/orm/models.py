"""The models the ORM suite runs against, with table names unique to this test run.

Other runs share the database servers, so every table name carries RUN; the tables
are created once per backend (see conftest) and dropped at the end.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any, ClassVar

import sqlalchemy as sa

from vivace.orm import (
    CASCADE,
    DO_NOTHING,
    PROTECT,
    RESTRICT,
    SET_DEFAULT,
    SET_NULL,
    BigIntegerField,
    BinaryField,
    BooleanField,
    CharField,
    CheckConstraint,
    DateField,
    DateTimeField,
    DecimalField,
    DurationField,
    EmailField,
    EnumField,
    FloatField,
    ForeignKey,
    Index,
    IntegerField,
    JSONField,
    ManyToManyField,
    Model,
    OneToOneField,
    PositiveIntegerField,
    Q,
    ReverseManagerDescriptor,
    SlugField,
    SmallIntegerField,
    TextField,
    TimeField,
    UniqueConstraint,
    UUIDField,
)

from ..db.conftest import unique_name

RUN = unique_name("o")  # o_<12 hex>: every table of this run ends with it
METADATA = sa.MetaData()


def tname(name: str) -> str:
    return f"{RUN}_{name}"


class Base(Model):
    class Meta:
        abstract = True
        metadata = METADATA


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Everything(Base):
    """One field of every type."""

    small: int = SmallIntegerField(default=0)
    integer: int = IntegerField(default=0)
    big: int = BigIntegerField(default=0)
    positive: int = PositiveIntegerField(default=0)
    ratio: float = FloatField(default=0.0)
    price: decimal.Decimal = DecimalField(
        max_digits=12, decimal_places=2, default=decimal.Decimal(0)
    )
    name: str = CharField(max_length=40, default="")
    body: str = TextField(default="")
    flag: bool = BooleanField(default=False)
    day: datetime.date | None = DateField(null=True, default=None)
    moment: datetime.datetime | None = DateTimeField(null=True, default=None)
    clock: datetime.time | None = TimeField(null=True, default=None)
    span: datetime.timedelta | None = DurationField(null=True, default=None)
    uid: uuid.UUID | None = UUIDField(null=True, default=None)
    doc: Any = JSONField(null=True, default=None)
    blob: bytes | None = BinaryField(null=True, default=None)
    color: Color | None = EnumField(Color, null=True, default=None)
    level: Level | None = EnumField(Level, null=True, default=None)

    class Meta:
        table = tname("everything")


class Country(Base):
    name: str = CharField(max_length=40, unique=True)

    class Meta:
        table = tname("country")
        ordering = ("name",)


class Author(Base):
    name: str = CharField(max_length=40)
    age: int = IntegerField(default=30)
    country: Country | None = ForeignKey(
        Country, on_delete=SET_NULL, null=True, default=None, related_name="authors"
    )
    books: ClassVar[ReverseManagerDescriptor[Book]]

    class Meta:
        table = tname("author")
        ordering = ("name",)


class Tag(Base):
    name: str = CharField(max_length=20, unique=True)

    class Meta:
        table = tname("tag")


class Book(Base):
    title: str = CharField(max_length=80)
    pages: int = IntegerField(default=100)
    price: decimal.Decimal = DecimalField(
        max_digits=8, decimal_places=2, default=decimal.Decimal("9.99")
    )
    published: datetime.date | None = DateField(null=True, default=None)
    rating: float | None = FloatField(null=True, default=None)
    author: Author = ForeignKey("Author", on_delete=CASCADE, related_name="books")
    editor: Author | None = ForeignKey(
        "Author", on_delete=SET_NULL, null=True, default=None, related_name="edited"
    )
    tags = ManyToManyField(Tag, related_name="books")
    extra: Any = JSONField(null=True, default=None)

    class Meta:
        table = tname("book")
        indexes = (Index(fields=["-published", "title"], name=tname("ix_book_recent")),)
        constraints = (CheckConstraint(check=Q(pages__gte=0), name=tname("ck_pages")),)


class Profile(Base):
    """A one-to-one side of Author."""

    author: Author = OneToOneField(Author, on_delete=CASCADE, related_name="profile")
    bio: str = TextField(default="")

    class Meta:
        table = tname("profile")


class Group(Base):
    name: str = CharField(max_length=30)
    members = ManyToManyField(Author, through="Membership", related_name="groups")

    class Meta:
        table = tname("group")


class Membership(Base):
    group: Group = ForeignKey(Group, on_delete=CASCADE)
    author: Author = ForeignKey(Author, on_delete=CASCADE)
    role: str = CharField(max_length=20, default="member")

    class Meta:
        table = tname("membership")
        unique_together = ("group", "author")


class Node(Base):
    """A self-referential tree with a self many-to-many."""

    name: str = CharField(max_length=30)
    parent: Node | None = ForeignKey(
        "self", on_delete=CASCADE, null=True, default=None, related_name="children"
    )
    links = ManyToManyField("self", related_name="linked_from")

    class Meta:
        table = tname("node")


class Owner(Base):
    name: str = CharField(max_length=30)

    class Meta:
        table = tname("owner")


def _default_owner() -> int | None:
    return None


class Pet(Base):
    """Every on_delete rule, each on its own foreign key to Owner."""

    name: str = CharField(max_length=30)
    cascade: Owner | None = ForeignKey(
        Owner, on_delete=CASCADE, null=True, default=None, related_name="c_pets"
    )
    protect: Owner | None = ForeignKey(
        Owner, on_delete=PROTECT, null=True, default=None, related_name="p_pets"
    )
    restrict: Owner | None = ForeignKey(
        Owner, on_delete=RESTRICT, null=True, default=None, related_name="r_pets"
    )
    set_null: Owner | None = ForeignKey(
        Owner, on_delete=SET_NULL, null=True, default=None, related_name="n_pets"
    )
    set_default: Owner | None = ForeignKey(
        Owner, on_delete=SET_DEFAULT, null=True, default=None, related_name="d_pets"
    )
    nothing: Owner | None = ForeignKey(
        Owner,
        on_delete=DO_NOTHING,
        null=True,
        default=None,
        related_name="x_pets",
        db_constraint=False,
    )
    loose: Owner | None = ForeignKey(
        Owner,
        on_delete=CASCADE,
        null=True,
        default=None,
        related_name="l_pets",
        db_constraint=False,
    )

    class Meta:
        table = tname("pet")


class Toy(Base):
    """Cascades from Pet; restricted by nothing — reached through Pet.cascade."""

    pet: Pet = ForeignKey(Pet, on_delete=CASCADE, related_name="toys")
    keeper: Owner | None = ForeignKey(
        Owner, on_delete=RESTRICT, null=True, default=None, related_name="kept_toys"
    )

    class Meta:
        table = tname("toy")


class Slot(Base):
    """Unique constraints for get_or_create races and conflicts."""

    code: str = CharField(max_length=20, unique=True)
    count: int = IntegerField(default=0)
    label: str = CharField(max_length=20, default="")
    uid: uuid.UUID = UUIDField(default=uuid.uuid4)

    class Meta:
        table = tname("slot")
        constraints = (UniqueConstraint(fields=["label", "count"], name=tname("uq_slot_label")),)


class Stamped(Base):
    """auto_now_add and auto_now."""

    note: str = CharField(max_length=20, default="")
    created: datetime.datetime = DateTimeField(auto_now_add=True)
    modified: datetime.datetime = DateTimeField(auto_now=True)
    day: datetime.date = DateField(auto_now_add=True)

    class Meta:
        table = tname("stamped")


class Reservation(Base):
    """A partial unique constraint (one active reservation per room), a partial index,
    a renamed column."""

    room: int = IntegerField(db_column="room_no")
    active: bool = BooleanField(default=True)
    guest: str = CharField(max_length=20, default="")

    class Meta:
        table = tname("reservation")
        constraints = (
            UniqueConstraint(
                fields=["room"], name=tname("uq_active_room"), condition=Q(active=True)
            ),
        )
        indexes = (
            Index(fields=["guest"], name=tname("ix_guest_active"), condition=Q(active=True)),
        )


class Ticket(Base):
    """A key the application makes (a UUID): converted for each backend where it is bound."""

    code: uuid.UUID = UUIDField(primary_key=True, default=uuid.uuid4)
    seat: int = IntegerField(default=0)

    class Meta:
        table = tname("ticket")


class Page(Base):
    """SlugField and EmailField."""

    slug: str = SlugField(unique=True)
    label: str = SlugField(allow_unicode=True, max_length=20, default="x", blank=True)
    email: str = EmailField(default="", blank=True)
    contact: str | None = EmailField(null=True, default=None, db_index=True)

    class Meta:
        table = tname("page")


ALL = [
    Page,
    Ticket,
    Reservation,
    Stamped,
    Everything,
    Country,
    Author,
    Tag,
    Book,
    Profile,
    Group,
    Membership,
    Node,
    Owner,
    Pet,
    Toy,
    Slot,
]
