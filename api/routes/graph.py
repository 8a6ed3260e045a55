"""Read access: stats and read-only Cypher."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import get_store
from api.schemas import QueryRequest
from kg.stores.base import ReadOnlyViolation, StoreError

router = APIRouter(tags=["graph"])


@router.get("/stats")
def stats() -> dict:
    return get_store().stats()


@router.post("/query")
def query(req: QueryRequest) -> dict:
    try:
        rows = get_store().query(req.cypher, req.params, read_only=True)
    except ReadOnlyViolation as e:
        raise HTTPException(403, str(e)) from None
    except StoreError as e:
        raise HTTPException(400, str(e)) from None
    return {"rows": rows}
