"""The store fixtures (one per backend) of tests/stores, for the cache tests."""

from tests.stores.conftest import fast_store, store, store_backend

__all__ = ["fast_store", "store", "store_backend"]
