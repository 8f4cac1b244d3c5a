"""Creating tables at start-up from several processes at once."""

from __future__ import annotations

from collections.abc import Iterable

from vivace.db._database import Database
from vivace.db._errors import IntegrityError, ProgrammingError, TransactionConflict

__all__ = ["create_if_absent"]

# What PostgreSQL answers the loser of two concurrent CREATE ... IF NOT EXISTS of one
# object (both checked "not exists" first): a unique violation on its catalog (23505,
# an IntegrityError), "type ... already exists" (42710, a table's row type) or
# "relation ... already exists" (42P07). Each means the object is there now.
_CREATED_MEANWHILE = frozenset(("42710", "42P07"))


async def create_if_absent(db: Database, statements: Iterable[str]) -> None:
    """Run ``CREATE ... IF NOT EXISTS`` statements, in order, tolerating a twin process
    that runs the same ones at the same moment (workers starting together).

    ``IF NOT EXISTS`` alone is not enough on PostgreSQL: of two concurrent creations of one
    table, one can fail although the table then exists. Such a failure is answered by
    running the statement once more (which then finds the table); any other error is
    raised as it is.
    """
    for statement in statements:
        try:
            await db.execute(statement)
        except (IntegrityError, TransactionConflict, ProgrammingError) as exc:
            if isinstance(exc, ProgrammingError) and exc.sqlstate not in _CREATED_MEANWHILE:
                raise
            await db.execute(statement)
