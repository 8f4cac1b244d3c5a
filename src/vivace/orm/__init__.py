"""vivace.orm: a Django-style async ORM on vivace.db.

Models with typed fields, lazy chainable querysets compiled once per shape, relations
loaded only when asked (``select_related``, ``prefetch_related``, ``fetch_related``),
Alembic migrations from the models' tables.  See docs/orm.md.

>>> import asyncio
>>> from vivace.db import Database
>>> from vivace.orm import Model, CharField, IntegerField, bind, create_tables, unbind
>>> class Book(Model):
...     title: str = CharField(max_length=100)
...     pages: int = IntegerField(default=0)
>>> async def main():
...     async with Database("sqlite://") as db:
...         bind(db)
...         await create_tables(Book)
...         await Book.objects.create(title="Dune", pages=412)
...         book = await Book.objects.get(title="Dune")
...         found = await Book.objects.filter(pages__gt=100).count()
...         unbind()
...         return book.pages, found
>>> asyncio.run(main())
(412, 1)
"""

from ._errors import (
    DeletionError,
    EmptyPage,
    FieldError,
    InvalidPage,
    ModelDefinitionError,
    MultipleObjectsReturned,
    NotLoadedError,
    NotSupportedError,
    ObjectDoesNotExist,
    ORMError,
    PageNotAnInteger,
    ProtectedError,
    QueryError,
    RestrictedError,
    ValidationError,
)
from ._expressions import Aggregate, Avg, Count, F, Max, Min, OrderBy, Q, Sum, Value
from ._fields import (
    NOT_PROVIDED,
    AutoField,
    BigAutoField,
    BigIntegerField,
    BinaryField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    DurationField,
    EmailField,
    EnumField,
    Field,
    FloatField,
    IntegerField,
    JSONField,
    PositiveBigIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    SlugField,
    SmallIntegerField,
    TextField,
    TimeField,
    UUIDField,
)
from ._managers import Manager, ManyToManyManager, ReverseManager
from ._model import Model
from ._options import CheckConstraint, Index, UniqueConstraint, metadata
from ._pagination import CursorPage, CursorPaginator, Page, Paginator
from ._prefetch import Prefetch
from ._queryset import QuerySet
from ._registry import bind, database, unbind
from ._relations import (
    CASCADE,
    DO_NOTHING,
    PROTECT,
    RESTRICT,
    SET_DEFAULT,
    SET_NULL,
    ForeignKey,
    ManyToManyField,
    OnDelete,
    OneToOneField,
    ReverseManagerDescriptor,
)
from ._schema import model_schema
from ._tables import create_tables, drop_tables

__all__ = [
    "CASCADE",
    "DO_NOTHING",
    "NOT_PROVIDED",
    "PROTECT",
    "RESTRICT",
    "SET_DEFAULT",
    "SET_NULL",
    "Aggregate",
    "AutoField",
    "Avg",
    "BigAutoField",
    "BigIntegerField",
    "BinaryField",
    "BooleanField",
    "CharField",
    "CheckConstraint",
    "Count",
    "CursorPage",
    "CursorPaginator",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "DeletionError",
    "DurationField",
    "EmailField",
    "EmptyPage",
    "EnumField",
    "F",
    "Field",
    "FieldError",
    "FloatField",
    "ForeignKey",
    "Index",
    "IntegerField",
    "InvalidPage",
    "JSONField",
    "Manager",
    "ManyToManyField",
    "ManyToManyManager",
    "Max",
    "Min",
    "Model",
    "ModelDefinitionError",
    "MultipleObjectsReturned",
    "NotLoadedError",
    "NotSupportedError",
    "ORMError",
    "ObjectDoesNotExist",
    "OnDelete",
    "OneToOneField",
    "OrderBy",
    "Page",
    "PageNotAnInteger",
    "Paginator",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "Prefetch",
    "ProtectedError",
    "Q",
    "QueryError",
    "QuerySet",
    "RestrictedError",
    "ReverseManager",
    "ReverseManagerDescriptor",
    "SlugField",
    "SmallIntegerField",
    "Sum",
    "TextField",
    "TimeField",
    "UUIDField",
    "UniqueConstraint",
    "ValidationError",
    "Value",
    "bind",
    "create_tables",
    "database",
    "drop_tables",
    "metadata",
    "model_schema",
    "unbind",
]
