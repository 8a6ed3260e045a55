"""Graph views: an HTML page (pyvis, self-contained) of an entity's neighbourhood or a query's graph."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep, StoreDep
from api.schemas.common import json_errors
from kg.validate import text_problem
from kg.views import MAX_DEPTH, MAX_LIMIT, render_view

router = APIRouter(tags=["graph"])


@router.get("/graph/view", response_class=HTMLResponse, responses={
    200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "the page"},
    **json_errors(400, 403, 422, 503)})
def view(store: StoreDep, settings: SettingsDep,
         entity: Annotated[str | None, Query(max_length=1000, description="an entity id or name")] = None,
         cypher: Annotated[str | None, Query(max_length=20000, description="a read-only query")] = None,
         depth: Annotated[int, Query(ge=0, le=MAX_DEPTH)] = 1,
         limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50) -> HTMLResponse:
    """A self-contained page (works offline) drawing an entity's neighbourhood (`entity`: an id or a
    name) or the entities and relations a read-only query returns (`cypher`): exactly one of them.
    Colours by entity type, edge labels with confidence, tooltips with aliases and a source snippet."""
    if (entity is None) == (cypher is None):
        raise HTTPException(400, "give exactly one of entity and cypher")
    for name, value in (("entity", entity), ("cypher", cypher)):
        if value is not None and (problem := text_problem(value, name=f'"{name}"')):
            raise HTTPException(400, problem)
    return HTMLResponse(render_view(store, settings, entity=entity, cypher=cypher, depth=depth, limit=limit))
