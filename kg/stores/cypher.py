"""Cypher helpers shared by the stores: identifier checks and the plain-data merge rules.

Labels and relationship types cannot be query parameters, so they are formatted into
the query text; everything formatted in goes through `identifier()` first.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Iterator, Sequence, TypeVar

from kg.stores.base import StoreError

T = TypeVar("T")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORD = re.compile(r"[^\W_]+")

# labels and relationship types of the lexical graph: an entity or relation type may not reuse them
NODE_LABELS = frozenset({"Document", "Chunk", "Entity"})
LEXICAL_RELS = frozenset({"PART_OF", "NEXT", "MENTIONED_IN"})


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


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    size = max(1, size)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def sorted_union(*lists: Iterable[str] | None) -> list[str]:
    return sorted({x for lst in lists if lst for x in lst})


def evidence_key(chunk_id: str, start: int, end: int) -> str:
    """Evidence is stored as "chunk_id|start|end" strings: lists of scalars index and compare simply."""
    return f"{chunk_id}|{int(start)}|{int(end)}"


def parse_evidence(s: str) -> tuple[str, int, int]:
    chunk_id, start, end = s.rsplit("|", 2)  # a chunk id could itself contain "|"
    return chunk_id, int(start), int(end)


def fulltext_words(text: str) -> list[str]:
    """The plain words of a search text: RediSearch query syntax gives - @ | " * and others meaning."""
    return [w for w in _WORD.findall(text or "") if w]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


# --- the read-only queries every store answers the same way ---

STATS_QUERIES = {
    "documents": "MATCH (d:Document) RETURN count(d) AS n",
    "chunks": "MATCH (c:Chunk) RETURN count(c) AS n",
    "entities": "MATCH (e:Entity) RETURN count(e) AS n",
    "mentions": "MATCH (:Entity)-[m:MENTIONED_IN]->(:Chunk) RETURN count(m) AS n",
    "relations": "MATCH (:Entity)-[r]->(:Entity) RETURN count(r) AS n",
}
ENTITY_TYPES_QUERY = "MATCH (e:Entity) RETURN e.type AS type, count(e) AS n"
RELATION_TYPES_QUERY = "MATCH (:Entity)-[r]->(:Entity) RETURN type(r) AS type, count(r) AS n"
