"""Retrieval for RAG chatbots."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from api.deps import RetrieverDep
from api.schemas.common import errors
from api.schemas.retrieve import RetrievalOut, RetrieveRequest
from kg.retrieval import Filters

router = APIRouter(tags=["retrieve"])


@router.post("/retrieve", response_model=RetrievalOut, responses=errors(400, 413, 422, 503))
def retrieve(req: RetrieveRequest, retriever: RetrieverDep) -> RetrievalOut:
    """Context to answer a question: the k best passages (numbered, with document offsets), the
    facts stated in them with citations that quote the source exactly, and the entities involved.
    The body has the fields of `kg retrieve --tool-schema`."""
    result = retriever.retrieve(req.question, req.k, Filters(req.doc_ids, req.metadata, req.entity_types))
    return RetrievalOut(**asdict(result))
