"""Read-only Cypher."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SettingsDep, StoreDep
from api.schemas.common import errors
from api.schemas.cypher import CypherOut, CypherRequest

router = APIRouter(tags=["cypher"])


@router.post("/cypher", response_model=CypherOut, responses=errors(400, 403, 413, 422, 503))
def cypher(req: CypherRequest, store: StoreDep, settings: SettingsDep) -> CypherOut:
    """A read-only query (the server itself refuses writes: 403), with parameters, stopped after
    its time limit and cut at its row limit (each at most KG_QUERY_TIMEOUT_MS / KG_QUERY_MAX_ROWS).
    LOAD CSV, over-long and too deeply nested queries are refused before they run (400)."""
    timeout = min(req.timeout_ms or settings.query_timeout_ms, settings.query_timeout_ms)
    rows = min(req.max_rows or settings.query_max_rows, settings.query_max_rows)
    result = store.read_only_query(req.cypher, req.params, timeout_ms=timeout, max_rows=rows)
    return CypherOut(rows=result.rows, truncated=result.truncated)
