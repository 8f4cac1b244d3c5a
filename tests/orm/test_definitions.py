"""Declaring models and fields: what is accepted, what is refused and how it says so."""

from __future__ import annotations

import pytest

from vivace.orm import ModelDefinitionError


def test_field_definition_errors() -> None:
    from vivace.orm import SET_NULL, CharField, DecimalField, EnumField, ForeignKey, IntegerField

    with pytest.raises(ModelDefinitionError, match="max_length"):
        CharField(max_length=0)
    with pytest.raises(ModelDefinitionError, match="decimal_places"):
        DecimalField(max_digits=2, decimal_places=3)
    with pytest.raises(ModelDefinitionError, match="Enum class"):
        EnumField(str)  # type: ignore[arg-type]
    with pytest.raises(ModelDefinitionError, match="unknown option"):
        IntegerField(nul=True)  # type: ignore[call-arg]
    with pytest.raises(ModelDefinitionError, match="null=True"):
        ForeignKey("X", on_delete=SET_NULL)
    with pytest.raises(ModelDefinitionError, match="on_delete"):
        ForeignKey("X", on_delete="CASCADE")  # type: ignore[arg-type]
