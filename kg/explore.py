"""Entity exploration for people and agents: find entities by name, and read one entity with its
aliases, its mentions (each with the sentence around it) and its relations (each with the
sentences that state it). Every quote and snippet is cut from the stored text, so it equals the
document's text at its offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from graph_schema.schema import EntityType
from kg.resolve import lookup_keys
from kg.retrieval.citations import quote, quoted_evidence
from kg.stores.base import GraphStore
from kg.types import Chunk, Entity

# names typed into a search box: their lookup keys as for an organisation (acronyms both ways)
_ANY_TYPE = EntityType("any", acronyms=True)
SNIPPET_CHARS = 160  # at most this much context on each side of a mention, when its sentence is longer
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")


@dataclass
class EntityMatch:
    """A search hit. score: 1.0 for an exact name or alias, else the cosine similarity of the query
    and the entity's name embedding."""

    id: str
    name: str
    type: str
    aliases: list[str]
    score: float


@dataclass
class MentionSource:
    doc_id: str
    chunk_id: str
    start: int  # document offsets of the mention
    end: int
    text: str  # the document's text[start:end]
    snippet: str  # the sentence around it (or a window of it), quoted exactly from the document


@dataclass
class RelationSource:
    doc_id: str
    chunk_id: str
    start: int  # document offsets of the sentence that states the relation
    end: int
    quote: str  # the document's text[start:end]


@dataclass
class EntityRelation:
    head_id: str
    head: str
    relation: str
    tail_id: str
    tail: str
    confidence: float
    sources: list[RelationSource]


@dataclass
class EntityDetail:
    id: str
    name: str
    type: str
    aliases: list[str]
    mentions: list[MentionSource]
    relations: list[EntityRelation]


def _cosine(query: np.ndarray, entity: Entity) -> float:
    if entity.embedding is None:
        return 0.0
    v = np.asarray(entity.embedding, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return round(float(query @ v) / norm, 6) if norm else 0.0


def search_entities(store: GraphStore, embedder, q: str, type: str | None = None, limit: int = 10
                    ) -> list[EntityMatch]:
    """Entities for a name typed by a person or an agent, best first: exact names and aliases
    (the resolver's lookup keys, so "IBM" finds "International Business Machines"), then names that
    contain the query, then the nearest name embeddings."""
    q = (q or "").strip()
    if not q or limit <= 0:
        return []
    found: dict[str, tuple[int, Entity]] = {}  # id -> (tier, entity); lower tiers rank first
    for entities in store.find_entities_by_alias(lookup_keys([q], _ANY_TYPE)).values():
        for e in entities:
            if type is None or e.type == type:
                found.setdefault(e.id, (0, e))
    for e in store.entities_named_like(q, limit, type):
        found.setdefault(e.id, (1, e))
    qvec = np.asarray(embedder.embed_queries([q])[0], dtype=np.float32)
    for hit in store.similar_entities(qvec.tolist(), limit, type):
        found.setdefault(hit.item.id, (2, hit.item))
    named = [e.id for tier, e in found.values() if tier == 1 and e.embedding is None]
    with_vectors = {e.id: e for e in store.get_entities(named)} if named else {}
    matches = []
    for tier, e in found.values():
        e = with_vectors.get(e.id, e)
        score = 1.0 if tier == 0 else _cosine(qvec, e)
        matches.append((tier, -score, e.id, EntityMatch(e.id, e.name, e.type, list(e.aliases), score)))
    matches.sort(key=lambda m: m[:3])
    return [m[3] for m in matches[:limit]]


def snippet(chunk: Chunk, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """The sentence of the chunk around document offsets [start, end), cut to `width` characters
    on each side (at a space where it can), whitespace trimmed: a substring of the document."""
    text, lo, hi = chunk.text, start - chunk.start, end - chunk.start
    a = max([m.end() for m in _SENTENCE_END.finditer(text, 0, lo)] or [0])
    after = _SENTENCE_END.search(text, hi)
    b = after.start() + 1 if after else len(text)
    if lo - a > width:
        cut = text.find(" ", lo - width, lo)
        a = cut + 1 if cut != -1 else lo - width
    if b - hi > width:
        cut = text.rfind(" ", hi, hi + width)
        b = cut if cut != -1 else hi + width
    while a < lo and text[a].isspace():
        a += 1
    while b > hi and text[b - 1].isspace():
        b -= 1
    return text[a:b]


_RELATIONS = ("MATCH (h:Entity)-[x]->(t:Entity) WHERE {side}.id = $id "
              "RETURN h.id AS h, h.name AS head, type(x) AS type, t.id AS t, t.name AS tail, "
              "x.confidence AS confidence, x.evidence AS evidence "
              "ORDER BY confidence DESC, h, type, t LIMIT $n")


def entity_detail(store: GraphStore, entity_id: str, max_mentions: int = 20, max_relations: int = 50
                  ) -> EntityDetail | None:
    """One entity with its aliases, its first mentions (by document and offset) and its most
    confident relations in either direction; None when no entity has this id."""
    found = store.get_entities([entity_id], with_embedding=False)
    if not found:
        return None
    e = found[0]
    rows = store.query("MATCH (e:Entity {id: $id})-[m:MENTIONED_IN]->(c:Chunk) "
                       "RETURN c.id AS chunk, m.start AS start, m.end AS end "
                       "ORDER BY c.doc_id, m.start, m.end LIMIT $n", {"id": e.id, "n": max(0, max_mentions)})
    chunks = {c.id: c for c in store.get_chunks(sorted({r["chunk"] for r in rows}))}
    mentions = []
    for r in rows:
        c = chunks.get(r["chunk"])
        if c is not None:
            s, t = int(r["start"]), int(r["end"])
            mentions.append(MentionSource(c.doc_id, c.id, s, t, quote(c, s, t), snippet(c, s, t)))
    rels = []
    if max_relations > 0:
        for side in ("h", "t"):
            rels += store.query(_RELATIONS.format(side=side), {"id": e.id, "n": max_relations})
    rels.sort(key=lambda r: (-(r["confidence"] or 0.0), r["h"], r["type"], r["t"]))
    rels = rels[:max_relations]
    relations = []
    for r, spans in zip(rels, quoted_evidence(store, [r["evidence"] for r in rels])):
        sources = [RelationSource(s.chunk.doc_id, s.chunk.id, s.start, s.end, s.quote) for s in spans]
        relations.append(EntityRelation(r["h"], r["head"], r["type"], r["t"], r["tail"],
                                        round(float(r["confidence"] or 0.0), 4), sources))
    return EntityDetail(e.id, e.name, e.type, list(e.aliases), mentions, relations)
