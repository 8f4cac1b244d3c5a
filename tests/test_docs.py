"""The code in docs/*.md runs: every ```python block, in order, one namespace per page.

A block whose info string is ``python skip`` is shown but not run; use it only for code
that cannot run here (and say why next to it). ``pycon`` blocks are run as doctests.
"""

from __future__ import annotations

import doctest
import re
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
