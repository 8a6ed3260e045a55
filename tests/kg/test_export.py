"""Graph export for Gephi and Cytoscape: files read back with networkx match the store."""

from __future__ import annotations

import json
import uuid

import networkx as nx
import numpy as np
import pytest

from kg.config import Settings
from kg.errors import QueryRefused, UsageError
from kg.export import LIST_SEPARATOR, query_subgraph, whole_graph, write_graph
from kg.types import Chunk, Document, Entity, GraphBatch, MentionLink, RelationLink

TEXT = ("Ada Arden, also called Lady Ada, founded Zorblat Industries in Vellmora. "
        "Zorblat Industries is based in Vellmora. Ada Arden works for Zorblat Industries.")


def _vector(seed: int) -> list[float]:
    v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return (v / np.linalg.norm(v)).tolist()


def small_batch() -> GraphBatch:
    """Three entities (one with two aliases), two relations between the same pair, a relation
    with two sources: written straight to the store, no models."""
    doc = Document("doc-a", TEXT, source="test", title="Zorblat", sha256="doc-a")
    first, second = TEXT.index("Zorblat Industries is based"), len(TEXT)
    chunks = [Chunk("doc-a:0", "doc-a", 0, TEXT[:first], 0, first, embedding=_vector(1)),
              Chunk("doc-a:1", "doc-a", 1, TEXT[first:], first, second, embedding=_vector(2))]
    ada, zorblat, vellmora = (Entity("e-ada", "Ada Arden", "Person", ["Ada Arden", "Lady Ada"], _vector(3)),
                              Entity("e-zorblat", "Zorblat Industries", "Organization", ["Zorblat Industries"],
                                     _vector(4)),
                              Entity("e-vellmora", "Vellmora", "Location", ["Vellmora"], _vector(5)))
    mentions = []
    for e in (ada, zorblat, vellmora):
        start = 0
        while (i := TEXT.find(e.name, start)) >= 0:
            chunk = chunks[0] if i < first else chunks[1]
            mentions.append(MentionLink(e.id, chunk.id, i, i + len(e.name), e.name))
            start = i + 1
    relations = [
        RelationLink("e-zorblat", "e-ada", "FOUNDED_BY", 0.91, "test", ["doc-a:0"], [(0, first)]),
        RelationLink("e-ada", "e-zorblat", "WORKS_FOR", 0.77, "test", ["doc-a:1"], [(first, second)]),
        RelationLink("e-zorblat", "e-vellmora", "BASED_IN", 0.88, "test", ["doc-a:0", "doc-a:1"],
                     [(0, first), (first, second)]),
    ]
    return GraphBatch(documents=[doc], chunks=chunks, entities=[ada, zorblat, vellmora], mentions=mentions,
                      relations=relations)


@pytest.fixture(scope="module")
def graph(falkordb_server):
    from kg.stores.falkordb.store import FalkorDBStore

    store = FalkorDBStore(server=falkordb_server, graph_name=f"export_{uuid.uuid4().hex[:12]}")
    store.upsert(small_batch())
    yield store
    store.drop()
    store.close()


def _store_truth(store):
    """Entities and relations as the store holds them, read independently of kg.export."""
    dump = store.dump()
    entities = {n["properties"]["id"]: n["properties"] for n in dump["nodes"] if "Entity" in n["labels"]}
    relations = {(r["start"], r["end"], r["type"]): r["properties"] for r in dump["relationships"]
                 if r["start"] in entities and r["end"] in entities}
    return entities, relations


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "cytoscape-json"])
def test_export_reads_back_with_the_store_s_nodes_edges_and_attributes(graph, tmp_path, fmt):
    path = tmp_path / f"graph.{fmt}"
    write_graph(whole_graph(graph), fmt, path)
    if fmt == "graphml":
        g = nx.read_graphml(path, force_multigraph=True)
    elif fmt == "gexf":
        g = nx.read_gexf(path)
    else:
        g = nx.cytoscape_graph(json.loads(path.read_text(encoding="utf-8")))
    entities, relations = _store_truth(graph)
    assert set(g.nodes) == set(entities) and len(entities) == 3
    for eid, p in entities.items():
        node = g.nodes[eid]
        assert node["name"] == p["name"] and node["type"] == p["type"]
        assert int(node["mentions"]) == p["mentions"]
        aliases = node["aliases"] if fmt == "cytoscape-json" else node["aliases"].split(LIST_SEPARATOR)
        assert aliases == p["aliases"]
    got = {(a, b, d["relation"]): d for a, b, d in g.edges(data=True)}
    assert set(got) == set(relations) and len(relations) == 3  # both relations between Ada and Zorblat
    for key, p in relations.items():
        assert float(got[key]["confidence"]) == pytest.approx(p["confidence"])
        sources = got[key]["sources"] if fmt == "cytoscape-json" else got[key]["sources"].split(LIST_SEPARATOR)
        assert sources == p["sources"]
    assert g.is_directed()


def test_query_export_keeps_only_what_the_query_returned(graph, tmp_path):
    sub = query_subgraph(graph, Settings(), "MATCH p = (:Entity {id: 'e-zorblat'})-[:BASED_IN]->(:Entity) RETURN p")
    path = tmp_path / "q.graphml"
    write_graph(sub, "graphml", path)
    g = nx.read_graphml(path, force_multigraph=True)
    assert set(g.nodes) == {"e-zorblat", "e-vellmora"}
    assert [(a, b, d["relation"]) for a, b, d in g.edges(data=True)] == [("e-zorblat", "e-vellmora", "BASED_IN")]


def test_query_of_entities_alone_gets_every_relation_among_them(graph):
    sub = query_subgraph(graph, Settings(), "MATCH (e:Entity) WHERE e.id IN ['e-ada', 'e-zorblat'] RETURN e.id")
    assert {e.id for e in sub.entities} == {"e-ada", "e-zorblat"}
    assert sorted(r.type for r in sub.relations) == ["FOUNDED_BY", "WORKS_FOR"]


def test_returned_relationship_is_drawn_without_its_sibling(graph):
    sub = query_subgraph(graph, Settings(), "MATCH (a:Entity)-[r:WORKS_FOR]->(b:Entity) RETURN a, r, b")
    assert [(r.head_id, r.type, r.tail_id) for r in sub.relations] == [("e-ada", "WORKS_FOR", "e-zorblat")]


def test_bad_queries_are_one_clear_error(graph):
    with pytest.raises(UsageError, match="no entities"):
        query_subgraph(graph, Settings(), "MATCH (c:Chunk) RETURN c")
    with pytest.raises(QueryRefused):
        query_subgraph(graph, Settings(), "LOAD CSV FROM 'file:///etc/passwd' AS r RETURN r")
    with pytest.raises(UsageError):
        write_graph(whole_graph(graph), "dot", "/tmp/never-written")
