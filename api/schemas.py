"""Request and response bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DocumentIn(BaseModel):
    id: str | None = Field(None, description="stable id; default: hash of the text")
    text: str = Field(..., min_length=1)
    title: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class IngestRequest(BaseModel):
    documents: list[DocumentIn] = Field(..., min_length=1, max_length=1000)


class JobOut(BaseModel):
    id: str
    status: str  # queued | running | done | failed
    documents: int
    result: dict[str, Any] | None = None
    error: str | None = None


class ExtractRequest(BaseModel):
    text: str = Field(..., min_length=1)


class QueryRequest(BaseModel):
    cypher: str = Field(..., min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
