"""Shared, lazily built objects: one store and one pipeline per process."""

from __future__ import annotations

import threading
from functools import lru_cache

from kg.config import Settings, get_settings
from kg.pipeline import Pipeline
from kg.stores.base import GraphStore

_lock = threading.Lock()


@lru_cache(maxsize=1)
def get_store() -> GraphStore:
    from kg.stores.factory import open_store

    return open_store(get_settings())


def close_store() -> None:
    """Close the store if one was opened (at shutdown)."""
    if get_store.cache_info().currsize:
        get_store().close()
        get_store.cache_clear()
        get_pipeline.cache_clear()


@lru_cache(maxsize=1)
def get_pipeline() -> Pipeline:
    with _lock:  # model loading is slow; do it once even under concurrent first requests
        return Pipeline.from_settings(get_settings(), get_store())


def settings() -> Settings:
    return get_settings()
