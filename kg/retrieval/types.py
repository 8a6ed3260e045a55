"""What retrieval returns: plain data, ready for JSON (`dataclasses.asdict`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Filters:
    """Restrict an answer to some documents (by id, or by metadata fields that must all match)
    and its entities and facts to some entity types. Empty means no restriction."""

    doc_ids: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    entity_types: list[str] = field(default_factory=list)


@dataclass
class Citation:
    """Where a passage or fact comes from: document offsets that quote the source exactly."""

    doc_id: str
    chunk_id: str
    start: int
    end: int
    quote: str
    passage: int | None = None  # its number [n] in the context, when the passage is listed


@dataclass
class Passage:
    n: int  # the citation number in the context: [n]
    chunk_id: str
    doc_id: str
    title: str
    source: str
    text: str
    start: int
    end: int
    score: float  # the fused score the passages are ranked by
    dense: float  # cosine similarity of question and passage (0 when not among the dense candidates)
    fulltext: float  # the full-text index's score (0 when no question word matched)
    graph: float  # personalised PageRank mass (0 when the question linked to no entity or phrase)


@dataclass
class Fact:
    head: str  # entity names
    relation: str
    tail: str
    head_id: str
    tail_id: str
    confidence: float
    citations: list[Citation]


@dataclass
class EntityHit:
    id: str
    name: str
    type: str
    aliases: list[str]
    why: str  # linked from which question words, or reached over which path
    score: float


@dataclass
class RetrievalResult:
    question: str
    context: str  # a ready-to-paste block: numbered passages, then facts citing them
    passages: list[Passage]
    facts: list[Fact]
    entities: list[EntityHit]
    method: str  # "graph" (dense + personalised PageRank) or "dense" (nothing in the question linked)
    seconds: float = 0.0
