"""The store role. Every backend passes the same contract tests (tests/kg/stores/store_contract.py)."""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from kg.errors import QueryLimitExceeded, QueryRefused, ReadOnlyViolation, StoreError, StoreUnavailable
from kg.types import (
    Chunk,
    DeleteReport,
    Document,
    Entity,
    GraphBatch,
    GraphEdges,
    Phrase,
    QueryResult,
    Scored,
    Subgraph,
)

__all__ = ["GraphStore", "QueryLimitExceeded", "QueryRefused", "ReadOnlyViolation", "StoreError", "StoreUnavailable"]


@runtime_checkable
class GraphStore(Protocol):
    def upsert(self, batch: GraphBatch) -> None:
        """Idempotent, batched MERGE of everything in the batch, as one atomic write; the stored
        versions of batch.replaces are removed in the same write."""
        ...

    def delete_document(self, doc_id: str) -> DeleteReport:
        """Remove the document, its chunks and mentions, and whatever only it supported."""
        ...

    def get_document(self, doc_id: str) -> Document | None: ...

    def query(
        self, cypher: str, params: Mapping[str, Any] | None = None, *, read_only: bool = True
    ) -> list[dict[str, Any]]:
        """Cypher from the library itself: every row. read_only queries go through the guard."""
        ...

    def read_only_query(
        self, cypher: str, params: Mapping[str, Any] | None = None, *,
        timeout_ms: int | None = None, max_rows: int | None = None,
    ) -> QueryResult:
        """A user's query: refused if it could reach out (LOAD CSV) or stall the parser, run
        read-only with a time limit (QueryLimitExceeded), cut at max_rows."""
        ...

    def get_entities(self, ids: Sequence[str], with_embedding: bool = True) -> list[Entity]: ...

    def find_entities_by_alias(self, keys: Sequence[str], with_embedding: bool = True) -> dict[str, list[Entity]]:
        """Entities that have any of these lookup keys (Entity.keys, which the resolver computes);
        with_embedding=False leaves their vectors out (384 floats each: the costly part of a read)."""
        ...

    def similar_entities(
        self, vector: Sequence[float], k: int, type: str | None = None
    ) -> list[Scored[Entity]]: ...

    def similar_entities_many(
        self, vectors: Sequence[Sequence[float]], k: int, types: Sequence[str | None] | None = None,
        min_score: float | None = None, with_embedding: bool = True,
    ) -> list[list[Scored[Entity]]]:
        """similar_entities for each vector (one list per vector, in order, each with its own type),
        hits under min_score left out: one round trip where the backend can."""
        ...

    def entities_named_like(self, text: str, k: int, type: str | None = None) -> list[Entity]:
        """Entities with a name or alias containing `text` (case ignored), shortest such name first."""
        ...

    def search_chunks(self, vector: Sequence[float], text: str, k: int) -> list[Scored[Chunk]]:
        """Hybrid search: vector and full-text rankings fused by reciprocal rank."""
        ...

    def nearest_chunks(self, vector: Sequence[float], k: int) -> list[Scored[Chunk]]:
        """Dense search alone (score: cosine similarity)."""
        ...

    def nearest_chunk_ids(self, vector: Sequence[float], k: int) -> list[Scored[str]]:
        """Dense search for ranking: the nearest chunks' ids only (score: cosine similarity)."""
        ...

    def similar_phrases(self, vector: Sequence[float], k: int) -> list[Scored[Phrase]]: ...

    def similar_phrases_many(self, vectors: Sequence[Sequence[float]], k: int) -> list[list[Scored[Phrase]]]:
        """similar_phrases of each vector (one list per vector, in order), in one round trip where
        the backend can."""
        ...

    def missing_phrases(self, keys: Sequence[str]) -> list[str]:
        """The phrase keys the store holds no vector for yet."""
        ...

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]: ...

    def get_documents(self, ids: Sequence[str]) -> dict[str, Document]: ...

    def list_documents(self, offset: int = 0, limit: int = 100) -> list[Document]:
        """One page of the stored documents, ordered by id."""
        ...

    def graph_edges(self) -> GraphEdges:
        """The graph's structure, ids only, and the chunks' texts: what a retrieval index is built from."""
        ...

    def generation(self) -> str:
        """Changes whenever the graph does: caches built on the graph compare it."""
        ...

    def neighbourhood(self, entity_ids: Sequence[str], depth: int, limit: int) -> Subgraph: ...

    def stats(self) -> dict[str, Any]:
        """Counts: documents, chunks, entities, mentions, relations, plus per-type counts."""
        ...

    def dump(self) -> dict[str, Any]:
        """Every node and relationship with all properties, sorted: for equality tests."""
        ...

    def clear(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> "GraphStore": ...

    def __exit__(self, *exc: Any) -> None: ...
