"""GET /v1/entities, /v1/entities/{id} and /v1/entities/{id}/neighbourhood."""

from __future__ import annotations

from pydantic import BaseModel, Field


class EntityMatchOut(BaseModel):
    id: str
    name: str
    type: str
    aliases: list[str]
    score: float = Field(..., description="1.0 for an exact name or alias, else the name embeddings' cosine")


class EntitySearchOut(BaseModel):
    items: list[EntityMatchOut] = Field(..., description="best first")


class MentionSourceOut(BaseModel):
    doc_id: str
    chunk_id: str
    start: int = Field(..., description="document offsets of the mention")
    end: int
    text: str = Field(..., description="the document's text[start:end]")
    snippet: str = Field(..., description="the sentence around the mention, quoted exactly")


class RelationSourceOut(BaseModel):
    doc_id: str
    chunk_id: str
    start: int = Field(..., description="document offsets of the sentence that states the relation")
    end: int
    quote: str = Field(..., description="the document's text[start:end]")


class EntityRelationOut(BaseModel):
    head_id: str
    head: str
    relation: str
    tail_id: str
    tail: str
    confidence: float
    sources: list[RelationSourceOut]


class EntityDetailOut(BaseModel):
    id: str
    name: str
    type: str
    aliases: list[str]
    mentions: list[MentionSourceOut]
    relations: list[EntityRelationOut] = Field(..., description="in either direction, most confident first")


class NodeOut(BaseModel):
    id: str
    name: str
    type: str
    aliases: list[str]
    mentions: int


class EdgeOut(BaseModel):
    head_id: str
    tail_id: str
    type: str
    confidence: float
    sources: list[str] = Field(..., description="ids of the chunks that state it")
    evidence: list[tuple[int, int]] = Field(..., description="document offsets of each source's sentence")


class NeighbourhoodOut(BaseModel):
    entities: list[NodeOut] = Field(..., description="the entity first, then the nearest ones")
    relations: list[EdgeOut] = Field(..., description="every relation among them")
