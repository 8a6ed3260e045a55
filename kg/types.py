"""Plain data passed between pipeline stages.

Offsets are always character offsets into the *document* text (not the chunk),
end-exclusive, so every mention and relation can be cited back to its source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class Document:
    id: str
    text: str
    source: str = ""  # file path, URL or "stdin"
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""  # of the text; filled by kg.documents.make_document


@dataclass
class Chunk:
    id: str  # f"{doc_id}:{index}"
    doc_id: str
    index: int
    text: str
    start: int  # offset of text[0] in the document
    end: int
    # sentence boundaries inside this chunk, as document offsets
    sentences: list[tuple[int, int]] = field(default_factory=list)
    embedding: list[float] | None = None
    # keys of the noun phrases it contains (extractors/entities/phrases.py): phrase nodes of the retrieval graph
    phrases: list[str] = field(default_factory=list)


@dataclass
class Mention:
    """One entity mention found by NER, before resolution."""

    text: str
    type: str  # a graph_schema entity type, e.g. "Person"
    start: int  # document offsets
    end: int
    chunk_id: str = ""
    label: str = ""  # the raw model label, e.g. spaCy's "ORG"
    score: float = 1.0
    # the clean surface the models read ("Apple" for the source's "Ap\u200bple", NFC accents);
    # empty when it equals `text`, which is always the exact source slice
    name: str = ""


@dataclass
class Relation:
    """A typed relation between two mentions of the same chunk.

    head/tail index the mention list the extractor was given for that chunk.
    start/end: document offsets of the evidence (the sentence(s) stating it).
    """

    head: int
    tail: int
    type: str  # a graph_schema relation type, e.g. "WORKS_FOR"
    confidence: float
    start: int
    end: int
    model: str = ""


@dataclass
class Entity:
    """A resolved graph node. Its id survives merges; aliases keep every name seen."""

    id: str
    name: str
    type: str
    aliases: list[str] = field(default_factory=list)
    embedding: list[float] | None = None
    mentions: int = 0
    # the lookup keys the resolver computed (kg.resolve.alias_keys); the store only stores them
    keys: list[str] = field(default_factory=list)


@dataclass
class MentionLink:
    """(:Entity)-[:MENTIONED_IN {start, end, text}]->(:Chunk)"""

    entity_id: str
    chunk_id: str
    start: int
    end: int
    text: str


@dataclass
class RelationLink:
    """(:Entity)-[:TYPE {confidence, model, sources}]->(:Entity)"""

    head_id: str
    tail_id: str
    type: str
    confidence: float
    model: str
    sources: list[str]  # chunk ids that state it
    evidence: list[tuple[int, int]] = field(default_factory=list)  # doc offsets per source


@dataclass
class Phrase:
    """(:Phrase {key, embedding})<-[:HAS_PHRASE]-(:Chunk): a noun phrase, one node per key."""

    key: str
    embedding: list[float] | None = None


@dataclass
class GraphBatch:
    """One atomic write: a store applies all of it or none of it."""

    documents: list[Document] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    mentions: list[MentionLink] = field(default_factory=list)
    relations: list[RelationLink] = field(default_factory=list)
    # vectors of phrases the chunks name that the store may not hold yet (a stored phrase keeps its own)
    phrases: list[Phrase] = field(default_factory=list)
    # ids of stored documents whose old version this batch replaces: removed in the same write
    replaces: list[str] = field(default_factory=list)


@dataclass
class DeleteReport:
    doc_id: str
    found: bool
    chunks: int = 0
    mentions: int = 0
    entities: int = 0
    relations: int = 0  # relationships deleted outright
    relations_updated: int = 0  # relationships that lost a source but survive
    phrases: int = 0  # phrase nodes no other chunk names


@dataclass
class QueryResult:
    """Rows of a user's read-only query, cut at its row limit (truncated says so)."""

    rows: list[dict[str, Any]]
    truncated: bool = False


@dataclass
class Scored(Generic[T]):
    item: T
    score: float


@dataclass
class Subgraph:
    entities: list[Entity] = field(default_factory=list)
    relations: list[RelationLink] = field(default_factory=list)


@dataclass
class GraphEdges:
    """The graph's structure, ids only: what a retrieval index is built from."""

    chunks: list[tuple[str, str]] = field(default_factory=list)  # (chunk id, document id)
    mentions: list[tuple[str, str]] = field(default_factory=list)  # (entity id, chunk id)
    phrases: list[tuple[str, str]] = field(default_factory=list)  # (chunk id, phrase key)
    relations: list[tuple[str, str, str]] = field(default_factory=list)  # (head id, type, tail id)
    names: list[tuple[str, str]] = field(default_factory=list)  # (entity id, a name or alias)
    texts: dict[str, str] = field(default_factory=dict)  # chunk id -> text, with its document's title


@dataclass
class ExtractionResult:
    """What `kg extract` returns for one document: mentions and relations, nothing stored."""

    doc: Document
    chunks: list[Chunk]
    mentions: list[list[Mention]]  # per chunk
    relations: list[list[Relation]]  # per chunk; head/tail index that chunk's mentions
    warnings: list[str] = field(default_factory=list)  # e.g. the text does not look like English
    # text -> embedding, computed where the extraction ran (a worker): its phrase keys and entity
    # names, so the writer need not embed them (an embedding depends on its text alone)
    vectors: dict[str, Any] = field(default_factory=dict)
