"""The GraphStore contract, the same for every backend: tests/kg/stores/test_contract.py runs it
on each (its `store` fixture gives an empty store of each backend in turn).

Vectors are 384-d and built from basis directions, so nearest neighbours are known exactly.
"""

from __future__ import annotations

import json
import math

import pytest

from kg.errors import ReadOnlyViolation, StoreError
from kg.stores.base import GraphStore
from kg.types import Chunk, Document, Entity, GraphBatch, MentionLink, Phrase, RelationLink

DIM = 384


def vec(*weights: tuple[int, float]) -> list[float]:
    """A unit vector with the given (axis, weight) components."""
    v = [0.0] * DIM
    for axis, w in weights:
        v[axis] = w
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def axis(i: int, j: int | None = None, w: float = 0.0) -> list[float]:
    return vec((i, 1.0)) if j is None else vec((i, 1.0), (j, w))


DOC1 = "Tim Cook works for Apple. Apple is based in Cupertino. Jony Ive worked for Apple."
DOC2 = "Cook leads Apple, says the press. Apple sells phones."


def _chunks(doc_id: str, text: str, base_axis: int) -> list[Chunk]:
    out, start = [], 0
    for i, sent in enumerate(s for s in text.split(". ") if s):
        s = text.index(sent, start)
        out.append(Chunk(f"{doc_id}:{i}", doc_id, i, sent, s, s + len(sent), embedding=axis(base_axis + i)))
        start = s + len(sent)
    return out


def _mention(doc_text: str, chunk: Chunk, entity_id: str, surface: str) -> MentionLink:
    s = doc_text.index(surface, chunk.start)
    return MentionLink(entity_id, chunk.id, s, s + len(surface), surface)


def batch_doc1() -> GraphBatch:
    c = _chunks("doc1", DOC1, 100)
    return GraphBatch(
        documents=[Document("doc1", DOC1, source="a.txt", title="One", metadata={"lang": "en", "n": 1},
                            sha256="h1")],
        chunks=c,
        # lookup keys are the resolver's to compute (kg.resolve.alias_keys); the store only keeps them
        entities=[
            Entity("cook", "Tim Cook", "Person", ["Tim Cook"], axis(10, 11, 0.2), keys=["tim cook"]),
            Entity("apple", "Apple", "Organization", ["Apple"], axis(20), keys=["apple"]),
            Entity("cupertino", "Cupertino", "Location", ["Cupertino"], axis(30), keys=["cupertino"]),
            Entity("ive", "Jony Ive", "Person", ["Jony Ive"], axis(10, 12, 0.9), keys=["jony ive"]),
        ],
        mentions=[
            _mention(DOC1, c[0], "cook", "Tim Cook"), _mention(DOC1, c[0], "apple", "Apple"),
            _mention(DOC1, c[1], "apple", "Apple"), _mention(DOC1, c[1], "cupertino", "Cupertino"),
            _mention(DOC1, c[2], "ive", "Jony Ive"), _mention(DOC1, c[2], "apple", "Apple"),
        ],
        relations=[
            RelationLink("cook", "apple", "WORKS_FOR", 0.6, "m1", ["doc1:0"], [(c[0].start, c[0].end)]),
            RelationLink("apple", "cupertino", "LOCATED_IN", 0.8, "m1", ["doc1:1"], [(c[1].start, c[1].end)]),
            RelationLink("ive", "apple", "WORKS_FOR", 0.7, "m1", ["doc1:2"], [(c[2].start, c[2].end)]),
        ],
    )


def batch_doc2() -> GraphBatch:
    c = _chunks("doc2", DOC2, 200)
    return GraphBatch(
        documents=[Document("doc2", DOC2, source="b.txt", title="Two", sha256="h2")],
        chunks=c,
        # the resolver hands back stored entities with the names this batch adds
        # keys given in a later batch are added to the stored ones
        entities=[Entity("cook", "Cook", "Person", ["Cook"], axis(10, 11, 0.2), keys=["cook"]),
                  Entity("apple", "Apple", "Organization", ["Apple"], axis(20), keys=["apple"])],
        mentions=[_mention(DOC2, c[0], "cook", "Cook"), _mention(DOC2, c[0], "apple", "Apple"),
                  _mention(DOC2, c[1], "apple", "Apple")],
        relations=[RelationLink("cook", "apple", "WORKS_FOR", 0.9, "m2", ["doc2:0"], [(c[0].start, c[0].end)])],
    )


def nodes(dump: dict, label: str) -> dict[str, dict]:
    return {n["properties"]["id"]: n for n in dump["nodes"] if label in n["labels"]}


def rels(dump: dict, type_: str | None = None) -> dict[tuple[str, str, str], dict]:
    return {(r["start"], r["type"], r["end"]): r["properties"] for r in dump["relationships"]
            if type_ is None or r["type"] == type_}


def entity_rels(dump: dict) -> dict[tuple[str, str, str], dict]:
    lexical = {"PART_OF", "NEXT", "MENTIONED_IN"}
    return {k: v for k, v in rels(dump).items() if k[1] not in lexical}


class StoreContract:
    # ------------------------------------------------------------ writes and dump

    def test_is_a_graph_store(self, store):
        assert isinstance(store, GraphStore)

    def test_upsert_then_dump_holds_everything(self, store):
        store.upsert(batch_doc1())
        d = store.dump()
        json.dumps(d)  # plain data
        doc = nodes(d, "Document")["doc1"]["properties"]
        assert {k: doc[k] for k in ("source", "title", "sha256")} == {"source": "a.txt", "title": "One", "sha256": "h1"}
        assert json.loads(doc["metadata"]) == {"lang": "en", "n": 1} and doc["ingested_at"]
        chunks = nodes(d, "Chunk")
        assert sorted(chunks) == ["doc1:0", "doc1:1", "doc1:2"]
        c0 = chunks["doc1:0"]["properties"]
        assert (c0["doc_id"], c0["index"], c0["text"], c0["start"], c0["end"]) == ("doc1", 0, "Tim Cook works for Apple", 0, 24)
        assert len(c0["embedding"]) == DIM
        ents = nodes(d, "Entity")
        assert sorted(ents["cook"]["labels"]) == ["Entity", "Person"]
        assert ents["apple"]["properties"]["mentions"] == 3 and ents["cook"]["properties"]["mentions"] == 1
        assert set(rels(d, "PART_OF")) == {(f"doc1:{i}", "PART_OF", "doc1") for i in range(3)}
        assert set(rels(d, "NEXT")) == {("doc1:0", "NEXT", "doc1:1"), ("doc1:1", "NEXT", "doc1:2")}
        mentioned = rels(d, "MENTIONED_IN")
        assert mentioned[("cook", "MENTIONED_IN", "doc1:0")] == {"start": 0, "end": 8, "text": "Tim Cook"}
        assert sum(1 for k in mentioned if k[0] == "apple") == 3
        works = entity_rels(d)[("cook", "WORKS_FOR", "apple")]
        assert works["sources"] == ["doc1:0"] and works["confidence"] == pytest.approx(0.6)
        assert works["model"] == "m1" and works["evidence"] == ["doc1:0|0|24"]

    def test_get_document_and_entities(self, store):
        store.upsert(batch_doc1())
        doc = store.get_document("doc1")
        assert (doc.id, doc.source, doc.title, doc.sha256, doc.metadata) == ("doc1", "a.txt", "One", "h1",
                                                                             {"lang": "en", "n": 1})
        assert store.get_document("nope") is None
        got = store.get_entities(["ive", "missing", "cook"])
        assert [e.id for e in got] == ["ive", "cook"]
        assert (got[1].name, got[1].type, got[1].aliases, got[1].mentions) == ("Tim Cook", "Person", ["Tim Cook"], 1)
        assert got[1].embedding == pytest.approx(axis(10, 11, 0.2), abs=1e-6)

    def test_reupsert_changes_nothing(self, store):
        store.upsert(batch_doc1())
        before = store.dump()
        store.upsert(batch_doc1())
        assert store.dump() == before
        assert store.stats()["mentions"] == 6

    def test_entity_upsert_keeps_name_and_unions_aliases(self, store):
        store.upsert(batch_doc1())
        store.upsert(batch_doc2())
        cook = store.get_entities(["cook"])[0]
        assert cook.name == "Tim Cook" and cook.aliases == ["Cook", "Tim Cook"]
        assert cook.mentions == 2
        found = store.find_entities_by_alias(["cook", "tim cook", "apple", "nobody"])
        assert [e.id for e in found["cook"]] == ["cook"] and [e.id for e in found["tim cook"]] == ["cook"]
        assert [e.id for e in found["apple"]] == ["apple"] and "nobody" not in found

    def test_relation_sources_union_and_max_confidence(self, store):
        store.upsert(batch_doc1())
        store.upsert(batch_doc2())
        works = entity_rels(store.dump())[("cook", "WORKS_FOR", "apple")]
        assert works["sources"] == ["doc1:0", "doc2:0"]
        assert works["evidence"] == ["doc1:0|0|24", "doc2:0|0|32"]
        assert works["confidence"] == pytest.approx(0.9) and works["model"] == "m2"
        before = store.dump()
        store.upsert(batch_doc1())  # a lower confidence again changes nothing
        assert store.dump() == before

    def test_invalid_types_are_refused(self, store):
        store.upsert(batch_doc1())
        with pytest.raises(StoreError, match="not a valid identifier"):
            store.upsert(GraphBatch(entities=[Entity("x", "X", "Bad Type`) DETACH DELETE (n")]))
        with pytest.raises(StoreError, match="not a valid identifier"):
            store.upsert(GraphBatch(relations=[RelationLink("cook", "apple", "WORKS-FOR", 1.0, "m", ["doc1:0"])]))
        with pytest.raises(StoreError):
            store.upsert(GraphBatch(relations=[RelationLink("cook", "apple", "MENTIONED_IN", 1.0, "m", ["doc1:0"])]))

    def test_links_to_unknown_nodes_are_refused(self, store):
        store.upsert(batch_doc1())
        with pytest.raises(StoreError, match="unknown Entity"):
            store.upsert(GraphBatch(relations=[RelationLink("cook", "ghost", "WORKS_FOR", 1.0, "m", ["doc1:0"])]))
        with pytest.raises(StoreError, match="unknown Chunk"):
            store.upsert(GraphBatch(mentions=[MentionLink("cook", "doc9:0", 0, 3, "Tim")]))

    def test_wrong_embedding_dimension_is_refused(self, store):
        with pytest.raises(StoreError, match="dimensions"):
            store.upsert(GraphBatch(entities=[Entity("x", "X", "Person", ["X"], [1.0, 0.0, 0.0])]))

    def test_next_links_span_upserts(self, store):
        b = batch_doc1()
        first = GraphBatch(documents=b.documents, chunks=b.chunks[:2])
        store.upsert(first)
        store.upsert(GraphBatch(documents=b.documents, chunks=b.chunks[2:]))
        assert set(rels(store.dump(), "NEXT")) == {("doc1:0", "NEXT", "doc1:1"), ("doc1:1", "NEXT", "doc1:2")}

    # ------------------------------------------------------------ delete

    def test_delete_document_removes_exactly_what_only_it_supported(self, store):
        store.upsert(batch_doc2())
        only_doc2 = store.dump()
        store.upsert(batch_doc1())
        store.upsert(batch_doc2())
        report = store.delete_document("doc1")
        assert report.found and report.doc_id == "doc1"
        assert (report.chunks, report.mentions, report.entities) == (3, 6, 2)  # cupertino and ive go
        # apple-LOCATED_IN-cupertino and ive-WORKS_FOR-apple go; cook-WORKS_FOR-apple keeps doc2's source
        assert (report.relations, report.relations_updated) == (2, 1)
        after = store.dump()
        assert sorted(nodes(after, "Entity")) == ["apple", "cook"]
        assert set(nodes(after, "Chunk")) == set(nodes(only_doc2, "Chunk"))
        assert set(nodes(after, "Document")) == {"doc2"}
        assert rels(after, "MENTIONED_IN") == rels(only_doc2, "MENTIONED_IN")
        assert entity_rels(after) == entity_rels(only_doc2)  # sources, evidence, confidence as doc2 had them
        assert rels(after, "NEXT") == rels(only_doc2, "NEXT") and rels(after, "PART_OF") == rels(only_doc2, "PART_OF")
        cook = nodes(after, "Entity")["cook"]["properties"]
        # the first name stays, and the aliases doc1 brought are kept: a merge keeps every alias
        assert cook["mentions"] == 1 and cook["name"] == "Cook" and cook["aliases"] == ["Cook", "Tim Cook"]
        assert nodes(after, "Entity")["apple"]["properties"]["mentions"] == 2
        # the removed entities can no longer be found by vector either
        assert all(h.item.id in ("cook", "apple") for h in store.similar_entities(axis(10, 12, 0.9), 5))

    def test_delete_unknown_document(self, store):
        store.upsert(batch_doc1())
        before = store.dump()
        report = store.delete_document("nope")
        assert not report.found and report.chunks == report.entities == report.relations == 0
        assert store.dump() == before

    def test_delete_then_reupsert_is_the_same_graph(self, store):
        store.upsert(batch_doc1())
        before = store.stats()
        store.delete_document("doc1")
        assert store.stats()["entities"] == 0 and store.stats()["relations"] == 0
        store.upsert(batch_doc1())
        assert store.stats() == before
        assert store.similar_entities(axis(30), 1)[0].item.id == "cupertino"

    # ------------------------------------------------------------ query

    @pytest.mark.parametrize("cypher", [
        "CREATE (:Entity {id: 'evil'})",
        "MERGE (e:Entity {id: 'evil'})",
        "MATCH (e:Entity) DETACH DELETE e",
        "MATCH (e:Entity) SET e.name = 'x'",
        "MATCH (e:Entity) REMOVE e.name",
        "MATCH (d:Document) DELETE d",
    ])
    def test_read_only_query_refuses_writes(self, store, cypher):
        store.upsert(batch_doc1())
        before = store.dump()
        with pytest.raises(ReadOnlyViolation, match="only read-only queries are allowed"):
            store.query(cypher)
        assert store.dump() == before

    def test_query_params_and_plain_rows(self, store):
        store.upsert(batch_doc1())
        rows = store.query("MATCH (e:Entity) WHERE e.type = $t RETURN e.id AS id ORDER BY id", {"t": "Person"})
        assert rows == [{"id": "cook"}, {"id": "ive"}]
        rows = store.query("MATCH (a:Entity {id: $id})-[r:WORKS_FOR]->(b) RETURN a, r, b.name AS name",
                           {"id": "cook"})
        assert len(rows) == 1 and rows[0]["name"] == "Apple"
        json.dumps(rows)
        assert rows[0]["a"]["properties"]["name"] == "Tim Cook" and "Person" in rows[0]["a"]["labels"]
        assert rows[0]["r"]["type"] == "WORKS_FOR" and rows[0]["r"]["properties"]["sources"] == ["doc1:0"]
        quoted = store.query("RETURN $s AS s", {"s": 'a "quoted" \\ string'})
        assert quoted == [{"s": 'a "quoted" \\ string'}]

    def test_bad_query_is_a_store_error(self, store):
        with pytest.raises(StoreError) as e:
            store.query("MATCH (n RETURN n")
        assert not isinstance(e.value, ReadOnlyViolation)

    def test_write_query_when_allowed(self, store):
        store.upsert(batch_doc1())
        store.query("MATCH (e:Entity {id: 'cook'}) SET e.note = $n", {"n": "hi"}, read_only=False)
        assert store.query("MATCH (e:Entity {id: 'cook'}) RETURN e.note AS n") == [{"n": "hi"}]

    # ------------------------------------------------------------ retrieval

    def test_similar_entities(self, store):
        store.upsert(batch_doc1())
        hits = store.similar_entities(axis(10, 11, 0.25), 2)
        assert [h.item.id for h in hits] == ["cook", "ive"]
        assert hits[0].score > hits[1].score and -1.0 <= hits[1].score <= hits[0].score <= 1.0 + 1e-6
        assert hits[0].score == pytest.approx(1.0, abs=0.01)
        hits = store.similar_entities(axis(10, 11, 0.25), 3, type="Organization")
        assert [h.item.id for h in hits] == ["apple"] and hits[0].score == pytest.approx(0.0, abs=1e-6)
        assert hits[0].item.type == "Organization" and hits[0].item.aliases == ["Apple"]
        assert store.similar_entities(axis(10), 0) == []

    def test_similar_entities_many(self, store):
        """One call answers several vectors, each with its own type filter, as one call each would,
        less the hits under min_score."""
        for _ in range(3):  # updates leave stale index entries behind (FalkorDB): they must not count
            store.upsert(batch_doc1())
            store.upsert(batch_doc2())
        queries = [axis(10, 11, 0.25), axis(10, 11, 0.25), axis(20), axis(30, 10, 0.3)]
        types = [None, "Organization", None, "Location"]
        many = store.similar_entities_many(queries, 3, types)
        assert len(many) == 4
        for q, t, hits in zip(queries, types, many):
            one = store.similar_entities(q, 3, type=t)
            assert [h.item.id for h in hits] == [h.item.id for h in one]
            assert [h.score for h in hits] == pytest.approx([h.score for h in one], abs=1e-6)
        assert [h.item.id for h in many[1]] == ["apple"]
        assert [h.item.id for h in many[3]] == ["cupertino"] and many[3][0].item.type == "Location"
        strict = store.similar_entities_many(queries, 3, types, min_score=0.9)
        assert [[h.item.id for h in hits] for hits in strict] == [["cook"], [], ["apple"], ["cupertino"]]
        assert all(h.score >= 0.9 for hits in strict for h in hits)
        assert store.similar_entities_many([], 3) == [] and store.similar_entities_many(queries, 0) == [[]] * 4

    def test_similar_entities_survive_many_updates(self, store):
        for _ in range(5):  # every upsert updates the entities (aliases, mentions)
            store.upsert(batch_doc1())
            store.upsert(batch_doc2())
        for query, want in [(axis(20), "apple"), (axis(30), "cupertino"), (axis(10, 12, 0.9), "ive")]:
            assert store.similar_entities(query, 1)[0].item.id == want

    def test_similar_many_answer_each_vector_as_alone(self, store):
        batch = batch_doc1()
        batch.chunks[0].phrases = ["fruit", "phone maker"]
        batch.chunks[1].phrases = ["valley town"]
        batch.phrases = [Phrase("fruit", axis(40)), Phrase("phone maker", axis(41, 20, 0.5)),
                         Phrase("valley town", axis(42))]
        store.upsert(batch)
        queries = [axis(20), axis(10, 12, 0.8), axis(42, 41, 0.1), axis(10, 11, 0.25)]
        many = store.similar_entities_many(queries, 2, with_embedding=False)
        assert [h.item.id for h in many[0]][:1] == ["apple"] and [h.item.id for h in many[3]] == ["cook", "ive"]
        assert [h.item.id for h in many[1]] == ["ive", "cook"] and many[1][0].item.embedding is None
        for hits, q in zip(many, queries):  # the same hits and scores as one vector at a time
            alone = store.similar_entities(q, 2, with_embedding=False)
            assert [(h.item.id, h.item.name) for h in hits] == [(h.item.id, h.item.name) for h in alone]
            assert [h.score for h in hits] == pytest.approx([h.score for h in alone], abs=1e-6)
        people = store.similar_entities_many(queries, 1, ["Person"] * len(queries))
        # axis(20) and axis(42) are orthogonal to both people: a tie, broken by id
        assert [[h.item.id for h in hits] for hits in people] == [["cook"], ["ive"], ["cook"], ["cook"]]
        assert people[1][0].item.embedding == pytest.approx(axis(10, 12, 0.9), abs=1e-6)
        phrases = store.similar_phrases_many([axis(42, 41, 0.1), axis(40), axis(41, 20, 0.5)], 1)
        assert [[h.item.key for h in hits] for hits in phrases] == [["valley town"], ["fruit"], ["phone maker"]]
        assert phrases[1][0].score == pytest.approx(1.0, abs=1e-6)
        assert [h.item.key for h in store.similar_phrases(axis(40), 1)] == ["fruit"]
        phrase_queries = [axis(42, 41, 0.1), axis(40), axis(41, 20, 0.5), axis(10)]  # axis(10): a 3-way tie
        for hits, q in zip(store.similar_phrases_many(phrase_queries, 2), phrase_queries):
            alone = store.similar_phrases(q, 2)
            assert len(hits) == 2 and [h.item.key for h in hits] == [h.item.key for h in alone]
            assert [h.score for h in hits] == pytest.approx([h.score for h in alone], abs=1e-6)
        # no entity is an Event: an empty list in that vector's place, the others answered
        mixed = store.similar_entities_many([axis(20), axis(20), axis(30)], 1, [None, "Event", "Location"])
        assert [[h.item.id for h in hits] for hits in mixed] == [["apple"], [], ["cupertino"]]
        assert store.similar_entities_many([], 3) == [] and store.similar_phrases_many([], 3) == []
        assert store.similar_entities_many(queries[:2], 0) == [[], []]
        assert store.similar_phrases_many(queries[:2], 0) == [[], []]

    def test_entities_named_like(self, store):
        store.upsert(batch_doc1())
        store.upsert(batch_doc2())  # adds the alias "Cook" to Tim Cook
        assert [e.id for e in store.entities_named_like("cook", 5)] == ["cook"]
        assert [e.id for e in store.entities_named_like("O", 5)] == ["cook", "ive", "cupertino"]  # shortest name first
        assert [e.id for e in store.entities_named_like("o", 1)] == ["cook"]
        assert [e.id for e in store.entities_named_like("O", 5, type="Location")] == ["cupertino"]
        hit = store.entities_named_like("JONY", 5)[0]
        assert (hit.id, hit.name, hit.type, hit.aliases, hit.embedding) == ("ive", "Jony Ive", "Person", ["Jony Ive"], None)
        assert store.entities_named_like("nobody", 5) == [] and store.entities_named_like(" ", 5) == []

    def test_list_documents_pages_by_id(self, store):
        store.upsert(batch_doc2())
        store.upsert(batch_doc1())
        assert [d.id for d in store.list_documents(0, 10)] == ["doc1", "doc2"]
        page = store.list_documents(1, 1)
        assert [(d.id, d.title, d.source) for d in page] == [("doc2", "Two", "b.txt")]
        assert store.list_documents(0, 1)[0].metadata == {"lang": "en", "n": 1}
        assert store.list_documents(2, 10) == [] and store.list_documents(0, 0) == []

    def test_search_chunks_by_text_and_by_vector(self, store):
        store.upsert(batch_doc1())
        store.upsert(batch_doc2())
        by_text = store.search_chunks(None, "Cupertino", 3)
        assert by_text[0].item.id == "doc1:1" and by_text[0].item.text == "Apple is based in Cupertino"
        by_vec = store.search_chunks(axis(201), "", 1)
        assert [h.item.id for h in by_vec] == ["doc2:1"]
        assert (by_vec[0].item.doc_id, by_vec[0].item.index, by_vec[0].item.start) == ("doc2", 1, 34)
        # both rankings agree on doc2:0 ("Cook leads Apple"): fusion puts it first
        both = store.search_chunks(axis(200), "leads press", 3)
        assert both[0].item.id == "doc2:0"
        assert [h.score for h in both] == sorted((h.score for h in both), reverse=True)
        assert store.search_chunks(None, "-@|\"*", 3) == []  # query syntax characters are not an error

    def test_nearest_chunk_ids_rank_as_nearest_chunks(self, store):
        store.upsert(batch_doc1())
        store.upsert(batch_doc2())
        for query in (axis(200), axis(201), axis(10, 200, 0.5)):
            full = store.nearest_chunks(query, 3)
            ids = store.nearest_chunk_ids(query, 3)
            assert [h.item for h in ids] == [h.item.id for h in full] and len(ids) == 3
            assert [h.score for h in ids] == pytest.approx([h.score for h in full])
        assert store.nearest_chunk_ids(axis(201), 1)[0].item == "doc2:1" and store.nearest_chunk_ids(axis(201), 0) == []

    def test_neighbourhood(self, store):
        store.upsert(batch_doc1())
        one = store.neighbourhood(["cook"], 1, 10)
        assert sorted(e.id for e in one.entities) == ["apple", "cook"]
        assert [(r.head_id, r.type, r.tail_id) for r in one.relations] == [("cook", "WORKS_FOR", "apple")]
        assert one.relations[0].sources == ["doc1:0"] and one.relations[0].evidence == [(0, 24)]
        two = store.neighbourhood(["cook"], 2, 10)
        assert sorted(e.id for e in two.entities) == ["apple", "cook", "cupertino", "ive"]
        assert len(two.relations) == 3
        capped = store.neighbourhood(["cook"], 2, 2)
        assert sorted(e.id for e in capped.entities) == ["apple", "cook"]  # nearest first
        assert store.neighbourhood(["nobody"], 2, 10).entities == []

    def test_stats(self, store):
        assert store.stats()["entities"] == 0
        store.upsert(batch_doc1())
        store.upsert(batch_doc2())
        s = store.stats()
        assert (s["documents"], s["chunks"], s["entities"], s["mentions"], s["relations"]) == (2, 5, 4, 9, 3)
        assert s["entity_types"] == {"Location": 1, "Organization": 1, "Person": 2}
        assert s["relation_types"] == {"LOCATED_IN": 1, "WORKS_FOR": 2}

    def test_clear(self, store):
        store.upsert(batch_doc1())
        store.clear()
        assert store.stats()["documents"] == 0 and store.dump()["relationships"] == []
        store.upsert(batch_doc1())  # indexes still there
        assert store.similar_entities(axis(20), 1)[0].item.id == "apple"
