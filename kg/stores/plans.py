"""Write plans as plain data, the same for every store: what a delete takes out, which NEXT
links a batch of chunks needs, and the statements of one atomic write."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

from kg.types import DeleteReport


@dataclass
class DeletePlan:
    """What removing some documents takes out, worked out from reads before anything is written."""

    report: DeleteReport
    doc_ids: set[str] = field(default_factory=set)
    chunk_ids: set[str] = field(default_factory=set)
    orphans: set[str] = field(default_factory=set)  # entities no other document mentions
    touched: set[str] = field(default_factory=set)  # entities mentioned in the removed chunks
    # (head, type, tail) -> the sources and evidence left once the removed chunks are gone
    rel_updates: dict[tuple[str, str, str], tuple[list[str], list[str]]] = field(default_factory=dict)
    rel_drops: set[tuple[str, str, str]] = field(default_factory=set)  # relations no source is left for
    orphan_relations: set[tuple[str, str, str]] = field(default_factory=set)  # go with the orphans
    orphan_phrases: set[str] = field(default_factory=set)  # phrase keys no other chunk names

    def finish_report(self, restated: set[tuple[str, str, str]]) -> None:
        self.report.chunks = len(self.chunk_ids)
        self.report.entities = len(self.orphans)
        self.report.phrases = len(self.orphan_phrases)
        self.report.relations_updated = len(self.rel_updates)
        self.report.relations = len(self.rel_drops) + len(self.orphan_relations - self.rel_drops)


def next_links(chunks: Mapping[str, Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """NEXT links for chunk rows (id -> {doc_id, index, ...}): pairs inside the batch, and the
    chunks at a run's edges whose stored neighbour (doc_id, index) must be looked up."""
    by_doc: dict[str, dict[int, str]] = defaultdict(dict)
    for cid, r in chunks.items():
        by_doc[r["doc_id"]][int(r["index"])] = cid
    pairs, edges = [], []
    for doc_id, idx in by_doc.items():
        for i, cid in idx.items():
            if i + 1 in idx:
                pairs.append({"a": cid, "b": idx[i + 1]})
            else:
                edges.append({"id": cid, "doc_id": doc_id, "index": i + 1, "forward": True})
            if i - 1 not in idx:
                edges.append({"id": cid, "doc_id": doc_id, "index": i - 1, "forward": False})
    return pairs, edges


class WritePlan:
    """The statements of one store operation, in order. A backend applies them atomically: all
    of them or none (FalkorDB as one query of unit subqueries, Neo4j in one transaction)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, dict[str, Any]]] = []

    def add(self, q: str, params: Mapping[str, Any] | None = None) -> None:
        self.statements.append((q, dict(params or {})))

    def add_rows(self, q: str, rows: list[Any], key: str = "rows", **extra: Any) -> None:
        """A statement over rows; nothing when there are none."""
        if rows:
            self.add(q, {key: rows, **extra})
