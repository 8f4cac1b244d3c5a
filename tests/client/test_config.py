"""Timeout and Limits values."""

from __future__ import annotations

import pytest

from vivace.client import DEFAULT_TIMEOUT, Limits, Timeout


def test_timeout_forms() -> None:
    assert Timeout(5.0) == DEFAULT_TIMEOUT
    assert Timeout((1, 2, 3, 4)).as_tuple() == (1.0, 2.0, 3.0, 4.0)
    assert Timeout(Timeout(1.0), read=None).read is None
    assert Timeout(connect=1, read=2, write=3, pool=None).pool is None
    assert hash(Timeout(1.0)) == hash(Timeout(1.0)) and Timeout(1.0) != 1.0
    with pytest.raises(ValueError, match="default"):
        Timeout(connect=1.0)
    with pytest.raises(ValueError, match="tuple"):
        Timeout((1, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        Timeout(-1)
    with pytest.raises(ValueError, match="non-negative"):
        Timeout("1")
    with pytest.raises(AttributeError, match="immutable"):
        Timeout(1.0).read = 2.0  # type: ignore[misc]


def test_limits() -> None:
    assert Limits() == Limits(max_connections=100)
    assert hash(Limits()) == hash(Limits()) and Limits() != 1
    for kwargs in (
        {"max_connections": 0},
        {"max_connections_per_host": 0},
        {"max_keepalive_connections": -1},
        {"keepalive_expiry": -1.0},
    ):
        with pytest.raises(ValueError, match="must be"):
            Limits(**kwargs)  # type: ignore[arg-type]
