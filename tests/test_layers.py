"""The import rule of DESIGN.md: imports point down, never up.

Every ``import vivace...`` in every module (at the top or inside a function: a lazy
import is a dependency all the same) must name a layer the importing layer may use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vivace

ROOT = Path(vivace.__file__).resolve().parent

# layer -> the layers it may import (itself and vivace.types always).
ALLOWED: dict[str, set[str]] = {
    "http": set(),
    "schema": {"http"},
    "server": {"http"},
    "client": {"http"},
    "testing": {"client", "http", "db"},
    "web": {"http", "schema"},
    "db": set(),
    "orm": {"db", "schema", "http"},
    "stores": {"db"},
    # The batteries above web: stores and web, never the database layer directly.
    "sessions": {"http", "web", "stores"},
    "csrf": {"http", "web"},
    "cache": {"http", "web", "stores"},
    "ratelimit": {"http", "web", "stores"},
    "auth": {"http", "web", "stores", "schema", "orm", "db", "sessions", "csrf", "ratelimit"},
}
# Named exceptions to the table, each with its reason (DESIGN.md).
EXCEPTIONS = {
    # web may use db only inside optional backends: broadcast over LISTEN/NOTIFY.
    ("web/_broadcast_postgres.py", "db"),
}
# The command line and the package root tie the layers together.
TOP = {"cli.py", "__init__.py", "types.py", "__main__.py"}


def _imports(path: Path) -> set[str]:
    """The vivace layers ``path`` imports (including lazy and TYPE_CHECKING imports)."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[1] for name in names if name.startswith("vivace.") and "." in name}


def _docstring_layers(path: Path) -> set[str]:
    """Layers named only in ``>>>`` examples (run by the doctests, not imported)."""
    out: set[str] = set()
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith(">>> from vivace."):
            out.add(stripped.split()[2].split(".")[1])
    return out


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.relative_to(ROOT).parts[0] not in TOP)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_imports_point_down(path: Path) -> None:
    relative = path.relative_to(ROOT)
    layer = relative.parts[0].removesuffix(".py")
    if layer not in ALLOWED:
        pytest.fail(f"{relative}: layer {layer!r} is not in the import rule table")
    allowed = ALLOWED[layer] | {layer, "types"}
    bad = {
        imported
        for imported in _imports(path)
        if imported not in allowed and (str(relative), imported) not in EXCEPTIONS
    }
    assert not bad, f"{relative} ({layer}) imports {sorted(bad)}: not allowed by DESIGN.md"


def test_the_batteries_reach_the_database_only_through_stores() -> None:
    for layer in ("sessions", "csrf", "cache", "ratelimit"):
        for path in (ROOT / layer).rglob("*.py"):
            assert "db" not in _imports(path) | _docstring_layers(path), path


def test_the_table_catches_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from vivace.orm import Model\n    import vivace.server._cli\n")
    assert _imports(module) == {"orm", "server"}
