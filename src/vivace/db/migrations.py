"""Alembic, wired to vivace.db: what ``vivace db ...`` runs, and what env.py calls.

Where things come from:

- the database URL: ``--url``, else the ``VIVACE_DATABASE_URL`` environment variable
  (a URL holds a password: it is never written into a file);
- the app's SQLAlchemy ``MetaData`` (for ``revision --autogenerate``): ``--metadata
  module:attribute``, else ``VIVACE_DB_METADATA``, else the reference ``vivace db
  init --metadata ...`` wrote into the generated env.py;
- the migrations folder: ``--directory`` (default ``migrations``).

Alembic needs SQLAlchemy connections: PostgreSQL and MySQL migrate through
SQLAlchemy's async engine over the same drivers vivace uses (asyncpg, asyncmy), SQLite
through the standard library, so no second driver is needed.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

from ._errors import InterfaceError
from ._url import DatabaseURL

__all__ = ["ENV_TEMPLATE", "MigrationConfig", "load_object", "run_migrations"]

ENV_TEMPLATE = '''"""Alembic environment for this project, written by `vivace db init`.

`vivace db revision --autogenerate` compares the database with METADATA; the URL comes
from `--url` or VIVACE_DATABASE_URL.  Edit freely.
"""

from vivace.db.migrations import run_migrations

# The app's SQLAlchemy MetaData as "module:attribute", or None.
METADATA = {metadata!r}

run_migrations(METADATA)
'''

SCRIPT_TEMPLATE = '''"""${message}

Revision: ${up_revision}
Parent: ${down_revision | comma,n}
Created: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''


def load_object(reference: str) -> Any:
    """Import ``"package.module:attribute"`` (the current directory is importable).

    >>> load_object("vivace.db:Database").__name__
    'Database'
    """
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise InterfaceError(f"expected 'module:attribute', got {reference!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InterfaceError(f"cannot import {module_name!r} (from {reference!r}): {exc}") from exc
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise InterfaceError(f"{module_name!r} has no attribute {attribute!r}") from None
    return target


class MigrationConfig:
    """Settings for one ``vivace db`` command, turned into an Alembic Config."""

    def __init__(
        self,
        *,
        directory: str = "migrations",
        url: str | None = None,
        metadata: str | None = None,
        version_table: str = "alembic_version",
    ) -> None:
        self.directory = directory
        self.url = url or os.environ.get("VIVACE_DATABASE_URL")
        self.metadata = metadata or os.environ.get("VIVACE_DB_METADATA")
        self.version_table = version_table

    def require_url(self) -> DatabaseURL:
        if not self.url:
            raise InterfaceError(
                "no database URL: pass --url or set VIVACE_DATABASE_URL "
                "(e.g. postgresql://user@localhost/app)"
            )
        return DatabaseURL(self.url)

    def alembic(self) -> Any:
        from alembic.config import Config

        config = Config(stdout=sys.stdout)  # the current stream (Alembic binds its default early)
        config.set_main_option("script_location", self.directory)
        config.attributes["vivace"] = self
        return config

    def init(self) -> Path:
        """Create the migrations folder: env.py, the revision template, versions/."""
        folder = Path(self.directory)
        if folder.exists() and any(folder.iterdir()):
            raise InterfaceError(f"{folder} already exists and is not empty")
        (folder / "versions").mkdir(parents=True, exist_ok=True)
        (folder / "env.py").write_text(ENV_TEMPLATE.format(metadata=self.metadata))
        (folder / "script.py.mako").write_text(SCRIPT_TEMPLATE)
        return folder


def _target_metadata(default: str | None, settings: MigrationConfig | None) -> Any:
    reference = (settings.metadata if settings is not None else None) or default
    if reference is None:
        return None
    metadata = load_object(reference)
    import sqlalchemy as sa

    if not isinstance(metadata, sa.MetaData):
        raise InterfaceError(f"{reference!r} is a {type(metadata).__name__}, not a MetaData")
    return metadata


def _tidy_revision(context: Any, revision: Any, directives: list[Any]) -> None:
    """Drop the ``drop_index`` of a table that the same step drops anyway.

    Dropping a table drops its indexes; dropping them first is redundant, and MySQL
    refuses it for an index a foreign key needs (error 1553).
    """
    from alembic.operations import ops

    for script in directives:
        for container in (script.upgrade_ops, script.downgrade_ops):
            if container is None:
                continue
            dropped = {op.table_name for op in container.ops if isinstance(op, ops.DropTableOp)}
            kept = []
            for op in container.ops:
                if isinstance(op, ops.DropIndexOp) and op.table_name in dropped:
                    continue
                if isinstance(op, ops.ModifyTableOps) and op.table_name in dropped:
                    op.ops = [o for o in op.ops if not isinstance(o, ops.DropIndexOp)]
                    if not op.ops:
                        continue
                kept.append(op)
            container.ops = kept


def _render_item(kind: str, obj: Any, autogen_context: Any) -> Any:
    """Render a ``JSONB`` variant so that the revision runs on every backend.

    Alembic renders a type of another dialect than the database's with its ``repr``,
    which names ``JSONB``'s default ``astext_type`` as a bare ``Text()`` that the
    revision never imports (a ``NameError`` in ``upgrade()`` on SQLite and MySQL, for
    every model with a ``JSONField``). ``JSONB()`` means the same thing.
    """
    if kind != "type":
        return False
    from sqlalchemy.dialects import postgresql

    if isinstance(obj, postgresql.JSONB) and repr(obj) == repr(postgresql.JSONB()):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB()"
    return False


def run_migrations(metadata: str | None = None) -> None:
    """Run Alembic's migration context (called from the generated env.py)."""
    from alembic import context

    settings: MigrationConfig | None = context.config.attributes.get("vivace")
    if settings is None:  # run by plain `alembic` rather than `vivace db`
        settings = MigrationConfig(
            directory=context.config.get_main_option("script_location") or "migrations"
        )
    target = _target_metadata(metadata, settings)
    url = settings.require_url()
    options: dict[str, Any] = {
        "target_metadata": target,
        "version_table": settings.version_table,
        "compare_type": True,
        "render_as_batch": url.backend == "sqlite",  # SQLite ALTER TABLE needs batch mode
        "process_revision_directives": _tidy_revision,
        "render_item": _render_item,
    }
    if context.is_offline_mode():
        context.configure(url=url.sqlalchemy_url(), literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Any) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    if url.backend == "sqlite":
        import sqlalchemy as sa

        engine = sa.create_engine(url.sqlalchemy_url())
        try:
            with engine.begin() as connection:
                migrate(connection)
        finally:
            engine.dispose()
        return

    async def run_async() -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url.sqlalchemy_url())
        try:
            async with engine.begin() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_async())
        return
    # Called from async code (a test, an app migrating at start-up): Alembic is
    # synchronous, so run the migration on a thread with a loop of its own.
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            asyncio.run(run_async())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=in_thread, name="vivace-migrations")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
