"""POST /v1/cypher: a read-only query with parameters, a time limit and a row limit."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from api.schemas.common import checked
from kg import validate


class CypherRequest(BaseModel):
    cypher: str = Field(..., min_length=1, description="read-only Cypher; $name refers to params")
    params: dict[str, Any] = Field(default_factory=dict, description="query parameters: JSON values")
    timeout_ms: int | None = Field(None, ge=1, description="stop after this long (at most KG_QUERY_TIMEOUT_MS)")
    max_rows: int | None = Field(None, ge=1, description="cut the rows here (at most KG_QUERY_MAX_ROWS)")

    @field_validator("cypher", mode="before")
    @classmethod
    def _cypher(cls, v: Any) -> Any:
        return checked(lambda s: validate.text_problem(s, name='"cypher"'), v)

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, v: Any) -> Any:
        return checked(lambda p: validate.metadata_problem(p, name='"params"'), v)


class CypherOut(BaseModel):
    rows: list[dict[str, Any]]
    truncated: bool = Field(..., description="true when the rows were cut at the row limit")
