"""Request and response bodies."""

from __future__ import annotations

from typing import Any, Callable

from pydantic import BaseModel, Field, field_validator, model_validator

from kg import validate


def _checked(problem: Callable[[Any], str | None], value: Any) -> Any:
    """value, or a ValueError with kg.validate's message (pydantic makes it a 422 naming the field).

    A value of the wrong type is left to pydantic's own type check.
    """
    message = problem(value) if isinstance(value, (str, dict)) else None
    if message:
        raise ValueError(message)
    return value


class DocumentIn(BaseModel):
    id: str | None = Field(None, description="stable id; default: hash of the text")
    text: str = Field(..., min_length=1)
    title: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    # the rules for files (kg.validate), checked before pydantic's own so that a lone surrogate
    # gets the same message here as in a .jsonl line
    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> Any:
        return _checked(validate.id_problem, v)

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return _checked(validate.text_problem, v)

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, v: Any) -> Any:
        return _checked(validate.title_problem, v)

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata(cls, v: Any) -> Any:
        return _checked(validate.metadata_problem, v)


class IngestRequest(BaseModel):
    documents: list[DocumentIn] = Field(..., min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one_text_per_id(self) -> "IngestRequest":
        first: dict[str, int] = {}
        for i, d in enumerate(self.documents):
            if d.id is None:
                continue
            j = first.setdefault(d.id, i)
            if self.documents[j].text != d.text:
                raise ValueError(f'"id" {validate.quoted(d.id)} is used by documents {j} and {i} with different text')
        return self


class JobOut(BaseModel):
    id: str
    status: str  # queued | running | done | failed
    documents: int
    result: dict[str, Any] | None = None
    error: str | None = None


class ExtractRequest(BaseModel):
    text: str = Field(..., min_length=1)

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return _checked(validate.text_problem, v)


class QueryRequest(BaseModel):
    cypher: str = Field(..., min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
