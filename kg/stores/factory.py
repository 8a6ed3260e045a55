"""Open the configured store (KG_STORE): a registry of backends by name."""

from __future__ import annotations

from typing import Callable

from kg.config import Settings
from kg.errors import StoreError
from kg.stores.base import GraphStore


def _falkordb(settings: Settings) -> GraphStore:
    from kg.stores.falkordb.store import FalkorDBStore

    try:
        return FalkorDBStore.from_settings(settings)
    except OSError as e:
        raise StoreError(f"cannot start the embedded store in {settings.data_dir}: {e}") from None


def _neo4j(settings: Settings) -> GraphStore:
    from kg.stores.neo4j.store import Neo4jStore

    return Neo4jStore.from_settings(settings)


BACKENDS: dict[str, Callable[[Settings], GraphStore]] = {"falkordb": _falkordb, "neo4j": _neo4j}


def open_store(settings: Settings) -> GraphStore:
    try:
        backend = BACKENDS[settings.store]
    except KeyError:
        raise StoreError(f"KG_STORE={settings.store!r} is not a store; choose one of {', '.join(BACKENDS)}") from None
    return backend(settings)
