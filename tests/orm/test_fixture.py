"""The ``vivace_orm`` fixture: each test's ORM writes are rolled back."""

from __future__ import annotations

import os
from pathlib import Path

from ..db.test_fixtures import run_pytest

SAMPLE = """
import pytest
import pytest_asyncio
from vivace import orm
from vivace.db import Database
from vivace.orm import CharField, Model


class Note(Model):
    title: str = CharField(max_length=20)


CREATED = []


@pytest_asyncio.fixture
async def vivace_database():
    async with Database(URL) as db:
        if not CREATED:  # once: what the tests write must not survive them
            await orm.create_tables(Note, using=db)
            CREATED.append(True)
        yield db


async def test_write(vivace_orm):
    await Note.objects.create(title="a")
    await Note.objects.bulk_create([Note(title="b"), Note(title="c")])
    assert await Note.objects.count() == 3


async def test_rolled_back(vivace_orm):
    assert await Note.objects.count() == 0
    await Note.objects.create(title="again")


async def test_binding_restored(vivace_orm):
    previous = orm.bind(vivace_orm)
    assert previous is vivace_orm
"""


def test_vivace_orm_rolls_each_test_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fixture.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if k != "VIVACE_DATABASE_URL"}
    done = run_pytest(tmp_path, f"URL = {url!r}\n" + SAMPLE, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
