"""Graph stores: the GraphStore role (base.py), the backend-neutral Cypher store
(cypher_store.py, with merge.py, plans.py, fusion.py, lexical.py, checks.py), and one package
per backend (falkordb/). `open_store` (factory.py) picks one by KG_STORE.

Backends are imported from their own modules (kg.stores.falkordb.store), never re-exported here:
this package sits below them, so importing it never loads a backend or its client.
"""

from __future__ import annotations

from kg.stores.base import GraphStore

__all__ = ["GraphStore"]
