"""The embedded server process: durability, reuse, clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import numpy as np
import pytest

from kg.errors import StoreError
from kg.stores.falkordb.server import FalkorDBServer, socket_path_for
from kg.stores.falkordb.store import FalkorDBStore
from kg.types import Chunk, Document, GraphBatch
from tests.kg.stores.store_contract import axis, batch_doc1, batch_doc2


def test_data_survives_kill_9(tmp_path):
    srv = FalkorDBServer(tmp_path).start()
    store = FalkorDBStore(server=srv, graph_name="g")
    store.upsert(batch_doc1())
    store.upsert(batch_doc2())
    before = store.dump()
    store.close()
    os.kill(srv.pid, signal.SIGKILL)  # no shutdown, no final fsync
    srv._proc.wait()
    assert not srv.is_running()

    again = FalkorDBServer(tmp_path).start()
    try:
        assert again.started and again.pid != srv.pid
        store = FalkorDBStore(server=again, graph_name="g")
        assert store.dump() == before
        assert store.similar_entities(axis(20), 1)[0].item.id == "apple"
        store.close()
    finally:
        again.stop(force=True)
    assert (tmp_path / "appendonlydir").is_dir()


def test_vector_search_right_after_a_restart(tmp_path):
    # the server rebuilds its indexes in the background after loading; queries wait for it
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((2000, 384))
    with FalkorDBServer(tmp_path) as srv:
        store = FalkorDBStore(server=srv, graph_name="g")
        store.upsert(GraphBatch(documents=[Document("d", "")],
                                chunks=[Chunk(f"d:{i}", "d", i, f"chunk {i}", i, i + 1, embedding=v.tolist())
                                        for i, v in enumerate(vecs)]))
        store.close()
    with FalkorDBServer(tmp_path) as srv:
        store = FalkorDBStore(server=srv, graph_name="g")
        hits = store.search_chunks(vecs[1234].tolist(), "", 1)
        assert [h.item.id for h in hits] == ["d:1234"]
        store.close()


def test_running_server_is_reused(tmp_path):
    first = FalkorDBServer(tmp_path).start()
    holder = FalkorDBStore(server=first, graph_name="g")  # this process keeps a connection open
    try:
        second = FalkorDBServer(tmp_path).start()
        assert not second.started and second.pid == first.pid
        # another process (a second CLI command) attaches to the same server and leaves it running
        code = ("import sys; from kg.stores.falkordb.server import FalkorDBServer as S; "
                "s = S(sys.argv[1]).start(); print(s.started, s.pid)")
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["False", str(first.pid)]
        assert first.is_running()
        # stop() leaves a server up while another client (here a plain redis connection) uses it
        import redis

        other = redis.Redis(unix_socket_path=str(first.socket_path))
        other.ping()
        assert second.stop() is False and first.is_running()
        other.close()
    finally:
        holder.close()
        first.stop(force=True)
    assert not first.is_running() and first._proc is None


def test_last_user_stops_it(tmp_path):
    with FalkorDBServer(tmp_path) as srv:
        assert srv.is_running() and srv.socket_path == tmp_path.resolve() / "redis.sock"
    assert not srv.is_running()


def test_data_dir_that_is_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="is not writable"):
        FalkorDBServer(blocker / "data").start()


def test_start_failure_shows_the_log(tmp_path):
    (tmp_path / "appendonlydir").write_text("not a directory")  # redis cannot open its AOF
    with pytest.raises(StoreError, match="exited at start") as e:
        FalkorDBServer(tmp_path).start()
    assert "redis.log" in str(e.value) and len(str(e.value).splitlines()) > 1


def test_deep_data_dir_gets_a_short_socket(tmp_path):
    deep = tmp_path.joinpath(*["a_rather_long_directory_name"] * 5)
    sock = socket_path_for(deep)
    assert str(sock).startswith("/tmp/kg-") and len(str(sock)) < 100
    assert socket_path_for(deep) == sock and socket_path_for(tmp_path / uuid.uuid4().hex) != sock
    with FalkorDBServer(deep) as srv:
        assert srv.socket_path == sock and srv.is_running()
    assert not sock.exists()
