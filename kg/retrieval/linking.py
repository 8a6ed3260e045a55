"""Entity linking of a question: which graph nodes its words name.

The question's phrases are its NER mentions and its noun phrases (the same extractors as at
ingest). Each phrase is linked to its nearest node, an entity or a stored phrase, by the cosine
of their embeddings (a stored phrase with the very same key counts as 1.0), as HippoRAG 2 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from extractors.entities.phrases import phrase_key
from kg.embed import Embedder
from kg.stores.base import GraphStore
from kg.types import Chunk


class PhraseSource(Protocol):
    def of_text(self, text: str) -> list[str]: ...


@dataclass
class Link:
    phrase: str  # the question's words
    node: str  # "e:<entity id>" or "p:<phrase key>"
    name: str  # the entity's name or the phrase key
    similarity: float


def unknown(phrases: Sequence[str], known: Mapping[str, str] | None) -> list[str]:
    """The phrases not in `known`: those linked by vector search, so the only ones to embed."""
    return [p for p in phrases if not (known and p in known)]


class QuestionLinker:
    def __init__(self, store: GraphStore, embedder: Embedder, entities=None, phrases: PhraseSource | None = None,
                 entity_types: Sequence[str] = ()):
        self.store = store
        self.embedder = embedder
        self.entities = entities  # an EntityExtractor, or None: noun phrases only
        self.phrases = phrases

    def question_phrases(self, question: str) -> list[str]:
        found: dict[str, None] = {}
        if self.entities is not None:
            chunk = Chunk(id="question", doc_id="question", index=0, text=question, start=0, end=len(question))
            for m in self.entities.extract([chunk])[0]:
                found[phrase_key(m.text.split())] = None
        if self.phrases is not None:
            for key in self.phrases.of_text(question):
                found[key] = None
        found.pop("", None)
        return list(found)

    def link(self, question: str, entity_types: Sequence[str] = ()) -> list[Link]:
        phrases = self.question_phrases(question)
        return self.link_phrases(phrases, self.embedder.embed_queries(phrases), entity_types) if phrases else []

    def link_phrases(self, phrases: Sequence[str], vectors, entity_types: Sequence[str] = (),
                     known: Mapping[str, str] | None = None) -> list[Link]:
        """Each phrase's nearest entity or stored phrase. A phrase whose key is in `known` (phrase
        key -> graph node, "p:<key>" or "e:<id>") links there at once, with similarity 1; the
        others are searched by their embeddings: `vectors`, one per phrase of
        unknown(phrases, known), in order."""
        searched = unknown(phrases, known)
        # two store round trips for all the phrases: their nearest entities, their nearest phrases
        entity_hits = dict(zip(searched, self.store.similar_entities_many(vectors, 1, with_embedding=False)))
        phrase_hits = dict(zip(searched, self.store.similar_phrases_many(vectors, 1)))
        links = []
        for phrase in phrases:
            if known and phrase in known:
                links.append(Link(phrase, known[phrase], phrase, 1.0))
                continue
            best: Link | None = None
            for hit in entity_hits[phrase]:
                if not entity_types or hit.item.type in entity_types:
                    best = Link(phrase, f"e:{hit.item.id}", hit.item.name, float(hit.score))
            for hit in phrase_hits[phrase]:
                score = 1.0 if hit.item.key == phrase else float(hit.score)
                if best is None or score > best.similarity:
                    best = Link(phrase, f"p:{hit.item.key}", hit.item.key, score)
            if best is not None:
                links.append(best)
        return links
