"""The examples in docstrings (``>>>``) run and print what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import vivace

MODULES = ["vivace"] + [m.name for m in pkgutil.walk_packages(vivace.__path__, "vivace.")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an optional dependency that is not installed
        pytest.skip(f"{name}: {exc}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
