"""`kg view` and `kg export` as a user runs them: real processes on a real embedded store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import networkx as nx
import pytest

from kg.export import LIST_SEPARATOR
from tests.kg.test_export import small_batch


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    from kg.stores.falkordb.server import FalkorDBServer
    from kg.stores.falkordb.store import FalkorDBStore

    data = tmp_path_factory.mktemp("kg-view") / "data"
    store = FalkorDBStore(data)  # kept open, so each command attaches to its server
    store.upsert(small_batch())
    env = {**os.environ, "KG_DATA_DIR": str(data)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "kg.cli", *args], capture_output=True, text=True,
                              timeout=300, env=env)
    yield run
    store.close()
    FalkorDBServer(data).stop(force=True)


def test_view_writes_a_page_of_the_neighbourhood(kg, tmp_path):
    out = tmp_path / "ada.html"
    r = kg("view", "Lady Ada", "--depth", "2", "--out", str(out))  # an alias, not the name
    assert r.returncode == 0, r.stderr
    assert "3 entities, 3 relations" in r.stdout
    html = out.read_text(encoding="utf-8")
    assert "Ada Arden" in html and "FOUNDED_BY 0.91" in html and "new vis.Network" in html


def test_view_of_a_query(kg, tmp_path):
    out = tmp_path / "q.html"
    r = kg("view", "--cypher", "MATCH (a:Entity)-[r:BASED_IN]->(b:Entity) RETURN a, r, b", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "2 entities, 1 relations" in r.stdout and "BASED_IN 0.88" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("args, words", [
    (["Nobody Known"], "no entity matches 'Nobody Known'"),
    (["--cypher", "MATCH (e:Entity) SET e.name = 'x' RETURN e"], "read-only"),
    (["--cypher", "LOAD CSV FROM 'file:///etc/passwd' AS r RETURN r"], "LOAD CSV"),
    (["--cypher", "MATCH (c:Chunk) RETURN c"], "no entities"),
    (["Ada", "--cypher", "MATCH (e:Entity) RETURN e"], "not both"),
    ([], "give an ENTITY"),
    (["Ada", "--depth", "-1"], "depth"),
])
def test_view_bad_input_is_one_line_and_exit_2(kg, tmp_path, args, words):
    out = tmp_path / "never.html"
    r = kg("view", *args, "--out", str(out))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("kg: error: ") and words in r.stderr
    assert not out.exists()


def test_export_graphml_for_gephi(kg, tmp_path):
    out = tmp_path / "g.graphml"
    r = kg("export", "--format", "graphml", "--out", str(out))
    assert r.returncode == 0, r.stderr
    g = nx.read_graphml(out, force_multigraph=True)
    assert g.nodes["e-ada"]["aliases"] == LIST_SEPARATOR.join(["Ada Arden", "Lady Ada"])
    assert g.number_of_nodes() == 3 and g.number_of_edges() == 3


def test_export_of_a_query_as_cytoscape_json(kg, tmp_path):
    out = tmp_path / "g.cyjs"
    r = kg("export", "--format", "cytoscape-json", "--cypher",
           "MATCH (e:Entity) WHERE e.type = 'Person' RETURN e", "--out", str(out))
    assert r.returncode == 0, r.stderr
    g = nx.cytoscape_graph(json.loads(out.read_text(encoding="utf-8")))
    assert list(g.nodes) == ["e-ada"] and g.nodes["e-ada"]["aliases"] == ["Ada Arden", "Lady Ada"]


def test_export_help_names_the_list_separator(kg):
    r = kg("export", "--help")
    assert r.returncode == 0 and repr(LIST_SEPARATOR) in " ".join(r.stdout.split())  # however argparse wraps
