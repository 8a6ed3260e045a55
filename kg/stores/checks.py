"""What a store refuses before anything is written: ids, strings and type names the server
cannot take. FalkorDB 4.16 crashes on U+0001 in a uniquely constrained property (ids) and
refuses NUL in any string; text that is not valid Unicode (lone surrogates) cannot even be sent."""

from __future__ import annotations

import unicodedata
from typing import Any, Iterable, Iterator, Mapping

from kg.errors import StoreError
from kg.stores.lexical import entity_label, relation_type
from kg.types import GraphBatch


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


def check_batch(batch: GraphBatch) -> None:
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
        strings("a name", f"entity {e.id}", (e.name, e.type, e.aliases, e.keys))
    for m in batch.mentions:
        strings("the text", f"a mention in {m.chunk_id}", (m.text,))
    for r in batch.relations:
        strings("the model name", f"relation {r.type}", (r.model,))
