"""POST /v1/extract: the dry run, in the shape of `kg extract --json`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.common import rule
from kg import validate


class ExtractRequest(BaseModel):
    text: Annotated[str, rule(validate.text_problem, nonblank=True)] = Field(..., min_length=1)


class ExtractedEntity(BaseModel):
    id: str = Field(..., description="m0, m1, ...: what relations' head and tail refer to")
    text: str
    type: str
    start: int = Field(..., description="character offsets of the mention in the text")
    end: int


class ExtractedRelation(BaseModel):
    head: str
    relation: str
    tail: str
    confidence: float
    start: int = Field(..., description="character offsets of the sentence that states it")
    end: int


class ExtractOut(BaseModel):
    entities: list[ExtractedEntity]
    relations: list[ExtractedRelation]
