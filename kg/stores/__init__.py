"""Graph stores: the GraphStore role (base.py) and its backends.

FalkorDB (embedded, the default) is imported lazily: `from kg.stores import FalkorDBStore`
loads its client only when asked for.
"""

from __future__ import annotations

from typing import Any

from kg.stores.base import GraphStore, QueryRefused, ReadOnlyViolation, StoreError

__all__ = ["GraphStore", "QueryRefused", "ReadOnlyViolation", "StoreError", "FalkorDBStore", "FalkorDBServer"]


def __getattr__(name: str) -> Any:
    if name == "FalkorDBStore":
        from kg.stores.falkordb_store import FalkorDBStore

        return FalkorDBStore
    if name == "FalkorDBServer":
        from kg.stores.falkordb_server import FalkorDBServer

        return FalkorDBServer
    raise AttributeError(f"module 'kg.stores' has no attribute {name!r}")
