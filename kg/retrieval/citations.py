"""A relation's stored evidence read back as exact quotes: shared by retrieval's facts and by
entity exploration (kg/explore.py).

A relation keeps `evidence`, one "chunk_id|start|end" string per sentence that states it
(document offsets). The quote is cut from the stored chunk, so it equals the document's
text[start:end].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from kg.stores.base import GraphStore
from kg.stores.lexical import parse_evidence
from kg.types import Chunk


@dataclass
class QuotedSpan:
    chunk: Chunk
    start: int  # document offsets
    end: int
    quote: str  # the document's text[start:end]


def quote(chunk: Chunk, start: int, end: int) -> str:
    """The document's text[start:end], cut from a chunk that holds it."""
    return chunk.text[start - chunk.start: end - chunk.start]


def quoted_evidence(store: GraphStore, evidence: Sequence[Sequence[str] | None]) -> list[list[QuotedSpan]]:
    """For each relation's `evidence` list, its spans whose chunk is still stored, with their quotes
    (one read for all the chunks)."""
    parsed = [[parse_evidence(e) for e in ev or []] for ev in evidence]
    chunks = {c.id: c for c in store.get_chunks(sorted({cid for spans in parsed for cid, _, _ in spans}))}
    return [[QuotedSpan(chunks[cid], s, e, quote(chunks[cid], s, e)) for cid, s, e in spans if cid in chunks]
            for spans in parsed]
