"""The embedded store under stress: concurrent writers, a dying server, query limits, compaction,
slow starts, and fuzzed input on the write path. Real server processes throughout."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.errors import QueryLimitExceeded, QueryRefused, StoreError, StoreUnavailable
from kg.stores.falkordb.server import FalkorDBServer, ServerLimits
from kg.stores.falkordb.store import FalkorDBStore
from kg.types import Chunk, Document, Entity, GraphBatch
from tests.kg.stores.store_contract import batch_doc1, batch_doc2


# ---------------------------------------------------------------- concurrent writers


def test_concurrent_writers_lose_no_update(falkordb_server):
    graph = f"test_{uuid.uuid4().hex[:12]}"
    stores = [FalkorDBStore(server=falkordb_server, graph_name=graph) for _ in range(2)]
    try:
        def writer(store: FalkorDBStore, tag: str) -> None:
            for i in range(12):  # read-modify-write of one entity's aliases, from two clients at once
                store.upsert(GraphBatch(entities=[Entity("shared", "Shared", "Person", [f"{tag}{i}"])]))

        threads = [threading.Thread(target=writer, args=(s, tag)) for s, tag in zip(stores, "AB")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        aliases = stores[0].get_entities(["shared"])[0].aliases
        assert sorted(aliases) == sorted([f"A{i}" for i in range(12)] + [f"B{i}" for i in range(12)])
    finally:
        stores[0].drop()
        for s in stores:
            s.close()


# ---------------------------------------------------------------- a dying server


def test_a_killed_server_is_restarted_on_the_next_call(tmp_path):
    store = FalkorDBStore(tmp_path / "kg", "g")
    try:
        store.upsert(batch_doc1())
        before = store.dump()
        old_pid = store.server.pid
        os.kill(old_pid, signal.SIGKILL)
        time.sleep(0.2)
        assert store.dump() == before  # reconnected to a fresh server that loaded the data
        assert store.server.pid != old_pid and store.server.is_running()
        store.upsert(batch_doc2())  # writes work again too
        assert store.stats()["documents"] == 2
    finally:
        store.close()
    assert not store.server.is_running()


def test_a_server_that_cannot_restart_is_reported_unavailable(tmp_path):
    store = FalkorDBStore(tmp_path / "kg", "g")
    try:
        store.upsert(batch_doc1())
        store.server.stop(force=True)
        # the append-only directory turned into a file: redis cannot start on it
        aof = tmp_path / "kg" / "appendonlydir"
        for f in aof.iterdir():
            f.unlink()
        aof.rmdir()
        aof.write_text("not a directory")
        with pytest.raises(StoreUnavailable, match="could not be restarted"):
            store.stats()
    finally:
        store.close()


# ---------------------------------------------------------------- query limits


@pytest.fixture
def limited_store(tmp_path):
    limits = ServerLimits(timeout_max_ms=60_000, memory_bytes=64 << 20, plan_cache=4)
    store = FalkorDBStore(tmp_path / "kg", "g", limits=limits, query_timeout_ms=300, query_max_rows=10)
    yield store
    store.close()


def test_server_runs_with_the_configured_limits(limited_store):
    with redis.Redis(unix_socket_path=str(limited_store.server.socket_path)) as c:
        config = {k.decode(): v for k, v in c.execute_command("GRAPH.CONFIG", "GET", "*")}
    assert config["TIMEOUT_MAX"] == 60_000 and config["TIMEOUT_DEFAULT"] == 60_000
    assert config["QUERY_MEM_CAPACITY"] == 64 << 20 and config["CACHE_SIZE"] == 4


def test_a_slow_query_stops_at_its_time_limit(limited_store):
    limited_store.query("UNWIND range(1, 300) AS i CREATE (:N {i: i})", read_only=False)
    slow = "MATCH (a:N), (b:N), (c:N), (d:N) RETURN count(*) AS n"  # 8.1e9 combinations
    with pytest.raises(QueryLimitExceeded, match="time limit"):
        limited_store.read_only_query(slow)
    with pytest.raises(QueryLimitExceeded, match="time limit"):
        limited_store.read_only_query(slow, timeout_ms=100)
    # the server is free again at once: the abandoned queries do not hold its threads
    assert limited_store.read_only_query("MATCH (n:N) RETURN count(n) AS n").rows == [{"n": 300}]


def test_a_query_stops_at_its_memory_limit(limited_store):
    with pytest.raises(QueryLimitExceeded, match="memory"):
        limited_store.read_only_query("UNWIND range(1, 50000000) AS x RETURN collect(x) AS xs", timeout_ms=60_000)
    assert limited_store.read_only_query("RETURN 1 AS one").rows == [{"one": 1}]


def test_rows_are_cut_at_the_row_limit(limited_store):
    result = limited_store.read_only_query("UNWIND range(1, 50) AS x RETURN x")
    assert [r["x"] for r in result.rows] == list(range(1, 11)) and result.truncated
    result = limited_store.read_only_query("UNWIND range(1, 5) AS x RETURN x", max_rows=5)
    assert len(result.rows) == 5 and not result.truncated


def test_refused_queries_never_reach_the_server(limited_store):
    for q in ["LOAD/**/CSV FROM 'https://example.com/x.csv' AS r RETURN r",
              "LOAD//x\nCSV FROM 'https://example.com/x.csv' AS r RETURN r",
              "RETURN " + "(" * 22 + "1" + ")" * 22 + " AS x"]:
        with pytest.raises(QueryRefused):
            limited_store.read_only_query(q)
    with pytest.raises(QueryRefused, match="KG_QUERY_MAX_CHARS"):
        limited_store.read_only_query("RETURN '" + "x" * 30_000 + "'")


# ---------------------------------------------------------------- compaction and start-up


def _chunk_batch(doc: str, n: int, rng) -> GraphBatch:
    vecs = rng.standard_normal((n, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return GraphBatch(documents=[Document(doc, "", sha256=doc)],
                      chunks=[Chunk(f"{doc}:{i}", doc, i, f"text {doc} {i}", i, i + 1, embedding=v.tolist())
                              for i, v in enumerate(vecs)])


def test_closing_after_writes_compacts_the_log(tmp_path):
    rng = np.random.default_rng(0)
    store = FalkorDBStore(tmp_path / "kg", "g")
    for d in range(8):
        store.upsert(_chunk_batch(f"d{d}", 100, rng))
    incr, base = store.server.aof_sizes()
    assert incr > 1 << 20  # every write is in the log as query text, embeddings included
    before = store.dump()
    store.close()
    files = sorted(p.name for p in (tmp_path / "kg" / "appendonlydir").iterdir())
    assert any(name.endswith(".base.rdb") for name in files), files
    incr, base = FalkorDBServer(tmp_path / "kg").aof_sizes()
    assert incr < 10_000 and base > 0  # the history now lives in an RDB snapshot
    again = FalkorDBStore(tmp_path / "kg", "g")
    try:
        assert again.dump() == before
        assert again.search_chunks(before_vector(before, "d3:7"), "", 1)[0].item.id == "d3:7"
    finally:
        again.close()


def before_vector(dump, chunk_id):
    return next(n["properties"]["embedding"] for n in dump["nodes"] if n["properties"].get("id") == chunk_id)


def test_a_read_only_session_does_not_rewrite_the_log(tmp_path):
    with FalkorDBStore(tmp_path / "kg", "g") as store:
        store.upsert(batch_doc1())
    files = sorted(p.name for p in (tmp_path / "kg" / "appendonlydir").iterdir())
    with FalkorDBStore(tmp_path / "kg", "g") as store:
        store.stats()
    assert sorted(p.name for p in (tmp_path / "kg" / "appendonlydir").iterdir()) == files


def test_a_slow_load_is_waited_for_with_a_message(tmp_path, capsys, monkeypatch):
    import kg.stores.falkordb.server as server_module

    # an uncompacted history (vectors as Cypher text) replayed at start; the message that a big
    # graph is loading normally waits a second, here it is asked for at once
    monkeypatch.setattr(server_module, "LOADING_MESSAGE_AFTER_S", 0.0)
    rng = np.random.default_rng(1)
    srv = FalkorDBServer(tmp_path / "kg", ServerLimits(auto_compact=False)).start()
    store = FalkorDBStore(server=srv, graph_name="g")
    for d in range(4):
        store.upsert(_chunk_batch(f"d{d}", 250, rng))
    store.close()  # auto_compact off: the whole history stays in the log
    srv.stop(force=True)
    assert FalkorDBServer(tmp_path / "kg").aof_sizes()[0] > 3_000_000
    again = FalkorDBServer(tmp_path / "kg").start()
    try:
        err = capsys.readouterr().err
        assert "kg: loading the graph store" in err and "MB)" in err
        store = FalkorDBStore(server=again, graph_name="g")
        assert store.stats()["chunks"] == 4 * 250
        store.close()
    finally:
        again.stop(force=True)


def test_keep_running_marker_keeps_the_server_between_users(tmp_path):
    srv = FalkorDBServer(tmp_path / "kg")
    srv.set_keep_running(True)
    with FalkorDBStore(tmp_path / "kg", "g") as store:
        store.upsert(batch_doc1())
        pid = store.server.pid
    assert srv.is_running() and srv.pid == pid  # the last user left; the server stays warm
    with FalkorDBStore(tmp_path / "kg", "g") as store:
        assert store.server.pid == pid and store.stats()["documents"] == 1
    srv.set_keep_running(False)
    srv.stop(force=True)
    assert not srv.is_running()


# ---------------------------------------------------------------- fuzzed write path

_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc_id=_any_text, text=_any_text, title=_any_text, key=_any_text, name=_any_text)
def test_fuzzed_writes_are_stored_exactly_or_refused_whole(store, doc_id, text, title, key, name):
    store.clear()
    batch = GraphBatch(
        documents=[Document(doc_id, text, title=title, metadata={key: text}, sha256="h")],
        chunks=[Chunk(f"{doc_id}:0", doc_id, 0, text, 0, len(text))],
        entities=[Entity(f"e-{doc_id}", name, "Person", [name])],
    )
    try:
        store.upsert(batch)
    except StoreError as e:
        assert "\n" not in str(e)
        assert store.stats()["documents"] == 0 and store.dump()["nodes"] == []  # nothing half written
    else:
        doc = store.get_document(doc_id)
        assert (doc.id, doc.title, doc.metadata) == (doc_id, title, {key: text})
        rows = store.query("MATCH (c:Chunk)-[:PART_OF]->(d:Document {id: $id}) RETURN c.text AS t, c.id AS c",
                           {"id": doc_id})
        assert rows == [{"t": text, "c": f"{doc_id}:0"}]
        assert store.get_entities([f"e-{doc_id}"])[0].name == name
    assert store.server.is_running()
