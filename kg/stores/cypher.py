"""Cypher helpers shared by the stores: identifier checks and the plain-data merge rules.

Labels and relationship types cannot be query parameters, so they are formatted into
the query text; everything formatted in goes through `identifier()` first.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Iterable, Iterator, Mapping, Sequence, TypeVar

from kg.errors import StoreError

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


# --- what the server cannot take, checked before a write is sent ---

# FalkorDB 4.16 crashes on U+0001 in a uniquely constrained property (ids) and refuses NUL in any
# string; text that is not valid Unicode (lone surrogates) cannot even be sent.
def string_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"contains an unpaired surrogate (U+{ord(value[e.start]):04X}) at position {e.start}"
    return None


def id_problem(value: Any) -> str | None:
    if (problem := string_problem(value)) is not None:
        return problem
    if not value:
        return "is empty"
    for i, ch in enumerate(value):
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return f"contains a control or invisible character (U+{ord(ch):04X}) at position {i}"
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def check_batch(batch: Any) -> None:
    """StoreError, before anything is written, for anything in the batch the server cannot take."""
    def refuse(what: str, value: Any, problem: str) -> None:
        raise StoreError(f"{what} {str(value)[:80]!r} {problem}")

    def ids(what: str, values: Iterable[Any]) -> None:
        for v in values:
            if (p := id_problem(v)) is not None:
                refuse(what, v, p)

    def strings(what: str, owner: str, values: Iterable[Any]) -> None:
        for v in values:
            for s in _strings(v):
                if (p := string_problem(s)) is not None:
                    refuse(f"{what} of", owner, p)

    ids("document id", (d.id for d in batch.documents))
    ids("replaced document id", batch.replaces)
    ids("chunk id", (c.id for c in batch.chunks))
    ids("chunk's document id", (c.doc_id for c in batch.chunks))
    ids("entity id", (e.id for e in batch.entities))
    ids("mention's entity id", (m.entity_id for m in batch.mentions))
    ids("mention's chunk id", (m.chunk_id for m in batch.mentions))
    for r in batch.relations:
        ids("relation endpoint", (r.head_id, r.tail_id))
        ids("relation source", r.sources)
        relation_type(r.type)
    for d in batch.documents:
        strings("a field", f"document {d.id}", (d.source, d.title, d.sha256, d.metadata))
    for c in batch.chunks:
        strings("the text", f"chunk {c.id}", (c.text,))
    for e in batch.entities:
        entity_label(e.type)
        strings("a name", f"entity {e.id}", (e.name, e.type, e.aliases, e.keys if hasattr(e, "keys") else []))
    for m in batch.mentions:
        strings("the text", f"a mention in {m.chunk_id}", (m.text,))
    for r in batch.relations:
        strings("the model name", f"relation {r.type}", (r.model,))
