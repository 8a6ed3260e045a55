"""Graph stores: the GraphStore role (base.py), the backend-neutral Cypher store
(cypher_store.py, with merge.py, plans.py, fusion.py, lexical.py, checks.py), and one package
per backend (falkordb/). `open_store` (factory.py) picks one by KG_STORE.

Backends are imported lazily: `from kg.stores import FalkorDBStore` loads its client only
when asked for.
"""

from __future__ import annotations

from typing import Any

from kg.stores.base import GraphStore

__all__ = ["GraphStore", "FalkorDBStore", "FalkorDBServer"]


def __getattr__(name: str) -> Any:
    if name == "FalkorDBStore":
        from kg.stores.falkordb.store import FalkorDBStore

        return FalkorDBStore
    if name == "FalkorDBServer":
        from kg.stores.falkordb.server import FalkorDBServer

        return FalkorDBServer
    raise AttributeError(f"module 'kg.stores' has no attribute {name!r}")
