"""The lexical graph's names, the same on every store, and the checks on what is formatted
into query text.

(:Document)<-[:PART_OF]-(:Chunk)-[:NEXT]->(:Chunk); (:Entity)-[:MENTIONED_IN]->(:Chunk);
(:Chunk)-[:HAS_PHRASE]->(:Phrase).
Labels and relationship types cannot be query parameters, so entity and relation types are
formatted into the query text; everything formatted in goes through `identifier()` first.
"""

from __future__ import annotations

import re

from kg.errors import StoreError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# labels and relationship types of the lexical graph: an entity or relation type may not reuse them
NODE_LABELS = frozenset({"Document", "Chunk", "Entity", "Phrase"})
LEXICAL_RELS = frozenset({"PART_OF", "NEXT", "MENTIONED_IN", "HAS_PHRASE"})


def identifier(name: str, what: str = "identifier") -> str:
    """`name` quoted for Cypher, after checking it is a plain identifier."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise StoreError(f"{what} {name!r} is not a valid identifier (letters, digits, _; not starting with a digit)")
    return f"`{name}`"


def entity_label(type_: str) -> str:
    if type_ in NODE_LABELS:
        raise StoreError(f"entity type {type_!r} clashes with a built-in label")
    return identifier(type_, "entity type")


def relation_type(type_: str) -> str:
    if type_ in LEXICAL_RELS:
        raise StoreError(f"relation type {type_!r} clashes with a built-in relationship type")
    return identifier(type_, "relation type")


def evidence_key(chunk_id: str, start: int, end: int) -> str:
    """Evidence is stored as "chunk_id|start|end" strings: lists of scalars index and compare simply."""
    return f"{chunk_id}|{int(start)}|{int(end)}"


def parse_evidence(s: str) -> tuple[str, int, int]:
    chunk_id, start, end = s.rsplit("|", 2)  # a chunk id could itself contain "|"
    return chunk_id, int(start), int(end)
