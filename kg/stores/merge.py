"""The merge rules of the graph, as plain data: used by the pipeline when it assembles a batch
and by every store when it writes one against what it holds.

- list properties (aliases, keys, sources, evidence) are sorted unions, so two dumps of the
  same graph are byte-identical whatever the order things arrived in;
- a relation keeps the highest confidence it was ever stated with (and that statement's model),
  and every chunk that states it;
- an entity keeps its first name and type; later names become aliases.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from kg.stores.lexical import evidence_key
from kg.types import Entity, RelationLink


def sorted_union(*lists: Iterable[str] | None) -> list[str]:
    return sorted({x for lst in lists if lst for x in lst})


def add_relation(index: dict[tuple[str, str, str], RelationLink], link: RelationLink) -> None:
    """Fold one statement of (head, type, tail) into index: max confidence, every source once."""
    key = (link.head_id, link.type, link.tail_id)
    cur = index.get(key)
    if cur is None:
        index[key] = RelationLink(link.head_id, link.tail_id, link.type, link.confidence, link.model,
                                  list(link.sources), list(link.evidence))
        return
    if link.confidence > cur.confidence:
        cur.confidence, cur.model = link.confidence, link.model
    for source, span in zip(link.sources, link.evidence or [None] * len(link.sources)):
        if source not in cur.sources:
            cur.sources.append(source)
            if span is not None:
                cur.evidence.append(span)


def evidence_keys(link: RelationLink) -> list[str]:
    """A relation's evidence as stored: "chunk|start|end", one per (source, span) pair, or every
    span of its one source."""
    if link.evidence and len(link.sources) == 1:  # several spans in one source chunk
        return sorted_union(evidence_key(link.sources[0], *span) for span in link.evidence)
    return sorted_union(evidence_key(s, *span) for s, span in zip(link.sources, link.evidence))


def relation_rows(relations: Sequence[RelationLink]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(head, type, tail) -> the row a store writes: the batch's statements merged."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in relations:
        key = (r.head_id, r.type, r.tail_id)
        row = {"h": r.head_id, "t": r.tail_id, "confidence": float(r.confidence), "model": r.model,
               "sources": sorted_union(r.sources), "evidence": evidence_keys(r)}
        cur = out.get(key)
        if cur is None:
            out[key] = row
        else:
            if row["confidence"] > cur["confidence"]:
                cur["confidence"], cur["model"] = row["confidence"], row["model"]
            cur["sources"] = sorted_union(cur["sources"], row["sources"])
            cur["evidence"] = sorted_union(cur["evidence"], row["evidence"])
    return out


def with_stored_relation(row: dict[str, Any], confidence: float | None, model: str | None,
                         sources: Iterable[str] | None, evidence: Iterable[str] | None) -> dict[str, Any]:
    """A batch's row merged with the stored relation's properties."""
    row = dict(row)
    if confidence is not None and float(confidence) >= row["confidence"]:  # max confidence wins
        row["confidence"], row["model"] = float(confidence), model or ""
    row["sources"] = sorted_union(sources, row["sources"])
    row["evidence"] = sorted_union(evidence, row["evidence"])
    return row


def batch_entities(entities: Sequence[Entity]) -> dict[str, Entity]:
    """The same id twice in one batch: union aliases and keys, first name and embedding win."""
    merged: dict[str, Entity] = {}
    for e in entities:
        if e.id in merged:
            m = merged[e.id]
            m.aliases = sorted_union(m.aliases, e.aliases)
            m.keys = sorted_union(m.keys, e.keys)
            m.embedding = m.embedding if m.embedding is not None else e.embedding
        else:
            merged[e.id] = Entity(e.id, e.name, e.type, sorted_union(e.aliases), e.embedding,
                                  keys=sorted_union(e.keys))
    return merged


def with_stored_entity(e: Entity, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The row a store writes for e: a stored entity keeps its name and type and gains aliases
    and keys; its embedding is written once (has_emb: the stored one has a vector)."""
    return {"id": e.id,
            "name": stored["name"] if stored else e.name,
            "type": stored["type"] if stored else e.type,
            "aliases": sorted_union(stored["aliases"] if stored else None, e.aliases),
            "keys": sorted_union(stored["keys"] if stored else None, e.keys),
            "embedding": None if stored and stored["has_emb"] else e.embedding}
