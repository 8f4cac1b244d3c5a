"""The exceptions of vivace.orm: one tree, built for ``except`` clauses.

Errors from the database itself (a unique violation, a lost connection ...) are not
wrapped: they surface as vivace.db's own tree (``vivace.db.IntegrityError`` ...), so
one ``except`` clause catches them whether the SQL came from the ORM or was raw.

::

    ORMError
    ├── FieldError                an unknown field, lookup or relation path (names the
    │                             model and the valid choices); also a ValueError
    ├── ObjectDoesNotExist        get() found nothing; each model has its own
    │                             subclass, ``Article.DoesNotExist``
    ├── MultipleObjectsReturned   get() found more than one row
    │                             (``Article.MultipleObjectsReturned``)
    ├── NotLoadedError            a relation (or a deferred field) was touched before it
    │                             was loaded: the message names select_related,
    │                             prefetch_related and fetch_related
    ├── DeletionError
    │   ├── ProtectedError        on_delete=PROTECT refused the deletion (.protected_objects)
    │   └── RestrictedError       on_delete=RESTRICT refused the deletion (.restricted_objects)
    ├── ModelDefinitionError      a model class is declared wrongly (also a TypeError)
    ├── ValidationError           full_clean() found invalid values, or a filter or
    │                             written value cannot be the field's type (.errors:
    │                             path → messages)
    ├── InvalidPage               a page number or cursor names no page (also a ValueError)
    │   ├── PageNotAnInteger
    │   └── EmptyPage
    └── QueryError                a queryset was used in a way that cannot work (slicing
        │                         after a slice, update() of a sliced queryset ...)
        └── NotSupportedError     what the database in use cannot do (distinct(*fields)
                                  anywhere but PostgreSQL); Django's NotSupportedError

>>> try:
...     raise FieldError("Article has no field 'titel' (choices: id, title)")
... except ORMError as exc:
...     print(exc)
Article has no field 'titel' (choices: id, title)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "DeletionError",
    "EmptyPage",
    "FieldError",
    "InvalidPage",
    "ModelDefinitionError",
    "MultipleObjectsReturned",
    "NotLoadedError",
    "NotSupportedError",
    "ORMError",
    "ObjectDoesNotExist",
    "PageNotAnInteger",
    "ProtectedError",
    "QueryError",
    "RestrictedError",
    "ValidationError",
]


class ORMError(Exception):
    """Base of every vivace.orm error (database errors stay vivace.db's own)."""


class FieldError(ORMError, ValueError):
    """An unknown field, lookup or relation path; the message lists the valid choices."""


class ObjectDoesNotExist(ORMError):
    """``get()`` matched no row.  Each model has a subclass: ``Article.DoesNotExist``."""


class MultipleObjectsReturned(ORMError):
    """``get()`` matched more than one row (``Article.MultipleObjectsReturned``)."""


class NotLoadedError(ORMError, AttributeError):
    """A relation or deferred field was read before it was loaded (no hidden queries)."""


class DeletionError(ORMError):
    """A deletion was refused by an ``on_delete`` rule."""


class ProtectedError(DeletionError):
    """``on_delete=PROTECT``: rows still refer to what was to be deleted."""

    def __init__(self, message: str, protected_objects: Sequence[Any]) -> None:
        super().__init__(message)
        self.protected_objects = list(protected_objects)


class RestrictedError(DeletionError):
    """``on_delete=RESTRICT``: rows outside the deletion still refer to it."""

    def __init__(self, message: str, restricted_objects: Sequence[Any]) -> None:
        super().__init__(message)
        self.restricted_objects = list(restricted_objects)


class ModelDefinitionError(ORMError, TypeError):
    """A model class is declared wrongly (two primary keys, a bad Meta option ...)."""


class ValidationError(ORMError, ValueError):
    """``full_clean()`` found invalid values, or a filter value or a value written
    (``create``, ``save``, ``update``, ``bulk_create`` ...) is not of its field's type
    and does not parse as one (``age="abc"``), or does not fit it (a DecimalField's
    ``max_digits``); raised before any SQL.

    ``errors`` maps a field name (``"__all__"`` for the whole object) to its messages.
    """

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        text = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in errors.items())
        super().__init__(text)


class InvalidPage(ORMError, ValueError):
    """A page number or cursor that names no page."""


class PageNotAnInteger(InvalidPage):
    """The page number is not an integer."""


class EmptyPage(InvalidPage):
    """The page number is out of range."""


class QueryError(ORMError):
    """A queryset was used in a way that cannot work (say, filtering after a slice)."""


class NotSupportedError(QueryError):
    """The database in use cannot run this query (``distinct("field")`` is PostgreSQL's
    ``DISTINCT ON``); the message names the backend.  Django's ``NotSupportedError``."""
