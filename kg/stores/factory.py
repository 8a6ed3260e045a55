"""Open the configured store (KG_STORE), or one named by a URL (kg/stores/urls.py): a registry of
backends by name."""

from __future__ import annotations

from typing import Callable

from kg.config import Settings
from kg.errors import StoreError
from kg.stores.base import GraphStore
from kg.stores.cypher_store import DEFAULT_EMBEDDING_DIM
from kg.stores.urls import parse_store_url


def _falkordb(settings: Settings, embedding_dim: int = DEFAULT_EMBEDDING_DIM) -> GraphStore:
    from kg.stores.falkordb.store import FalkorDBStore

    try:
        return FalkorDBStore.from_settings(settings, embedding_dim=embedding_dim)
    except OSError as e:
        raise StoreError(f"cannot start the embedded store in {settings.data_dir}: {e}") from None


def _neo4j(settings: Settings, embedding_dim: int = DEFAULT_EMBEDDING_DIM) -> GraphStore:
    from kg.stores.neo4j.store import Neo4jStore

    return Neo4jStore.from_settings(settings, embedding_dim=embedding_dim)


BACKENDS: dict[str, Callable[..., GraphStore]] = {"falkordb": _falkordb, "neo4j": _neo4j}


def open_store(settings: Settings) -> GraphStore:
    try:
        backend = BACKENDS[settings.store]
    except KeyError:
        raise StoreError(f"KG_STORE={settings.store!r} is not a store; choose one of {', '.join(BACKENDS)}") from None
    return backend(settings)


def open_store_url(url: str, settings: Settings, embedding_dim: int = DEFAULT_EMBEDDING_DIM) -> GraphStore:
    """The store a URL names; the settings give everything the URL does not (limits, credentials).
    A new graph gets embedding_dim; an existing one keeps its own."""
    where = parse_store_url(url)
    if where.backend == "falkordb":
        update = {"store": "falkordb", "data_dir": where.data_dir}
        if where.graph_name:
            update["graph_name"] = where.graph_name
    else:
        update = {"store": "neo4j", "neo4j_uri": where.uri}
        if where.database:
            update["neo4j_database"] = where.database
    return BACKENDS[where.backend](settings.model_copy(update=update), embedding_dim=embedding_dim)
