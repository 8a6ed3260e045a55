"""POST /v1/extract: the dry run, in the shape of `kg extract --json`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from api.schemas.common import checked
from kg import validate


class ExtractRequest(BaseModel):
    text: str = Field(..., min_length=1)

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        v = checked(validate.text_problem, v)
        if isinstance(v, str) and v and not v.strip():
            raise ValueError('"text" has only whitespace')
        return v


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
