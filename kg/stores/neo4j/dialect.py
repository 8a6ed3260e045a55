"""Neo4j 5's dialect: every statement the Neo4j backend adds to the shared Cypher of
kg/stores/cypher_store.py (schema, vector and full-text calls, the entity upsert, the write
token), and its parameter encodings.

Every statement here is a `Statement` with the parameters it takes, and `all_statements()`
yields each of them for every label of a schema, so a test can hand all of them to Neo4j's own
Cypher parser (tests/kg/stores/neo4j/test_cypher_static.py) without a server.

The CypherStore hooks this dialect supplies (store.py wires them): `_vector` (a plain list:
Neo4j stores LIST<FLOAT> and indexes it as is), `_entity_statement`, `_nearest_entities_many`
and `_nearest_phrases_many` (many query vectors in one statement; the single-vector hooks ask
them for one), `_nearest_chunks`, `_nearest_chunk_ids`, `_fulltext_chunks`, and the dump's node
query (the write-token node is left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from kg.stores.cypher_store import CHUNK_FIELDS, ENTITY_FIELDS
from kg.stores.lexical import entity_label

# the write token: one node every write updates first, in its own transaction. Its lock serialises
# kg's writers (a plan's reads stay true until its write commits) and its random value is the
# graph's generation. It is the store's bookkeeping, not graph data: dump() leaves it out.
META_LABEL = "KgMeta"
META_ID = "graph"

CONSTRAINTS = {  # name -> (label, property): identity, and MERGE's lock on it
    "kg_document_id": ("Document", "id"),
    "kg_chunk_id": ("Chunk", "id"),
    "kg_entity_id": ("Entity", "id"),
    "kg_phrase_key": ("Phrase", "key"),
    "kg_meta_id": (META_LABEL, "id"),
}
RANGE_INDEXES = {"kg_chunk_doc_id": ("Chunk", "doc_id")}  # a document's chunks: every delete plan reads them
VECTOR_INDEXES = {"Entity": "kg_entity_embedding", "Chunk": "kg_chunk_embedding", "Phrase": "kg_phrase_embedding"}
FULLTEXT_CHUNKS = "kg_chunk_text"
FULLTEXT_INDEXES = {  # name -> (label, properties)
    FULLTEXT_CHUNKS: ("Chunk", ("text",)),
    "kg_entity_name": ("Entity", ("name",)),  # for users' queries: CALL db.index.fulltext.queryNodes('kg_entity_name', ...)
}
INDEX_WAIT_S = 300  # db.awaitIndexes: how long a new store waits for its indexes to come online


@dataclass(frozen=True)
class Statement:
    """One statement the backend sends, and an example of the parameters it takes (their names
    and shapes are what the tests pin)."""

    name: str
    cypher: str
    params: Mapping[str, Any] = field(default_factory=dict)


EXAMPLE_VECTOR = [0.0] * 3  # the shape of a vector parameter (LIST<FLOAT>); its length is the index's


def constraint(name: str) -> Statement:
    label, prop = CONSTRAINTS[name]
    return Statement(name, f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE")


def range_index(name: str) -> Statement:
    label, prop = RANGE_INDEXES[name]
    return Statement(name, f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})")


def vector_index(label: str, dim: int) -> Statement:
    # the dimension is formatted in: index options take no parameters
    name = VECTOR_INDEXES[label]
    return Statement(name, f"CREATE VECTOR INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.embedding) "
                           f"OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dim)}, "
                           "`vector.similarity_function`: 'cosine'}}")


def fulltext_index(name: str) -> Statement:
    label, props = FULLTEXT_INDEXES[name]
    on = ", ".join(f"n.{p}" for p in props)
    return Statement(name, f"CREATE FULLTEXT INDEX {name} IF NOT EXISTS FOR (n:{label}) ON EACH [{on}]")


def schema_statements(dim: int) -> list[Statement]:
    """What a store needs before its first write, in order; each is a no-op when it exists."""
    return ([constraint(n) for n in CONSTRAINTS] + [range_index(n) for n in RANGE_INDEXES]
            + [vector_index(label, dim) for label in VECTOR_INDEXES] + [fulltext_index(n) for n in FULLTEXT_INDEXES])


AWAIT_INDEXES = Statement("await_indexes", f"CALL db.awaitIndexes({INDEX_WAIT_S})")
VECTOR_DIMENSIONS = Statement(
    "vector_dimensions",
    "SHOW VECTOR INDEXES YIELD name, options WHERE name = $name "
    "RETURN options.indexConfig['vector.dimensions'] AS dim",
    {"name": VECTOR_INDEXES["Chunk"]})

# every write transaction starts by writing the token node: Neo4j then holds its write lock
# until commit, so the next kg writer waits, and reads what this one wrote
LOCK = Statement("lock", f"MERGE (m:{META_LABEL} {{id: $id}}) SET m.locked = true", {"id": META_ID})
BUMP_GENERATION = Statement("bump_generation",
                            f"MERGE (m:{META_LABEL} {{id: $id}}) SET m.generation = randomUUID()", {"id": META_ID})
READ_GENERATION = Statement("read_generation", f"MATCH (m:{META_LABEL} {{id: $id}}) RETURN m.generation",
                            {"id": META_ID})
# clear() deletes in slices, each its own transaction, so a large graph never needs one huge one
CLEAR_SLICE = Statement("clear_slice", "MATCH (n) WITH n LIMIT $n DETACH DELETE n RETURN count(*)", {"n": 10_000})
DUMP_NODES = Statement("dump_nodes", f"MATCH (n) WHERE NOT n:{META_LABEL} RETURN labels(n), properties(n)")
COUNT_ENTITY_VECTORS = Statement("count_entity_vectors",
                                 "MATCH (e:Entity) WHERE e.embedding IS NOT NULL RETURN count(e)")


def entity_statement(label: str) -> Statement:
    """Upsert entity rows of one type: the label is set when the entity is created, the vector
    only when the row has one (a stored entity's vector is kept; merge.with_stored_entity)."""
    return Statement(
        f"upsert_entities:{label}",
        f"UNWIND $rows AS r MERGE (e:Entity {{id: r.id}}) "
        f"ON CREATE SET e:{label}, e.name = r.name, e.type = r.type, e.mentions = 0 "
        "SET e.aliases = r.aliases, e.keys = r.keys "
        "FOREACH (_ IN CASE WHEN r.embedding IS NULL THEN [] ELSE [1] END | SET e.embedding = r.embedding)",
        {"rows": [{"id": "e1", "name": "Ada", "type": "Person", "aliases": ["Ada"], "keys": ["ada"],
                   "embedding": EXAMPLE_VECTOR}]})


# --- vector and full-text search. Neo4j's cosine score is (1 + cos) / 2; cosine() turns it back.

def nearest_entities(with_embedding: bool) -> Statement:
    """The k nearest entities of each vector of $vs, all of them in one round trip: rows
    (i, entity, score), i the vector's place in $vs, ordered by i, then best first (ties by id).
    A vector without hits has no rows."""
    fields = "properties(node)" if with_embedding else f"node {ENTITY_FIELDS}"
    # a type filter ($ts[i]) runs after the index: the store asks for more candidates ($ns[i]) than it keeps ($k)
    return Statement(
        f"nearest_entities:{'full' if with_embedding else 'short'}",
        "UNWIND range(0, size($vs) - 1) AS i CALL (i) { "
        f"CALL db.index.vector.queryNodes('{VECTOR_INDEXES['Entity']}', $ns[i], $vs[i]) YIELD node, score "
        "WHERE $ts[i] IS NULL OR node.type = $ts[i] RETURN node, score ORDER BY score DESC, node.id LIMIT $k } "
        f"RETURN i, {fields}, score ORDER BY i, score DESC, node.id",
        {"vs": [EXAMPLE_VECTOR, EXAMPLE_VECTOR], "ns": [5, 50], "ts": [None, "Person"], "k": 5})


def nearest_chunks(ids_only: bool) -> Statement:
    fields = "node.id" if ids_only else f"node {CHUNK_FIELDS}"
    return Statement(
        f"nearest_chunks:{'ids' if ids_only else 'full'}",
        f"CALL db.index.vector.queryNodes('{VECTOR_INDEXES['Chunk']}', $n, $v) YIELD node, score "
        f"RETURN {fields}, score ORDER BY score DESC, node.id",
        {"n": 10, "v": EXAMPLE_VECTOR})


# the $n nearest phrases of each vector of $vs in one round trip, grouped as nearest_entities'
NEAREST_PHRASES = Statement(
    "nearest_phrases",
    "UNWIND range(0, size($vs) - 1) AS i "
    f"CALL db.index.vector.queryNodes('{VECTOR_INDEXES['Phrase']}', $n, $vs[i]) YIELD node, score "
    "RETURN i, node.key, score ORDER BY i, score DESC, node.key",
    {"n": 10, "vs": [EXAMPLE_VECTOR, EXAMPLE_VECTOR]})


def fulltext_chunks(with_text: bool) -> Statement:
    fields = CHUNK_FIELDS if with_text else CHUNK_FIELDS.replace(" .text,", "")
    return Statement(
        f"fulltext_chunks:{'full' if with_text else 'short'}",
        f"CALL db.index.fulltext.queryNodes('{FULLTEXT_CHUNKS}', $q) YIELD node, score "
        f"RETURN node {fields}, score ORDER BY score DESC, node.id LIMIT $n",
        {"q": "apple OR cupertino", "n": 10})


def cosine(score: float) -> float:
    """Neo4j's normalised cosine score (1 + cos) / 2 as the cosine similarity."""
    return 2.0 * float(score) - 1.0


def fulltext_query(words: Iterable[str]) -> str:
    """Any of the words, in Lucene's syntax. The words are letters and digits only
    (cypher.fulltext_words); lower case, so that AND, OR, NOT and TO are words, not operators."""
    return " OR ".join(w.lower() for w in words)


def encode(value: Any) -> Any:
    """A parameter as the driver sends it: vectors (numpy arrays, cypher_store.Vector) as plain
    lists of floats, numpy scalars as Python numbers."""
    if isinstance(value, np.ndarray):
        return [float(x) for x in value.ravel()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(x, float) for x in value):
            return list(value)  # a vector: already plain floats (a Vector is a list subclass)
        return [encode(v) for v in value]
    return value


def all_statements(entity_types: Iterable[str], dim: int) -> Iterator[Statement]:
    """Every statement of this dialect, for every entity type given (labels are formatted in)."""
    yield from schema_statements(dim)
    yield from (AWAIT_INDEXES, VECTOR_DIMENSIONS, LOCK, BUMP_GENERATION, READ_GENERATION, CLEAR_SLICE, DUMP_NODES,
                COUNT_ENTITY_VECTORS, NEAREST_PHRASES)
    for flag in (True, False):
        yield nearest_entities(flag)
        yield nearest_chunks(flag)
        yield fulltext_chunks(flag)
    for t in sorted(set(entity_types)):
        yield entity_statement(entity_label(t))
