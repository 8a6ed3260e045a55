"""Entity exploration (kg/explore.py) on the real models and a real store: search by name, and an
entity's detail whose every quote and snippet is the document's own text at its offsets."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

import pytest

from kg.config import Settings
from kg.documents import make_document
from kg.explore import entity_detail, search_entities
from kg.pipeline import Pipeline
from kg.stores.falkordb.store import FalkorDBStore

DOCS = {
    "news/1": "Tim Cook works for Apple in Cupertino. Apple Inc. is based in Cupertino, California. "
              "Cook joined Apple in 1998.",
    "news/2": "Angela Merkel lives in Berlin. Merkel was educated at Leipzig University. "
              "International Business Machines (IBM) is based in Armonk.",
    "news/3": "Satya Nadella works for Microsoft. Microsoft is based in Redmond. IBM hired Nadella's friend.",
}


@pytest.fixture(scope="module")
def graph(falkordb_server):
    store = FalkorDBStore(server=falkordb_server, graph_name=f"explore_{uuid.uuid4().hex[:8]}")
    pipeline = Pipeline.from_settings(Settings(), store)
    report = pipeline.ingest([make_document(t, id=i) for i, t in DOCS.items()], progress=False)
    assert report.ok and report.ingested == len(DOCS)
    yield store, pipeline.embedder
    store.drop()
    store.close()


def _one(store, embedder, q, **kw):
    hits = search_entities(store, embedder, q, **kw)
    assert hits, q
    return hits[0]


def test_exact_names_and_acronyms_come_first_with_score_1(graph):
    store, embedder = graph
    for q in ("Apple Inc.", "apple", "International Business Machines", "IBM", "  Redmond "):
        hit = _one(store, embedder, q)
        assert hit.score == 1.0, (q, hit)
    assert _one(store, embedder, "International Business Machines").name == "IBM"
    assert _one(store, embedder, "apple").aliases == ["Apple", "Apple Inc."]


def test_part_of_a_name_then_nearest_names(graph):
    store, embedder = graph
    hits = search_entities(store, embedder, "Merkel", limit=4)
    assert hits[0].name == "Angela Merkel" and 0 < hits[0].score < 1.0
    assert len(hits) == 4 and len({h.id for h in hits}) == 4
    # after the name matches, the rest are ranked by similarity
    assert [h.score for h in hits[1:]] == sorted((h.score for h in hits[1:]), reverse=True)


def test_type_filter_and_limits(graph):
    store, embedder = graph
    hits = search_entities(store, embedder, "Apple", type="Location", limit=3)
    assert hits and all(h.type == "Location" for h in hits) and "Apple" not in [h.name for h in hits]
    assert len(search_entities(store, embedder, "Apple", limit=2)) == 2
    assert search_entities(store, embedder, "   ") == [] and search_entities(store, embedder, "Apple", limit=0) == []


def test_entity_detail_quotes_its_sources_exactly(graph):
    store, embedder = graph
    apple = _one(store, embedder, "Apple")
    detail = entity_detail(store, apple.id)
    assert (detail.id, detail.name, detail.type) == (apple.id, "Apple", "Organization")
    assert detail.aliases == ["Apple", "Apple Inc."]
    assert [(m.doc_id, m.text) for m in detail.mentions] == [("news/1", "Apple"), ("news/1", "Apple Inc."),
                                                            ("news/1", "Apple")]
    for m in detail.mentions:
        text = DOCS[m.doc_id]
        assert text[m.start:m.end] == m.text
        assert m.snippet in text and m.text in m.snippet and m.snippet.endswith(".")
        assert text.index(m.snippet) <= m.start and m.end <= text.index(m.snippet) + len(m.snippet)
    assert detail.mentions[1].snippet == "Apple Inc. is based in Cupertino, California."
    assert detail.relations
    for r in detail.relations:
        assert apple.id in (r.head_id, r.tail_id) and 0 < r.confidence <= 1 and r.sources
        for s in r.sources:
            assert DOCS[s.doc_id][s.start:s.end] == s.quote and s.chunk_id.startswith(s.doc_id + ":")
    json.dumps(asdict(detail))  # plain data for JSON answers


def test_entity_detail_has_relations_in_both_directions_most_confident_first(graph):
    store, embedder = graph
    microsoft = _one(store, embedder, "Microsoft")
    detail = entity_detail(store, microsoft.id)
    triples = {(r.head, r.relation, r.tail) for r in detail.relations}
    assert ("Satya Nadella", "WORKS_FOR", "Microsoft") in triples  # Microsoft as tail
    assert ("Microsoft", "BASED_IN", "Redmond") in triples  # and as head
    confidences = [r.confidence for r in detail.relations]
    assert confidences == sorted(confidences, reverse=True)
    capped = entity_detail(store, microsoft.id, max_mentions=1, max_relations=1)
    assert len(capped.mentions) == 1 and capped.mentions[0] == detail.mentions[0]
    assert capped.relations == detail.relations[:1]
    assert entity_detail(store, "no-such-entity") is None
