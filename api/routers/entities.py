"""Entities: search by name, one entity with its sources, its neighbourhood."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import PipelineDep, StoreDep
from api.schemas.common import errors
from api.schemas.entities import EdgeOut, EntityDetailOut, EntityMatchOut, EntitySearchOut, NeighbourhoodOut, NodeOut
from kg.explore import entity_detail, search_entities
from kg.validate import text_problem

router = APIRouter(tags=["entities"])
MAX_DEPTH = 3  # a deeper variable-length traversal can stall a large graph


def _text(value: str, name: str) -> str:
    if problem := text_problem(value, name=name):
        raise HTTPException(400, problem)
    return value


@router.get("/entities", response_model=EntitySearchOut, responses=errors(400, 422, 503))
def find_entities(store: StoreDep, pipeline: PipelineDep, q: Annotated[str, Query(min_length=1, max_length=1000)],
                  type: Annotated[str | None, Query(max_length=100, description="an entity type, e.g. Person")] = None,
                  limit: Annotated[int, Query(ge=1, le=100)] = 10) -> EntitySearchOut:
    """Entities by name, best first: exact names and aliases (score 1.0; acronyms too), then names
    that contain q, then the nearest name embeddings."""
    _text(q, '"q"')
    matches = search_entities(store, pipeline.embedder, q, type=_text(type, '"type"') if type else None, limit=limit)
    return EntitySearchOut(items=[EntityMatchOut(**asdict(m)) for m in matches])


@router.get("/entities/{entity_id}", response_model=EntityDetailOut, responses=errors(400, 404, 422, 503))
def get_entity(entity_id: str, store: StoreDep, max_mentions: Annotated[int, Query(ge=0, le=1000)] = 20,
               max_relations: Annotated[int, Query(ge=0, le=1000)] = 50) -> EntityDetailOut:
    """One entity: its aliases, its mentions (document offsets and the sentence around each) and its
    relations in either direction (confidence, and the sentences that state them)."""
    detail = entity_detail(store, _text(entity_id, "the entity id"), max_mentions, max_relations)
    if detail is None:
        raise HTTPException(404, f"no entity with id {entity_id!r}")
    return EntityDetailOut(**asdict(detail))


@router.get("/entities/{entity_id}/neighbourhood", response_model=NeighbourhoodOut,
            responses=errors(400, 404, 422, 503))
def neighbourhood(entity_id: str, store: StoreDep, depth: Annotated[int, Query(ge=0, le=MAX_DEPTH)] = 1,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> NeighbourhoodOut:
    """The entities within `depth` relation hops (nearest first, at most `limit`, the entity
    included) and every relation among them."""
    sub = store.neighbourhood([_text(entity_id, "the entity id")], depth, limit)
    if not sub.entities:
        raise HTTPException(404, f"no entity with id {entity_id!r}")
    return NeighbourhoodOut(
        entities=[NodeOut(id=e.id, name=e.name, type=e.type, aliases=e.aliases, mentions=e.mentions)
                  for e in sub.entities],
        relations=[EdgeOut(head_id=r.head_id, tail_id=r.tail_id, type=r.type, confidence=r.confidence,
                           sources=r.sources, evidence=[tuple(x) for x in r.evidence]) for r in sub.relations])
