"""Retrieval for agentic RAG: graph-augmented context with citations (retriever.py)."""

from kg.retrieval.retriever import RetrievalParams, Retriever
from kg.retrieval.types import Citation, EntityHit, Fact, Filters, Passage, RetrievalResult

__all__ = ["Citation", "EntityHit", "Fact", "Filters", "Passage", "RetrievalParams", "RetrievalResult", "Retriever"]
