"""vivace.schema imports only vivace.http (and the stdlib, msgspec); nothing else pays for it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import vivace.schema

SCHEMA = Path(vivace.schema.__file__).parent


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return set(out.split())


def test_other_layers_do_not_import_schema_or_its_engine() -> None:
    loaded = modules_after("import vivace.web, vivace.server, vivace.client, vivace.http")
    assert "vivace.schema" not in loaded
    assert "msgspec" not in loaded


def test_schema_imports_only_http_and_no_jinja() -> None:
    loaded = modules_after("import vivace.schema")
    ours = {m for m in loaded if m.startswith("vivace.")}
    assert {m.split(".")[1] for m in ours} <= {"schema", "http"}
    assert "jinja2" not in loaded


def test_source_imports_follow_the_layer_rule() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in SCHEMA.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top == "vivace":
                    assert name.split(".")[1] in ("schema", "http"), (path.name, name)
                elif top == "jinja2":
                    assert path.name == "_forms.py", path.name
                else:
                    assert top in stdlib or top == "msgspec", (path.name, name)
