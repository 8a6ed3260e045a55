"""The one GraphStore contract (store_contract.py), run on every backend:

- the embedded FalkorDB store, always (a fresh graph per test);
- Neo4j whenever KG_NEO4J_URI is set, with KG_NEO4J_USER / _PASSWORD / _DATABASE, unchanged:
  `docker compose up -d neo4j && KG_NEO4J_URI=bolt://localhost:7687 make test`. The suite
  empties that database before and after each test, so it refuses one that holds data when it
  starts. Without the variable the Neo4j cases are reported as skipped, with the reason.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests.kg.stores.store_contract import StoreContract

NEO4J_URI = os.environ.get("KG_NEO4J_URI", "")
NOT_RUN = ("Neo4j contract not run: KG_NEO4J_URI is not set "
           "(`docker compose up -d neo4j && KG_NEO4J_URI=bolt://localhost:7687 make test` runs it)")


@pytest.fixture(scope="session")
def neo4j_session_store():
    from kg.config import Settings
    from kg.stores.neo4j.store import Neo4jStore

    store = Neo4jStore.from_settings(Settings(neo4j_uri=NEO4J_URI))
    held = store.dump()["nodes"]
    if held:
        store.close()
        pytest.fail(f"the Neo4j database at {store.uri} holds {len(held)} nodes; the contract suite deletes "
                    "everything in its database, so give it an empty one (KG_NEO4J_DATABASE, or a fresh container)")
    yield store
    store.clear()
    store.close()


@pytest.fixture(params=["falkordb", "neo4j"])
def store(request):
    if request.param == "falkordb":
        from kg.stores.falkordb.store import FalkorDBStore

        s = FalkorDBStore(server=request.getfixturevalue("falkordb_server"),
                          graph_name=f"test_{uuid.uuid4().hex[:12]}")
        yield s
        s.drop()
        s.close()
        return
    if not NEO4J_URI:
        pytest.skip(NOT_RUN)
    s = request.getfixturevalue("neo4j_session_store")
    s.clear()
    yield s
    s.clear()


class TestStoreContract(StoreContract):
    pass
