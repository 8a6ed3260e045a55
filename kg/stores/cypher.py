"""Cypher shared by the Cypher backends: batching, canonical JSON, full-text words, and the
read-only queries every store answers the same way."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator, Sequence, TypeVar

T = TypeVar("T")

_WORD = re.compile(r"[^\W_]+")


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    size = max(1, size)
    for i in range(0, len(items), size):
        yield items[i : i + size]


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
