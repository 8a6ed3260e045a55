"""POST /v1/cypher: a read-only query with parameters, a time limit and a row limit."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.schemas.common import rule
from kg import validate


class CypherRequest(BaseModel):
    cypher: Annotated[str, rule(validate.text_problem, '"cypher"')] = Field(..., min_length=1, description="read-only Cypher; $name refers to params")
    params: Annotated[dict[str, Any], rule(validate.metadata_problem, '"params"')] = Field(default_factory=dict, description="query parameters: JSON values")
    timeout_ms: int | None = Field(None, ge=1, description="stop after this long (at most KG_QUERY_TIMEOUT_MS)")
    max_rows: int | None = Field(None, ge=1, description="cut the rows here (at most KG_QUERY_MAX_ROWS)")


class CypherOut(BaseModel):
    rows: list[dict[str, Any]]
    truncated: bool = Field(..., description="true when the rows were cut at the row limit")
