"""The roles an extractor can play. Any object with these methods plugs in."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from kg.types import Chunk, Mention, Relation


@runtime_checkable
class EntityExtractor(Protocol):
    name: str

    def extract(self, chunks: Sequence[Chunk]) -> list[list[Mention]]:
        """Mentions per chunk, with document offsets and schema entity types."""
        ...


@runtime_checkable
class RelationExtractor(Protocol):
    name: str

    def extract(
        self, chunks: Sequence[Chunk], mentions: Sequence[Sequence[Mention]]
    ) -> list[list[Relation]]:
        """Relations per chunk; head/tail index that chunk's mention list.

        Batched over chunks so a model can fill its batches; a generative
        extractor fits the same signature.
        """
        ...
