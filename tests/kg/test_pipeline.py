"""The whole pipeline on the real models and the real embedded store."""

from __future__ import annotations

import pytest

from kg.config import Settings
from kg.documents import make_document
from kg.pipeline import IngestReport, Pipeline

DOC_A = (
    "Tim Cook is the chief executive of Apple. Cook lives in Palo Alto, California. "
    "Apple is based in Cupertino."
)
DOC_B = (
    "Apple was founded by Steve Jobs. IBM is headquartered in Armonk, New York. "
    "International Business Machines employs Arvind Krishna."
)


@pytest.fixture(scope="module")
def pipeline_parts():
    p = Pipeline.from_settings(Settings())
    return p


@pytest.fixture
def pipeline(pipeline_parts, store):
    pipeline_parts.store = store
    return pipeline_parts


def _entity_names(store):
    return {r["name"]: r for r in store.query("MATCH (e:Entity) RETURN e.name AS name, e.aliases AS aliases, e.id AS id")}


def test_ingest_builds_lexical_and_entity_graph(pipeline, store):
    doc = make_document(DOC_A, id="a")
    report = pipeline.ingest([doc], progress=False)
    assert report.ingested == 1 and report.ok
    stats = store.stats()
    assert stats["documents"] == 1 and stats["chunks"] >= 1 and stats["entities"] >= 3
    # every mention cites its exact span in the document
    rows = store.query(
        "MATCH (e:Entity)-[m:MENTIONED_IN]->(c:Chunk)-[:PART_OF]->(d:Document {id: 'a'}) "
        "RETURN e.name AS name, m.start AS start, m.end AS end, m.text AS text"
    )
    assert rows
    for r in rows:
        assert DOC_A[r["start"]:r["end"]] == r["text"]
    # "Cook" and "Tim Cook" are one person
    names = _entity_names(store)
    assert "Tim Cook" in names and "Cook" not in names
    assert "Cook" in names["Tim Cook"]["aliases"]


def test_reingest_leaves_graph_identical(pipeline, store):
    docs = [make_document(DOC_A, id="a"), make_document(DOC_B)]
    pipeline.ingest(docs, progress=False)
    before = store.dump()
    again = pipeline.ingest([make_document(DOC_B), make_document(DOC_A, id="a")], progress=False)
    assert again.unchanged == 2 and again.ingested == 0
    assert store.dump() == before


def test_resolution_across_runs(pipeline, store):
    pipeline.ingest([make_document("IBM opened a lab in Zurich.", id="one")], progress=False)
    pipeline.ingest([make_document("International Business Machines hired 500 engineers in Zurich.", id="two")],
                    progress=False)
    rows = store.query("MATCH (e:Organization) RETURN e.name AS name, e.aliases AS aliases, e.mentions AS n")
    ibm = [r for r in rows if "IBM" in r["aliases"]]
    assert len(ibm) == 1 and "International Business Machines" in ibm[0]["aliases"] and ibm[0]["n"] == 2


def test_delete_removes_exactly_what_only_it_supported(pipeline, store):
    # reference: B alone
    pipeline.ingest([make_document(DOC_B, id="b")], progress=False)
    only_b = store.dump()
    store.clear()
    pipeline.ingest([make_document(DOC_A, id="a"), make_document(DOC_B, id="b")], progress=False)
    assert store.stats()["documents"] == 2
    report = store.delete_document("a")
    assert report.found and report.chunks >= 1 and report.entities >= 1
    after = store.dump()
    # Apple is shared: it stays, with B's mention only; Tim Cook (only in A) is gone
    names = _entity_names(store)
    assert "Apple" in names and "Tim Cook" not in names
    assert _without_aliases(after) == _without_aliases(only_b)
    assert store.delete_document("a").found is False


def _without_aliases(dump):
    # A's surface forms may stay as aliases of a shared entity (an alias is knowledge, not a
    # mention); ingested_at is a clock reading of two separate ingests
    out = dict(dump)
    out["nodes"] = [
        {**n, "properties": {k: v for k, v in n["properties"].items() if k not in ("aliases", "keys", "ingested_at")}}
        for n in dump["nodes"]
    ]
    return out


def test_updated_document_replaces_old_version(pipeline, store):
    pipeline.ingest([make_document("Alice Smith works for Initech in Austin.", id="doc")], progress=False)
    report = pipeline.ingest([make_document("Bob Jones works for Globex in Denver.", id="doc")], progress=False)
    assert report.updated == 1
    names = _entity_names(store)
    assert "Bob Jones" in names and "Alice Smith" not in names
    assert store.stats()["documents"] == 1


def test_a_version_stored_after_the_check_is_replaced_too(pipeline, store):
    # an ingest checks which documents are stored before it extracts them; another ingest (the
    # API's jobs and MCP share one pipeline) may store a version of one of them in between
    late = make_document("Bob Jones works for Globex in Denver.", id="doc")
    results = pipeline.extract([late])
    pipeline.ingest([make_document("Alice Smith works for Initech in Austin. She lives in Texas.", id="doc")],
                    progress=False)
    report = IngestReport()
    with pipeline.write_lock:
        pipeline.load(results, report)  # extracted when nothing was stored
    assert report.updated == 1 and report.ingested == 0
    names = _entity_names(store)
    assert "Bob Jones" in names and "Alice Smith" not in names and "Texas" not in names
    assert store.stats()["documents"] == 1
    assert [c["text"] for c in store.query("MATCH (c:Chunk) RETURN c.text AS text")] == [late.text]


def test_concurrent_extraction_gives_the_sequential_results(pipeline_parts):
    """The API runs extraction, retrieval and ingestion in threads on one set of models: no call
    may change another's (spaCy's select_pipes switched components off on the shared pipeline, so
    a second thread got docs without a parse) or leave torch single-threaded."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from kg.pipeline import extraction_json

    texts = [DOC_A, DOC_B, "Arvind Krishna leads IBM in Armonk.", "Jony Ive worked for Apple in London."]
    docs = [make_document(t, source="t") for t in texts]
    one_by_one = [json.dumps(extraction_json(pipeline_parts.extract([d])[0]), sort_keys=True) for d in docs]
    threads = torch.get_num_threads()

    def extract(i: int) -> tuple[int, str]:
        return i % 4, json.dumps(extraction_json(pipeline_parts.extract([docs[i % 4]])[0]), sort_keys=True)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(extract, range(24)))
    assert all(r == one_by_one[i] for i, r in results)
    assert torch.get_num_threads() == threads



def test_ingest_waits_for_another_writer(pipeline):
    """Resolution reads the store and the batch is written after it: while another writer (a
    delete from the API, an MCP ingest) holds the pipeline's write lock, an ingest writes nothing."""
    import threading

    doc = make_document(DOC_A, id="a")
    with pipeline.write_lock:
        t = threading.Thread(target=pipeline.ingest, args=([doc],), kwargs={"progress": False})
        t.start()
        t.join(3.0)
        assert t.is_alive() and pipeline.store.get_document("a") is None
    t.join(120)
    assert not t.is_alive() and pipeline.store.get_document("a") is not None
