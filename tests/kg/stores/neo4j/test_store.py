"""The Neo4j store without a server: what it sends through the driver (a recording fake,
fake.py), in which access mode and transaction, with which parameters; and its errors, against a
real closed port. The contract suite (tests/kg/stores/test_contract.py) runs it on a real server
when KG_NEO4J_URI is set."""

from __future__ import annotations

import logging
import socket

import neo4j
import pytest
from neo4j import exceptions as nx

from kg.config import Settings
from kg.errors import QueryLimitExceeded, ReadOnlyViolation, StoreError, StoreUnavailable
from kg.stores.factory import open_store
from kg.stores.neo4j import dialect as d
from kg.stores.neo4j.store import Neo4jStore, redact
from kg.types import GraphBatch
from tests.kg.stores.neo4j.fake import FakeDriver, empty_graph
from tests.kg.stores.store_contract import DIM, axis, batch_doc1

SECRET = "s3cret-Pa55word"


def make(respond=None, **kw) -> tuple[Neo4jStore, FakeDriver]:
    drv = FakeDriver(respond)
    store = Neo4jStore("bolt://db:7687", "neo4j", SECRET, driver=drv, **kw)
    return store, drv


def by_query(calls, st: d.Statement):
    return [c for c in calls if c.query == st.cypher]


def test_schema_is_created_once_per_statement_each_in_its_own_write():
    store, drv = make()
    created = [c for c in drv.calls if c.query.startswith("CREATE ")]
    assert [c.query for c in created] == [s.cypher for s in d.schema_statements(DIM)]
    assert all(c.tx == "write" and c.session_mode == neo4j.WRITE_ACCESS for c in created)
    assert len({c.tx_id for c in created}) == len(created)  # schema changes cannot share a transaction
    assert "`vector.dimensions`: 384" in d.vector_index("Chunk", DIM).cypher
    assert by_query(drv.calls, d.AWAIT_INDEXES)


def test_an_existing_graph_keeps_its_vector_dimension():
    store, _ = make(lambda q, p: [{"dim": 768}] if q == d.VECTOR_DIMENSIONS.cypher else [])
    assert store.dim == 768


def test_every_read_runs_in_a_read_transaction_in_read_mode():
    store, drv = make()
    drv.calls.clear()
    store.get_document("doc1")
    store.get_entities(["a"])
    store.find_entities_by_alias(["a"])
    store.similar_entities(axis(1), 3)
    store.similar_entities(axis(1), 3, type="Person")
    store.entities_named_like("ap", 3)
    store.search_chunks(axis(2), "apple pie", 3)
    store.nearest_chunks(axis(2), 3)
    store.nearest_chunk_ids(axis(2), 3)
    store.fulltext_chunks("apple", 3)
    store.similar_phrases(axis(3), 3)
    store.similar_entities_many([axis(1), axis(2)], 3, ["Person", None], min_score=0.5)
    store.similar_phrases_many([axis(1), axis(2)], 3)
    store.missing_phrases(["x"])
    store.list_documents()
    store.get_documents(["doc1"])
    store.get_chunks(["doc1:0"])
    store.graph_edges()
    store.neighbourhood(["a"], 2, 10)
    store.stats()
    store.dump()
    store.generation()
    store.query("MATCH (n) RETURN n")
    store.read_only_query("MATCH (n) RETURN n LIMIT 3")
    assert len(drv.calls) > 20
    assert all((c.session_mode, c.tx) == (neo4j.READ_ACCESS, "read") for c in drv.calls), \
        [c.query for c in drv.calls if (c.session_mode, c.tx) != (neo4j.READ_ACCESS, "read")]


def test_an_upsert_is_one_write_transaction_that_takes_the_token_first():
    store, drv = make()
    drv.calls.clear()
    store.upsert(batch_doc1())
    assert {(c.session_mode, c.tx) for c in drv.calls} == {(neo4j.WRITE_ACCESS, "write")}
    assert len({c.tx_id for c in drv.calls}) == 1  # the plan's reads and its writes, one transaction
    assert drv.calls[0].query == d.LOCK.cypher and drv.calls[-1].query == d.BUMP_GENERATION.cypher
    # the entity statement of each type, with rows of the pinned shape
    people = by_query(drv.calls, d.entity_statement("`Person`"))
    assert len(people) == 1
    rows = people[0].params["rows"]
    assert set(people[0].params) == {"rows"} and {r["id"] for r in rows} == {"cook", "ive"}
    assert set(rows[0]) == set(d.entity_statement("`X`").params["rows"][0])
    emb = rows[0]["embedding"]
    assert type(emb) is list and len(emb) == DIM and all(type(x) is float for x in emb)  # sent as LIST<FLOAT>
    assert by_query(drv.calls, d.entity_statement("`Location`"))


def test_a_plan_that_writes_nothing_leaves_the_generation():
    store, drv = make()
    drv.calls.clear()
    report = store.delete_document("nope")
    assert not report.found
    assert [c.query for c in drv.calls if c.query in (d.LOCK.cypher, d.BUMP_GENERATION.cypher)] == [d.LOCK.cypher]


def test_large_statements_go_in_slices_within_the_one_transaction():
    store, drv = make(write_batch_size=2)
    drv.calls.clear()
    store.upsert(batch_doc1())  # 3 chunks, 6 mentions
    creates = [c for c in drv.calls if c.query.startswith("UNWIND $rows AS r MATCH (d:Document {id: r.doc_id}) CREATE")]
    assert [len(c.params["rows"]) for c in creates] == [2, 1]
    mentions = [c for c in drv.calls if "MERGE (e)-[m:MENTIONED_IN" in c.query]
    assert [len(c.params["rows"]) for c in mentions] == [2, 2, 2]
    assert len({c.tx_id for c in drv.calls}) == 1


def test_vector_search_parameters_and_scores():
    # Neo4j's cosine score is (1 + cos) / 2: the store gives back the cosine
    def respond(q, p):
        if q == d.nearest_chunks(ids_only=True).cypher:
            return [{"id": "c1", "score": 1.0}, {"id": "c2", "score": 0.5}, {"id": "c3", "score": 0.25}]
        return empty_graph(q, p)

    store, drv = make(respond)
    drv.calls.clear()
    hits = store.nearest_chunk_ids(axis(5), 3)
    assert [(h.item, h.score) for h in hits] == [("c1", 1.0), ("c2", 0.0), ("c3", -0.5)]
    (call,) = drv.calls
    assert set(call.params) == set(d.nearest_chunks(True).params) == {"n", "v"}
    assert call.params["n"] == 3 and type(call.params["v"]) is list and len(call.params["v"]) == DIM


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))  # axis() vectors are unit vectors


ENTITIES = [{"id": i, "name": i.title(), "type": t, "aliases": [i.title()], "keys": [i], "mentions": 1, "embedding": v}
            for i, t, v in [("ada", "Person", axis(1)), ("bob", "Person", axis(2)),
                            ("acme", "Organization", axis(3)), ("globex", "Organization", axis(4))]]


def vector_index(q, p):
    """What Neo4j answers to the many-vector entity statement over ENTITIES: per vector i, its
    $ns[i] nearest candidates, those of type $ts[i], the best $k, as rows (i, properties, score)
    with Neo4j's score (1 + cos) / 2, ordered by i, score, id."""
    if q != d.nearest_entities(True).cypher:
        return empty_graph(q, p)
    rows = []
    for i, (v, t, n) in enumerate(zip(p["vs"], p["ts"], p["ns"])):
        near = sorted(ENTITIES, key=lambda e: (-_cos(v, e["embedding"]), e["id"]))[:n]
        rows += [{"i": i, "e": e, "score": (1 + _cos(v, e["embedding"])) / 2}
                 for e in [e for e in near if t is None or e["type"] == t][:p["k"]]]
    return rows


def test_many_vectors_are_one_statement_and_each_gets_its_own_hits():
    store, drv = make(vector_index)
    drv.calls.clear()
    queries = [axis(1, 2, 0.5), axis(4, 2, 0.5), axis(1)]
    types = [None, "Person", "Organization"]
    hits = store.similar_entities_many(queries, 2, types, min_score=0.3)
    (call,) = drv.calls  # one round trip for the three vectors
    assert (call.query, call.session_mode, call.tx) == (d.nearest_entities(True).cypher, neo4j.READ_ACCESS, "read")
    assert set(call.params) == set(d.nearest_entities(True).params)
    assert call.params["ts"] == types and call.params["ns"] == [2, 50, 50] and call.params["k"] == 2
    assert [len(v) for v in call.params["vs"]] == [DIM] * 3 and all(type(v) is list for v in call.params["vs"])
    # the type filter: bob is the only Person over min_score for the 2nd vector (globex is nearer);
    # ada is nearest the 3rd, but no Organization scores 0.3 there: an empty list, in its place
    assert [[h.item.id for h in each] for each in hits] == [["ada", "bob"], ["bob"], []]
    assert [h.score for h in hits[0]] == pytest.approx([0.894427, 0.447214], abs=1e-5)
    assert hits[1][0].item.type == "Person" and hits[1][0].item.embedding == pytest.approx(axis(2))
    # the same as one vector at a time, less the hits under min_score
    for q, t, each in zip(queries, types, hits):
        alone = [h for h in store.similar_entities(q, 2, type=t) if h.score >= 0.3]
        assert [(h.item.id, h.score) for h in each] == [(h.item.id, h.score) for h in alone]


def test_a_type_filter_asks_the_index_for_more_candidates_until_none_are_left():
    found = {"id": "expo", "type": "Event", "name": "Expo"}

    def respond(q, p):
        if q == d.COUNT_ENTITY_VECTORS.cypher:
            return [{"n": 500}]
        if q == d.nearest_entities(False).cypher:  # the Event shows among 200 candidates, not 50
            return [{"i": i, "e": found, "score": 0.75} for i, (t, n) in enumerate(zip(p["ts"], p["ns"]))
                    if t == "Event" and n >= 200]
        return empty_graph(q, p)

    store, drv = make(respond)
    drv.calls.clear()
    hits = store.similar_entities_many([axis(1), axis(2), axis(3)], 3, [None, "Event", "Person"],
                                       with_embedding=False)
    assert [[h.item.id for h in each] for each in hits] == [[], ["expo"], []]
    assert hits[1][0].score == pytest.approx(0.5)
    asked = [c.params for c in by_query(drv.calls, d.nearest_entities(False))]
    # each round asks again only for the typed vectors short of k (3), 4x more each time, up to every
    # entity with a vector; the untyped vector keeps what the first round gave it, and the Event's
    # rows of the later rounds (i = 0 there) go back to the second vector
    assert [(p["ts"], p["ns"]) for p in asked] == [([None, "Event", "Person"], [3, 50, 50]),
                                                   (["Event", "Person"], [200, 200]),
                                                   (["Event", "Person"], [500, 500])]
    assert len(by_query(drv.calls, d.COUNT_ENTITY_VECTORS)) == 1
    drv.calls.clear()
    assert store.similar_entities(axis(1), 3, type="Person") == []
    assert [c.params["ns"] for c in by_query(drv.calls, d.nearest_entities(True))] == [[50], [200], [500]]
    drv.calls.clear()
    store.similar_entities(axis(1), 3)
    (call,) = drv.calls
    assert (call.params["ns"], call.params["ts"]) == ([3], [None])


def test_a_type_filter_stops_widening_once_its_hits_score_under_min_score():
    # two Events kept, cosine 0.5: every further candidate scores lower, so under min_score 0.6
    # asking for more would only find hits that are dropped anyway
    hit = [{"id": f"e{n}", "type": "Event", "name": f"E{n}"} for n in range(2)]

    def respond(q, p):
        if q == d.COUNT_ENTITY_VECTORS.cypher:
            return [{"n": 500}]
        if q == d.nearest_entities(False).cypher:
            return [{"i": 0, "e": e, "score": 0.75} for e in hit]
        return empty_graph(q, p)

    store, drv = make(respond)
    drv.calls.clear()
    assert store.similar_entities_many([axis(1)], 3, ["Event"], min_score=0.6, with_embedding=False) == [[]]
    assert len(by_query(drv.calls, d.nearest_entities(False))) == 1
    drv.calls.clear()
    hits = store.similar_entities_many([axis(1)], 3, ["Event"], min_score=0.4, with_embedding=False)
    assert [h.item.id for h in hits[0]] == ["e0", "e1"]
    assert [c.params["ns"] for c in by_query(drv.calls, d.nearest_entities(False))] == [[50], [200], [500]]


def test_many_phrase_vectors_are_one_statement():
    def respond(q, p):
        if q == d.NEAREST_PHRASES.cypher:
            return [{"i": 0, "key": "fruit", "score": 1.0}, {"i": 0, "key": "pie", "score": 0.75},
                    {"i": 2, "key": "town", "score": 0.5}]
        return empty_graph(q, p)

    store, drv = make(respond)
    drv.calls.clear()
    hits = store.similar_phrases_many([axis(1), axis(2), axis(3)], 2)
    (call,) = drv.calls
    assert set(call.params) == set(d.NEAREST_PHRASES.params) and call.params["n"] == 2 and len(call.params["vs"]) == 3
    assert [[(h.item.key, h.score) for h in each] for each in hits] == [[("fruit", 1.0), ("pie", 0.5)], [],
                                                                       [("town", 0.0)]]


def test_fulltext_words_are_lowercased_so_operators_stay_words():
    store, drv = make()
    drv.calls.clear()
    store.search_chunks(None, 'Apples AND "pears" -OR NOT', 3)
    (call,) = by_query(drv.calls, d.fulltext_chunks(True))
    assert call.params == {"q": "apples OR and OR pears OR or OR not", "n": 20}


def test_user_query_has_its_timeout_and_fetches_no_more_rows_than_needed():
    store, drv = make(lambda q, p: [{"i": i} for i in range(100)] if q.startswith("UNWIND") else [])
    drv.calls.clear()
    result = store.read_only_query("UNWIND range(1, 100) AS i RETURN i", timeout_ms=1500, max_rows=5)
    assert result.rows == [{"i": i} for i in range(5)] and result.truncated
    (call,) = drv.calls
    assert (call.session_mode, call.tx, call.timeout) == (neo4j.READ_ACCESS, "read", 1.5)
    assert drv.results[-1].fetched == 6  # the limit, plus one to know it cut


def test_a_write_query_when_allowed_runs_in_a_write_transaction_and_bumps_the_generation():
    store, drv = make()
    drv.calls.clear()
    store.query("MATCH (e:Entity {id: 'x'}) SET e.n = 1", read_only=False)
    assert [c.tx for c in drv.calls] == ["write", "write"] and drv.calls[-1].query == d.BUMP_GENERATION.cypher


@pytest.mark.parametrize("code, error", [
    ("Neo.ClientError.Statement.AccessMode", ReadOnlyViolation),
    ("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration", QueryLimitExceeded),
    ("Neo.ClientError.Statement.SyntaxError", StoreError),
])
def test_server_errors_become_one_line_store_errors(code, error):
    def respond(q, p):
        if q.startswith("MATCH (x)"):
            raise nx.Neo4jError._hydrate_neo4j(code=code, message=f"server says no:\n{code}")
        return []

    store, _ = make(respond)
    with pytest.raises(error) as e:
        store.read_only_query("MATCH (x) RETURN x")
    assert "\n" not in str(e.value)


def test_clear_deletes_in_slices_until_nothing_is_left():
    left = [3]

    def respond(q, p):
        if q == d.CLEAR_SLICE.cypher:
            n, left[0] = min(left[0], 2), max(0, left[0] - 2)
            return [{"n": n}]
        return []

    store, drv = make(respond)
    d.CLEAR_SLICE.params  # noqa: B018 (the slice size is a parameter)
    drv.calls.clear()
    store.clear()
    assert [c.query for c in drv.calls].count(d.CLEAR_SLICE.cypher) == 3
    assert len({c.tx_id for c in drv.calls}) == 4 and drv.calls[-1].query == d.BUMP_GENERATION.cypher


def test_dump_leaves_out_the_write_token():
    store, drv = make()
    drv.calls.clear()
    store.dump()
    assert drv.calls[0].query == d.DUMP_NODES.cypher and "NOT n:KgMeta" in d.DUMP_NODES.cypher


def test_vectors_and_numpy_values_are_sent_as_plain_python():
    import numpy as np

    assert d.encode({"v": np.arange(3, dtype=np.float32), "n": np.int64(4), "rows": [{"x": np.float32(0.5)}]}) == \
        {"v": [0.0, 1.0, 2.0], "n": 4, "rows": [{"x": 0.5}]}


# --- against a real socket: a closed port on this machine -----------------------------------------

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is


def test_unreachable_server_is_one_clear_error_naming_the_setting(caplog):
    caplog.set_level(logging.DEBUG)  # the driver's own debug log included
    port = closed_port()
    settings = Settings(store="neo4j", neo4j_uri=f"bolt://127.0.0.1:{port}", neo4j_password=SECRET)
    with pytest.raises(StoreUnavailable) as e:
        open_store(settings)
    msg = str(e.value)
    assert "KG_NEO4J_URI" in msg and f"bolt://127.0.0.1:{port}" in msg and "\n" not in msg
    assert "refused" in msg.lower()
    assert SECRET not in msg and SECRET not in caplog.text and SECRET not in repr(settings)
    assert caplog.records  # the driver did log its attempt; the secret is just not in it


def test_a_password_in_the_uri_is_used_and_never_shown(caplog):
    caplog.set_level(logging.DEBUG)
    port = closed_port()
    with pytest.raises(StoreUnavailable) as e:
        Neo4jStore(f"bolt://neo4j:{SECRET}@127.0.0.1:{port}", "ignored", "ignored")
    assert SECRET not in str(e.value) and SECRET not in caplog.text
    assert f"bolt://127.0.0.1:{port}" in str(e.value)
    assert redact(f"neo4j+s://u:{SECRET}@h:7687/x?policy=eu") == "neo4j+s://h:7687/x?policy=eu"


def test_not_a_neo4j_address():
    with pytest.raises(StoreError, match="KG_NEO4J_URI 'http://localhost:7474' is not a Neo4j address"):
        Neo4jStore("http://localhost:7474", "neo4j", SECRET)


def test_refused_credentials_name_the_settings_not_the_password():
    class Refusing(FakeDriver):
        def verify_connectivity(self):
            raise nx.Neo4jError._hydrate_neo4j(code="Neo.ClientError.Security.Unauthorized",
                                               message="The client is unauthorized due to authentication failure.")

    drv = Refusing()
    with pytest.raises(StoreError, match="KG_NEO4J_USER / KG_NEO4J_PASSWORD") as e:
        Neo4jStore("bolt://db:7687", "neo4j", SECRET, driver=drv)
    assert SECRET not in str(e.value) and drv.closed


def test_upserting_vectors_of_the_wrong_dimension_is_refused_before_sending():
    store, drv = make()
    drv.calls.clear()
    from kg.types import Entity

    with pytest.raises(StoreError, match="dimensions"):
        store.upsert(GraphBatch(entities=[Entity("x", "X", "Person", ["X"], [1.0, 0.0])]))
    assert all(c.query != d.entity_statement("`Person`").cypher for c in drv.calls)
