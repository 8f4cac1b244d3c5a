"""The memory and Redis store fixture of tests/stores."""

from tests.stores.conftest import fast_store

__all__ = ["fast_store"]
