"""Read access: stats and read-only Cypher."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import get_store
from api.schemas import QueryRequest

router = APIRouter(tags=["graph"])


@router.get("/stats")
def stats() -> dict:
    return get_store().stats()


@router.post("/query")
def query(req: QueryRequest) -> dict:
    """Read-only Cypher with a time limit and a row limit (KG_QUERY_TIMEOUT_MS, KG_QUERY_MAX_ROWS);
    a write is refused with 403, a refused or failed query is a 400, a limit hit a 422."""
    result = get_store().read_only_query(req.cypher, req.params)
    return {"rows": result.rows, "truncated": result.truncated}
