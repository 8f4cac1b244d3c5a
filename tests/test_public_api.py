"""Every package's ``__all__`` names exactly what it exports, and all of it imports."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import vivace


def _packages() -> list[str]:
    names = ["vivace"]
    for info in pkgutil.walk_packages(vivace.__path__, "vivace."):
        leaf = info.name.rpartition(".")[2]
        if info.ispkg and not leaf.startswith("_"):
            names.append(info.name)
    return names


def _public_modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(vivace.__path__, "vivace.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]


@pytest.mark.parametrize("name", _packages())
def test_all_matches_exports(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ lists missing name {attr!r}"
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not (isinstance(value, types.ModuleType) and attr not in exported)
        and attr != "annotations"
    }
    assert public == exported, f"{name}: public names not in __all__: {public - exported}"


@pytest.mark.parametrize("name", _public_modules())
def test_public_module_declares_all(name: str) -> None:
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), list), f"{name} has no __all__ list"
