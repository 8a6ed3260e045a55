"""`kg migrate`: a whole graph copied between stores, embedded to embedded here (the copy reads
and writes only through the GraphStore role, so it is the same code towards Neo4j): the
target's full dump equals the source's, and a second run changes nothing."""

from __future__ import annotations

import uuid

import pytest

from kg.cli import main
from kg.config import get_settings
from kg.errors import StoreError
from kg.stores.falkordb.store import FalkorDBStore
from kg.stores.migrate import migrate, relation_links
from kg.stores.urls import parse_store_url, redact, same_store
from kg.types import Chunk, Document, Entity, GraphBatch, MentionLink, Phrase, RelationLink
from tests.kg.stores.store_contract import axis, batch_doc1, batch_doc2

DOC3 = "Ada Arden founded Arden Works in Leeds. Arden Works moved to York."


def batch_doc3() -> GraphBatch:
    """What the contract batches lack: phrases, a relation stated twice in one chunk and in two
    chunks, an entity no chunk mentions, metadata."""
    c0 = Chunk("doc3:0", "doc3", 0, DOC3[:39], 0, 39, embedding=axis(300), phrases=["ada arden", "leeds"])
    c1 = Chunk("doc3:1", "doc3", 1, DOC3[40:], 40, len(DOC3), embedding=axis(301), phrases=["arden works", "york"])
    return GraphBatch(
        documents=[Document("doc3", DOC3, source="c.md", title="Three", metadata={"tags": ["x", "y"], "year": 1990},
                            sha256="h3")],
        chunks=[c0, c1],
        phrases=[Phrase("ada arden", axis(310)), Phrase("leeds", axis(311)), Phrase("arden works", axis(312)),
                 Phrase("york", axis(313))],
        entities=[Entity("ada", "Ada Arden", "Person", ["Ada Arden"], axis(320), keys=["ada arden"]),
                  Entity("works", "Arden Works", "Organization", ["Arden Works", "Works"], axis(321),
                         keys=["arden works", "works"]),
                  Entity("leeds", "Leeds", "Location", ["Leeds"], axis(322), keys=["leeds"]),
                  Entity("lonely", "Lonely Entity", "Misc", ["Lonely Entity"], None, keys=["lonely entity"])],
        mentions=[MentionLink("ada", "doc3:0", 0, 9, "Ada Arden"), MentionLink("works", "doc3:0", 18, 29, "Arden Works"),
                  MentionLink("leeds", "doc3:0", 33, 38, "Leeds"), MentionLink("works", "doc3:1", 40, 51, "Arden Works")],
        relations=[RelationLink("works", "ada", "FOUNDED_BY", 0.75, "m3", ["doc3:0"], [(0, 39), (18, 39)]),
                   RelationLink("works", "leeds", "BASED_IN", 0.5, "m3", ["doc3:0"], [(0, 39)]),
                   RelationLink("works", "leeds", "BASED_IN", 0.66, "m4", ["doc3:1"], [(40, 66)])],
    )


@pytest.fixture
def graphs(falkordb_server):
    stores = [FalkorDBStore(server=falkordb_server, graph_name=f"test_{uuid.uuid4().hex[:12]}") for _ in range(2)]
    yield stores
    for s in stores:
        s.drop()
        s.close()


def fill(store) -> None:
    for batch in (batch_doc1(), batch_doc2(), batch_doc3()):
        store.upsert(batch)


def test_migration_copies_the_whole_graph_and_a_second_run_changes_nothing(graphs):
    source, target = graphs
    fill(source)
    before = source.dump()
    report = migrate(source, target, batch_size=2, progress=False)  # several pages of each kind
    assert (report.documents, report.chunks, report.entities, report.mentions, report.relations, report.phrases) \
        == (3, 7, 8, 13, 5, 4)
    assert source.dump() == before
    assert target.dump() == before  # ingested_at, vectors, aliases, evidence, mention counts: everything
    generation = target.generation()
    migrate(source, target, batch_size=3, progress=False)
    assert target.dump() == before
    # the copy works like the original: search, relations with their evidence
    assert target.similar_entities(axis(321), 1)[0].item.id == "works"
    assert [h.item.id for h in target.search_chunks(None, "York", 1)] == ["doc3:1"]
    assert target.similar_phrases(axis(312), 1)[0].item.key == "arden works"
    assert generation  # the generation is the target's own counter; only the graph is compared


def test_a_relation_folds_back_into_exactly_its_stored_form():
    props = {"confidence": 0.9, "model": "m", "sources": ["a:0", "b:1"], "evidence": ["a:0|0|5", "a:0|7|9", "b:1|3|4"]}
    links = relation_links("h", "t", "R", props)
    assert [(link.sources, link.evidence) for link in links] == [(["a:0"], [(0, 5), (7, 9)]), (["b:1"], [(3, 4)])]
    from kg.stores.merge import relation_rows

    row = relation_rows(links)[("h", "R", "t")]
    assert (row["sources"], row["evidence"], row["confidence"], row["model"]) == \
        (props["sources"], props["evidence"], 0.9, "m")


def test_kg_migrate_between_two_data_dirs(tmp_path, capsys):
    get_settings.cache_clear()
    a, b = tmp_path / "a", tmp_path / "b"
    with FalkorDBStore(a) as source:
        fill(source)
        before = source.dump()
    assert main(["migrate", "--from", f"falkordb://{a}", "--to", f"falkordb://{b}", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"migrated falkordb://{a} -> falkordb://{b}: 3 documents, 7 chunks, 8 entities")
    assert main(["migrate", "--from", f"falkordb://{a}", "--to", f"falkordb://{b}", "-q"]) == 0
    with FalkorDBStore(b) as target:
        assert target.dump() == before


@pytest.mark.parametrize("args, message", [
    (["--from", "falkordb://x", "--to", "falkordb://./x"], "--from and --to are the same store"),
    (["--from", "postgres://u:hunter2@db/kg", "--to", "falkordb://x"], "is not a store URL"),
    (["--from", "falkordb://x", "--to", "falkordb://y", "--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_kg_migrate_refuses_bad_arguments_in_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["migrate", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "hunter2" not in err
    assert not (tmp_path / "x").exists()  # refused before any store was opened


def test_kg_migrate_to_an_unreachable_neo4j_names_the_setting(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with FalkorDBStore(tmp_path / "a") as source:
        source.upsert(batch_doc1())
    url = f"bolt://neo4j:hunter2@127.0.0.1:{port}"
    assert main(["migrate", "--from", f"falkordb://{tmp_path / 'a'}", "--to", url, "-q"]) == 2
    err = capsys.readouterr().err
    assert "KG_NEO4J_URI" in err and "hunter2" not in err and len(err.strip().splitlines()) == 1


def test_store_urls():
    u = parse_store_url("neo4j+s://u:p@host:7687?database=graphs&policy=eu")
    assert (u.backend, u.uri, u.database, u.shown) == ("neo4j", "neo4j+s://u:p@host:7687?policy=eu", "graphs",
                                                       "neo4j+s://host:7687?policy=eu&database=graphs")
    f = parse_store_url("falkordb:///abs/dir?graph=g")
    assert (f.backend, str(f.data_dir), f.graph_name) == ("falkordb", "/abs/dir", "g")
    assert same_store(parse_store_url("falkordb://d"), parse_store_url("falkordb://d?graph=kg"), "kg")
    assert not same_store(parse_store_url("falkordb://d"), parse_store_url("falkordb://d?graph=other"), "kg")
    assert redact("bolt://u:secret@h:1") == "bolt://h:1"
    with pytest.raises(StoreError, match="names no data directory"):
        parse_store_url("falkordb://")
