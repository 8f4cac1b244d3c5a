"""mypy --strict sees models' constructors and attribute types, and query results
typed as the model (typing.dataclass_transform; no plugin)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXAMPLE = """
from __future__ import annotations

import datetime
from typing import Any

from vivace.orm import (
    CASCADE, CharField, DateTimeField, ForeignKey, IntegerField, ManyToManyField, Model, QuerySet
)


class Tag(Model):
    name: str = CharField(max_length=20)


class Author(Model):
    name: str = CharField(max_length=40)


class Article(Model):
    title: str = CharField(max_length=100)
    views: int = IntegerField(default=0)
    published: datetime.datetime | None = DateTimeField(null=True, default=None)
    author: Author = ForeignKey(Author, on_delete=CASCADE)
    tags = ManyToManyField(Tag)


async def main() -> None:
    article = Article(title="x", author=Author(name="a"))
    reveal_type(article.title)
    reveal_type(article.views)
    reveal_type(article.published)
    reveal_type(article.author)
    reveal_type(article.id)
    reveal_type(Article.objects)
    reveal_type(Article.objects.filter(views__gt=1))
    reveal_type(await Article.objects.filter(views__gt=1))
    reveal_type(await Article.objects.get(pk=1))
    reveal_type(await Article.objects.first())
    reveal_type(await Article.objects.values("title"))
    reveal_type(await Article.objects.values_list("title", "views"))
    reveal_type(await Article.objects.count())
    reveal_type(article.tags)
    reveal_type(await article.tags.all())
    async for found in Article.objects.all():
        reveal_type(found)
    Article(title=1, author=Author(name="a"))
    Article(author=Author(name="a"))
    Article(title="x", author=Author(name="a"), nope=1)
"""

EXPECTED = [
    "str",
    "int",
    "datetime.datetime | None",
    "Author",
    "int",
    "Manager[Article]",
    "QuerySet[Article]",
    "list[Article]",
    "Article",
    "Article | None",
    "list[dict[str, Any]]",
    "list[tuple[Any, ...]]",
    "int",
    "ManyToManyManager[Tag]",
    "list[Tag]",
    "Article",
]


@pytest.mark.slow
def test_mypy_reveals_model_types(tmp_path: Path) -> None:
    mypy_api = pytest.importorskip("mypy.api")
    source = tmp_path / "typed_models.py"
    source.write_text(textwrap.dedent(EXAMPLE))
    out, err, _ = mypy_api.run(
        [
            str(source),
            "--strict",
            "--show-error-codes",
            "--no-error-summary",
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--config-file",
            str(ROOT / "pyproject.toml"),
        ]
    )
    revealed = [
        re.sub(
            r"\b[\w.]*\.(?=[A-Z]\w*\b)", "", line.split('Revealed type is "')[1].rstrip('"')
        ).replace("builtins.", "")
        for line in out.splitlines()
        if "Revealed type is" in line
    ]
    assert revealed == EXPECTED, out + err
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 3, out
    assert 'incompatible type "int"; expected "str"' in errors[0]
    assert 'Missing named argument "title"' in errors[1]
    assert 'Unexpected keyword argument "nope"' in errors[2]
