"""The store fixtures (one per backend) of tests/stores, for the cache tests."""

from tests.stores.conftest import store, store_backend

__all__ = ["store", "store_backend"]
