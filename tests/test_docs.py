"""The code in docs/*.md runs: every ```python block, in order, one namespace per page.

A block whose info string is ``python skip`` is shown but not run; use it only for code
that cannot run here (and say why next to it). ``pycon`` blocks are run as doctests.

A page can also hold a small project: a block ``LANG file=NAME`` is written to NAME in an
empty folder, and each line of a ``sh run`` block then runs there as a command that
must succeed (db.md's testing example runs pytest on its own files this way).
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)
# benchmarks.md and its log hold results, not examples; tutorial.md runs in tests/test_tutorial.py.
NOT_HERE = {"benchmarks.md", "benchmarks-log.md", "tutorial.md"}
PAGES = sorted(p for p in DOCS.glob("*.md") if p.name not in NOT_HERE)


def blocks(page: Path) -> list[tuple[str, str, int]]:
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        found.append((match["info"].strip(), match["code"], line))
    return found


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # A real (registered) module, so code that looks a class's module up in sys.modules
    # (dataclasses, typing.get_type_hints) works as it does in an application.
    module = types.ModuleType(f"docs_{page.stem}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace: dict[str, object] = module.__dict__
    ran = 0
    for info, code, line in blocks(page):
        if info == "python":
            exec(compile(code, f"{page}:{line}", "exec"), namespace)
            ran += 1
        elif info == "pycon":
            parser = doctest.DocTestParser()
            test = parser.get_doctest(code, namespace, page.name, str(page), line)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            runner.run(test)
            assert runner.failures == 0, f"{page.name}:{line}: doctest failed"
            ran += 1
    assert ran, f"{page.name} has no runnable example"


def write_file_block(option: str, code: str, folder: Path) -> None:
    """Write a ``file=NAME`` block's code to NAME under ``folder``."""
    target = folder / option.removeprefix("file=")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(code)


def run_commands(code: str, folder: Path, env: dict[str, str], where: str) -> None:
    """Run each line of a ``sh run`` block in ``folder``; each must succeed."""
    for command in code.strip().splitlines():
        result = subprocess.run(
            command, shell=True, cwd=folder, env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, (
            f"{where}: {command!r} failed:\n{result.stdout}{result.stderr}"
        )


def project_environment() -> dict[str, str]:
    """The suite's environment, with this interpreter first on PATH and no PYTHONPATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    return env


PROJECT_PAGES = [
    p for p in PAGES if any(info.partition(" ")[2].startswith("file=") for info, _, _ in blocks(p))
]


@pytest.mark.parametrize("page", PROJECT_PAGES, ids=[p.name for p in PROJECT_PAGES])
def test_page_projects_run(page: Path, tmp_path: Path) -> None:
    env = project_environment()
    for name in ("VIVACE_DATABASE_URL", "NOTES_DATABASE_URL", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    written = ran = 0
    for info, code, line in blocks(page):
        option = info.partition(" ")[2]
        if option.startswith("file="):
            write_file_block(option, code, tmp_path)
            written += 1
        elif info == "sh run":
            assert written, f"{page.name}:{line}: a `sh run` block before any file"
            run_commands(code, tmp_path, env, f"{page.name}:{line}")
            ran += 1
    assert ran, f"{page.name} writes files but runs nothing"


def test_db_page_is_a_project() -> None:
    # Issue 19: the testing example needed asyncio_mode = auto, which no page said.
    assert "db.md" in [p.name for p in PROJECT_PAGES]
    text = (DOCS / "db.md").read_text()
    assert "toml file=pyproject.toml" in text and 'asyncio_mode = "auto"' in text
