"""The embedded FalkorDB store: what is particular to it (the shared contract runs on it in
tests/kg/stores/test_contract.py)."""

from __future__ import annotations

import pytest

from kg.config import Settings
from kg.errors import StoreError
from kg.stores.falkordb.store import FalkorDBStore
from kg.types import Entity, GraphBatch
from tests.kg.stores.store_contract import axis, batch_doc1


def test_entity_vectors_live_on_write_once_nodes(store):
    # FalkorDB 4.16 leaves a stale vector-index entry on every update of an indexed node,
    # so the index is on (:EntityVector) nodes that upserts never touch again
    store.upsert(batch_doc1())
    store.upsert(GraphBatch(entities=[Entity("cook", "Cook", "Person", ["Cook"], axis(99))]))
    rows = store.query("MATCH (v:EntityVector {id: 'cook'}) MATCH (e:Entity {id: 'cook'}) "
                       "RETURN v.embedding = e.embedding AS same, count(v) AS n")
    assert rows == [{"same": True, "n": 1}]
    assert store.similar_entities(axis(10, 11, 0.2), 1)[0].item.id == "cook"  # the first embedding stays


def test_read_only_query_cannot_load_csv(store):
    # LOAD CSV is a read to the server, but it opens files and URLs on the caller's behalf
    with pytest.raises(StoreError, match="LOAD CSV"):
        store.query("LOAD CSV FROM 'https://example.com/a.csv' AS row RETURN row")


def test_store_from_settings_starts_and_stops_its_server(tmp_path):
    settings = Settings(data_dir=tmp_path / "kg", graph_name="g")
    store = FalkorDBStore.from_settings(settings)
    try:
        assert store.server.started and (tmp_path / "kg" / "redis.pid").exists()
        store.upsert(batch_doc1())
        # a second store on the same data dir shares the running server
        other = FalkorDBStore.from_settings(settings)
        assert other.server is store.server and other.stats()["documents"] == 1
        other.close()
        assert store.server.is_running()  # this process still uses it
    finally:
        store.close()
    assert not store.server.is_running()
