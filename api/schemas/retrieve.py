"""POST /v1/retrieve: context for a RAG chatbot (the fields of kg/retrieval/tool.py's tool schema)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import rule
from kg import validate
from kg.retrieval.tool import tool_schema

_TOOL = tool_schema()["function"]["parameters"]["properties"]
MAX_QUESTION_CHARS = 4000
StoredText = Annotated[str, rule(validate.text_problem)]


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, rule(validate.text_problem, '"question"', nonblank=True)] = Field(
        ..., min_length=1, max_length=MAX_QUESTION_CHARS, description=_TOOL["question"]["description"])
    k: int = Field(5, ge=1, le=50, description=_TOOL["k"]["description"])
    doc_ids: list[StoredText] = Field(default_factory=list, max_length=1000,
                                      description=_TOOL["doc_ids"]["description"])
    metadata: Annotated[dict[str, Any], rule(validate.metadata_problem)] = Field(
        default_factory=dict, description=_TOOL["metadata"]["description"])
    entity_types: list[StoredText] = Field(default_factory=list, max_length=100,
                                           description=_TOOL["entity_types"]["description"])


class CitationOut(BaseModel):
    doc_id: str
    chunk_id: str
    start: int
    end: int
    quote: str = Field(..., description="the document's text[start:end]")
    passage: int | None = Field(None, description="the passage number [n] in the context, when listed")


class PassageOut(BaseModel):
    n: int = Field(..., description="its citation number [n] in the context")
    chunk_id: str
    doc_id: str
    title: str
    source: str
    text: str = Field(..., description="the document's text[start:end]")
    start: int
    end: int
    score: float
    dense: float
    fulltext: float
    graph: float


class FactOut(BaseModel):
    head: str
    relation: str
    tail: str
    head_id: str
    tail_id: str
    confidence: float
    citations: list[CitationOut]


class EntityHitOut(BaseModel):
    id: str
    name: str
    type: str
    aliases: list[str]
    why: str
    score: float


class RetrievalOut(BaseModel):
    question: str
    context: str = Field(..., description="numbered passages, then facts citing them: ready to paste into a prompt")
    passages: list[PassageOut]
    facts: list[FactOut]
    entities: list[EntityHitOut]
    method: str = Field(..., description='"graph", or "dense" when nothing in the question named a graph node')
    seconds: float
