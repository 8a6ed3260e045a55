"""Health, graph statistics and the graph schema."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PipelineDep, StoreDep
from api.schemas.common import errors
from api.schemas.meta import HealthOut, SchemaOut, StatsOut
from kg import __version__

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    """The service is up (its store and models are loaded before it answers anything)."""
    return HealthOut(status="ok", version=__version__)


@router.get("/stats", response_model=StatsOut, responses=errors(503))
def stats(store: StoreDep) -> StatsOut:
    """Counts of documents, chunks, entities, mentions and relations, and per type."""
    return StatsOut(**store.stats())


@router.get("/schema", response_model=SchemaOut)
def schema(pipeline: PipelineDep) -> SchemaOut:
    """The entity and relation types of the graph (KG_SCHEMA_PATH), with what each relation allows."""
    return SchemaOut(**pipeline.schema.to_dict())
