"""Copy a whole graph from one store to another (`kg migrate --from URL --to URL`), so a user who
outgrows the embedded store keeps everything without extracting again: documents, chunks with
their embeddings and phrases, entities with aliases, keys and embeddings, mentions, and relations
with their sources and evidence.

It reads the source with backend-neutral read-only Cypher, a page at a time (keyset pages by id),
and writes through the target's own upsert, so the target's dialect, checks and merge rules
apply (its derived values, such as mention counts, are recomputed). Each page is one atomic
write. Re-running a migration changes nothing: every write is an idempotent upsert, and
`ingested_at` is copied, not stamped anew.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterator

from tqdm import tqdm

from kg.stores.base import GraphStore
from kg.stores.cypher_store import chunk_from, entity_from
from kg.stores.lexical import parse_evidence
from kg.types import Chunk, Document, GraphBatch, MentionLink, Phrase, RelationLink

DEFAULT_BATCH = 200  # documents, entities or relation heads per write


@dataclass
class MigrationReport:
    documents: int = 0
    chunks: int = 0
    entities: int = 0
    mentions: int = 0
    relations: int = 0
    phrases: int = 0
    seconds: float = 0.0


def _ids(store: GraphStore, label: str, size: int) -> Iterator[list[str]]:
    """Every id of a label, a page at a time, in id order (keyset pages: each page costs the same)."""
    after = ""
    while True:
        page = [r["id"] for r in store.query(f"MATCH (n:{label}) WHERE n.id > $after RETURN n.id AS id "
                                             "ORDER BY id LIMIT $n", {"after": after, "n": size})]
        if not page:
            return
        yield page
        after = page[-1]


def _entities(source: GraphStore, ids: list[str]) -> GraphBatch:
    rows = source.query("MATCH (e:Entity) WHERE e.id IN $ids RETURN properties(e) AS p", {"ids": ids})
    return GraphBatch(entities=[entity_from(r["p"]) for r in rows])


def _documents(source: GraphStore, ids: list[str]) -> tuple[GraphBatch, list[dict[str, Any]]]:
    """A page of documents with their chunks, phrases and mentions; and their ingested_at."""
    docs = [r["p"] for r in source.query("MATCH (d:Document) WHERE d.id IN $ids RETURN properties(d) AS p",
                                         {"ids": ids})]
    phrases: dict[str, list[str]] = defaultdict(list)
    vectors: dict[str, Any] = {}
    for r in source.query("MATCH (c:Chunk)-[:HAS_PHRASE]->(x:Phrase) WHERE c.doc_id IN $ids "
                          "RETURN c.id AS c, x.key AS k, x.embedding AS v", {"ids": ids}):
        phrases[r["c"]].append(r["k"])
        vectors[r["k"]] = r["v"]
    chunks = []
    for r in source.query("MATCH (c:Chunk) WHERE c.doc_id IN $ids RETURN properties(c) AS p", {"ids": ids}):
        c: Chunk = chunk_from(r["p"])
        c.embedding, c.phrases = r["p"].get("embedding"), sorted(phrases.get(c.id, []))
        chunks.append(c)
    mentions = [MentionLink(r["e"], r["c"], int(r["s"]), int(r["t"]), r["x"] or "") for r in source.query(
        "MATCH (e:Entity)-[m:MENTIONED_IN]->(c:Chunk) WHERE c.doc_id IN $ids "
        "RETURN e.id AS e, c.id AS c, m.start AS s, m.end AS t, m.text AS x", {"ids": ids})]
    batch = GraphBatch(
        documents=[Document(p["id"], "", source=p.get("source") or "", title=p.get("title") or "",
                            metadata=json.loads(p.get("metadata") or "{}"), sha256=p.get("sha256") or "")
                   for p in docs],
        chunks=chunks, mentions=mentions, phrases=[Phrase(k, v) for k, v in sorted(vectors.items())])
    stamps = [{"id": p["id"], "at": p["ingested_at"]} for p in docs if p.get("ingested_at")]
    return batch, stamps


def relation_links(head: str, tail: str, type_: str, props: dict[str, Any]) -> list[RelationLink]:
    """A stored relation as statements the target's upsert folds back into exactly it: one per
    source, with that source's evidence spans (merge.relation_rows unions them again)."""
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for e in props.get("evidence") or []:
        chunk, start, end = parse_evidence(e)
        spans[chunk].append((start, end))
    conf, model = float(props.get("confidence") or 0.0), props.get("model") or ""
    sources = list(props.get("sources") or [])
    if not sources:
        return [RelationLink(head, tail, type_, conf, model, [], [])]
    return [RelationLink(head, tail, type_, conf, model, [s], spans.get(s, [])) for s in sources]


def _relations(source: GraphStore, heads: list[str]) -> GraphBatch:
    links: list[RelationLink] = []
    for r in source.query("MATCH (h:Entity)-[x]->(t:Entity) WHERE h.id IN $ids "
                          "RETURN h.id AS h, type(x) AS type, t.id AS t, properties(x) AS p", {"ids": heads}):
        links += relation_links(r["h"], r["t"], r["type"], r["p"])
    return GraphBatch(relations=links)


def migrate(source: GraphStore, target: GraphStore, batch_size: int = DEFAULT_BATCH,
            progress: bool = True) -> MigrationReport:
    """Copy everything in `source` into `target` (see the module docstring)."""
    t0 = time.monotonic()
    size = max(1, int(batch_size))
    counts = source.stats()
    report = MigrationReport()
    total = counts["entities"] * 2 + counts["documents"]  # entities, documents, then relations by head
    with tqdm(total=total, unit="item", desc="migrate", disable=not progress, leave=False) as bar:
        for ids in _ids(source, "Entity", size):
            batch = _entities(source, ids)
            target.upsert(batch)
            report.entities += len(batch.entities)
            bar.update(len(ids))
        for ids in _ids(source, "Document", size):
            batch, stamps = _documents(source, ids)
            target.upsert(batch)
            # upsert stamps a new document with the time of the write: keep the original's
            target.query("UNWIND $rows AS r MATCH (d:Document {id: r.id}) SET d.ingested_at = r.at",
                         {"rows": stamps}, read_only=False)
            report.documents += len(batch.documents)
            report.chunks += len(batch.chunks)
            report.mentions += len(batch.mentions)
            report.phrases += len(batch.phrases)
            bar.update(len(ids))
        for heads in _ids(source, "Entity", size):
            batch = _relations(source, heads)
            target.upsert(batch)
            report.relations += len({(r.head_id, r.type, r.tail_id) for r in batch.relations})
            bar.update(len(heads))
    report.seconds = time.monotonic() - t0
    return report
