"""Shared fixtures."""

from __future__ import annotations

import uuid

import pytest


# --- graph store: one embedded FalkorDB server per test session, a fresh graph per test ---

@pytest.fixture(scope="session")
def falkordb_server(tmp_path_factory):
    from kg.stores.falkordb.server import FalkorDBServer

    server = FalkorDBServer(tmp_path_factory.mktemp("falkordb")).start()
    yield server
    server.stop(force=True)


@pytest.fixture
def store(falkordb_server):
    from kg.stores.falkordb.store import FalkorDBStore

    s = FalkorDBStore(server=falkordb_server, graph_name=f"test_{uuid.uuid4().hex[:12]}")
    yield s
    s.drop()
    s.close()
