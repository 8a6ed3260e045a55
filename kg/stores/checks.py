"""What a store refuses before anything is written: ids, strings and type names the server
cannot take. FalkorDB 4.16 crashes on U+0001 in a uniquely constrained property (ids) and
refuses NUL in any string; text that is not valid Unicode (lone surrogates) cannot even be sent.
The rules are the input checks of kg/validate.py, applied again to everything a batch holds."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from kg.errors import StoreError
from kg.stores.lexical import entity_label, relation_type
from kg.types import GraphBatch
from kg.validate import id_problem, quoted, text_problem


STORED_ID_CHARS = 4096  # derived ids (a chunk's "<doc id>:<index>") may exceed the 512 of an input id


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
    def ids(what: str, values: Iterable[Any]) -> None:
        for v in values:
            if (p := id_problem(v, name=f"{what} {quoted(v)}", max_chars=STORED_ID_CHARS)) is not None:
                raise StoreError(p)

    def strings(what: str, owner: str, values: Iterable[Any]) -> None:
        for v in values:
            for s in _strings(v):
                if (p := text_problem(s, name=f"{what} of {owner}")) is not None:
                    raise StoreError(p)

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
