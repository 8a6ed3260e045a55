"""GET /v1/health, /v1/stats, /v1/schema."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HealthOut(BaseModel):
    status: str
    version: str


class StatsOut(BaseModel):
    documents: int
    chunks: int
    entities: int
    mentions: int
    relations: int
    entity_types: dict[str, int]
    relation_types: dict[str, int]


class EntityTypeOut(BaseModel):
    description: str
    labels: list[str] = Field(..., description="the NER labels that map to it")
    person_name: bool
    acronyms: bool


class RelationTypeOut(BaseModel):
    description: str
    head: list[str] = Field(..., description="entity types allowed as its head")
    tail: list[str]
    symmetric: bool
    cues: list[str] = Field(default_factory=list)


class SchemaOut(BaseModel):
    name: str
    entity_types: dict[str, EntityTypeOut]
    relation_types: dict[str, RelationTypeOut]
