"""`vivace db makemigrations` autogenerates from ORM models; upgrade and downgrade,
on every backend (each in a database of its own: autogenerate compares the whole
schema, and the servers are shared)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from vivace.db import Database

from ..db.conftest import open_database, unique_name
from ..db.test_cli import fresh_database, run_cli, table_columns

MODELS = """
import sqlalchemy as sa
from vivace.orm import (
    CASCADE, CharField, DecimalField, DateTimeField, DurationField, EmailField, ForeignKey,
    IntegerField, JSONField, ManyToManyField, Model, SlugField, TextField, UUIDField,
)

metadata = sa.MetaData()


class Base(Model):
    class Meta:
        abstract = True
        metadata = metadata


class Shelf(Base):
    name: str = CharField(max_length=40, unique=True)

    class Meta:
        table = "{prefix}_shelf"


class Volume(Base):
    title: str = CharField(max_length=80, db_index=True)
    shelf: Shelf = ForeignKey(Shelf, on_delete=CASCADE, related_name="volumes")
    {extra}
    readers = ManyToManyField("Reader", related_name="volumes")

    class Meta:
        table = "{prefix}_volume"


class Reader(Base):
    name: str = CharField(max_length=40)

    class Meta:
        table = "{prefix}_reader"
"""


@pytest_asyncio.fixture(params=["sqlite", "postgresql", "mysql"])
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async for url in fresh_database(str(request.param), tmp_path):
        yield url


def write_models(folder: Path, module: str, prefix: str, extra: str = "") -> None:
    (folder / f"{module}.py").write_text(textwrap.dedent(MODELS).format(prefix=prefix, extra=extra))
    sys.modules.pop(module, None)


cli = run_cli  # (args, cwd, url, version_table) → exit status


async def clean_up(db: Database, prefix: str, version: str, module: str) -> None:
    for table in ("volume_readers", "volume", "reader", "shelf"):
        await db.execute(f"DROP TABLE IF EXISTS {prefix}_{table}")
    await db.execute(f"DROP TABLE IF EXISTS {version}")
    await db.disconnect()
    sys.modules.pop(module, None)


async def test_makemigrations_upgrade_downgrade(fresh_url: str, tmp_path: Path) -> None:
    prefix, module, version = unique_name("mg"), unique_name("ormmodels"), unique_name("vv")
    write_models(tmp_path, module, prefix)
    url = fresh_url
    assert cli(["--metadata", f"{module}:metadata", "init"], tmp_path, url, version) == 0
    assert cli(["makemigrations", "-m", "create"], tmp_path, url, version) == 0
    (first,) = (tmp_path / "migrations" / "versions").glob("*.py")
    text = first.read_text()
    assert "create_table" in text and f"{prefix}_volume_readers" in text
    assert cli(["upgrade"], tmp_path, url, version) == 0
    db = await open_database(url)
    try:
        assert await table_columns(db, f"{prefix}_volume") == {"id", "title", "shelf_id"}
        assert await table_columns(db, f"{prefix}_volume_readers") == {
            "id",
            "volume_id",
            "reader_id",
        }
        # The ORM works on the migrated schema.
        from vivace import orm

        sys.path.insert(0, str(tmp_path))
        try:
            models = __import__(module)
        finally:
            sys.path.remove(str(tmp_path))
        shelf = await models.Shelf.objects.using(db).create(name="s")
        volume = await models.Volume.objects.using(db).create(title="t", shelf=shelf)
        assert await models.Volume.objects.using(db).filter(shelf__name="s").count() == 1
        del volume, orm
        # A new field: the next revision adds its column; down removes it again.
        write_models(tmp_path, module, prefix, "pages: int = IntegerField(default=0, db_default=0)")
        assert cli(["makemigrations", "-m", "pages"], tmp_path, url, version) == 0
        assert cli(["upgrade"], tmp_path, url, version) == 0
        assert await table_columns(db, f"{prefix}_volume") == {"id", "title", "shelf_id", "pages"}
        assert await db.fetch_val(f"SELECT pages FROM {prefix}_volume") == 0
        assert cli(["downgrade"], tmp_path, url, version) == 0
        assert await table_columns(db, f"{prefix}_volume") == {"id", "title", "shelf_id"}
        assert cli(["downgrade", "base"], tmp_path, url, version) == 0
        assert await table_columns(db, f"{prefix}_volume") == set()
    finally:
        await clean_up(db, prefix, version, module)


EVERY_TYPE = "; ".join(
    (
        "data: dict | None = JSONField(null=True, default=None)",
        "price: object = DecimalField(max_digits=8, decimal_places=2, null=True, default=None)",
        "at: object = DateTimeField(null=True, default=None)",
        "took: object = DurationField(null=True, default=None)",
        "key: object = UUIDField(null=True, default=None)",
        "body: str = TextField(default='')",
        "slug: str = SlugField(default='')",
        "email: str = EmailField(default='')",
    )
)


async def test_makemigrations_every_column_type(fresh_url: str, tmp_path: Path) -> None:
    # A revision generated on one backend runs on it: Alembic renders the JSONField's
    # PostgreSQL variant (JSONB) with a bare Text() the revision does not import, which
    # failed upgrade() with a NameError on SQLite and MySQL.
    prefix, module, version = unique_name("mt"), unique_name("ormtypes"), unique_name("vv")
    write_models(tmp_path, module, prefix, EVERY_TYPE)
    url = fresh_url
    assert cli(["--metadata", f"{module}:metadata", "init"], tmp_path, url, version) == 0
    assert cli(["makemigrations", "-m", "types"], tmp_path, url, version) == 0
    (revision,) = (tmp_path / "migrations" / "versions").glob("*.py")
    text = revision.read_text()
    # SlugField and EmailField are VARCHARs like CharField; a slug is indexed (Django's).
    assert "sa.Column('slug', sa.String(length=50)" in text
    assert "sa.Column('email', sa.String(length=254)" in text
    assert f"op.f('ix_{prefix}_volume_slug')" in text
    assert f"ix_{prefix}_volume_email" not in text
    db = await open_database(url)
    try:
        assert cli(["upgrade"], tmp_path, url, version) == 0
        columns = await table_columns(db, f"{prefix}_volume")
        assert {"data", "price", "at", "took", "key", "body", "slug", "email"} <= columns
        assert cli(["downgrade", "base"], tmp_path, url, version) == 0
        assert await table_columns(db, f"{prefix}_volume") == set()
    finally:
        await clean_up(db, prefix, version, module)


def test_makemigrations_needs_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert cli(["init"], tmp_path, url, "v") == 0
    assert cli(["makemigrations"], tmp_path, url, "v") == 1
    assert "no metadata" in capsys.readouterr().err
