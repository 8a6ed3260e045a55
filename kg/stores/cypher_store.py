"""A GraphStore over any Cypher database: the write plans, the delete plan and the reads that
every Cypher backend shares. A backend (kg/stores/falkordb/) subclasses CypherStore and
supplies only its connection, its dialect and its workarounds:

- `_rows(q, params)`: run a read, rows as lists of plain values;
- `_transaction(plan)`: call plan(WritePlan), then apply the plan's statements atomically
  while no other writer can change what the plan read;
- `_vector(expr)`: the expression that stores a vector parameter (FalkorDB: vecf32(expr));
- `_entity_statement(label)`: the statement that upserts entity rows of one type;
- `_remove_entities(ids, write)`, `_nearest_entities`, `_nearest_chunks`, `_fulltext_chunks`,
  `_run_user_query`, `_ensure_schema`, `clear`, `close`;
- optionally `_nearest_entities_many` and `_nearest_phrases_many`: many query vectors in one
  round trip (the defaults loop over the single-vector hooks).

Every write is planned first, from reads, and then applied as one atomic unit. The plan never
relies on reading what it writes itself (FalkorDB applies the relationships a query creates
only when the query ends): mention counts, and a relation both dropped with a replaced
document and stated again, are worked out from reads before writing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence, TypeVar

import numpy as np

from kg.errors import StoreError
from kg.stores import cypher as cy
from kg.stores import merge
from kg.stores.checks import STORED_ID_CHARS, check_batch
from kg.stores.cypher_guard import MAX_NESTING, MAX_QUERY_CHARS, check_read_only_query
from kg.stores.fusion import reciprocal_rank_fusion
from kg.stores.lexical import LEXICAL_RELS, entity_label, identifier, parse_evidence, relation_type
from kg.stores.plans import DeletePlan, WritePlan, next_links
from kg.types import (
    Chunk,
    DeleteReport,
    Document,
    Entity,
    GraphBatch,
    GraphEdges,
    MentionLink,
    Phrase,
    QueryResult,
    RelationLink,
    Scored,
    Subgraph,
)
from kg.validate import id_problem

T = TypeVar("T")

DEFAULT_EMBEDDING_DIM = 384


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Vector(list):
    """A float32 vector parameter: a backend may encode it compactly."""


def floats(v: Any) -> Vector | None:
    if v is None:
        return None
    a = np.asarray(v, dtype=np.float32).ravel()
    if not np.isfinite(a).all():
        raise StoreError("an embedding contains NaN or infinity")
    return Vector(a.tolist())


def entity_from(p: Mapping[str, Any], with_embedding: bool = True) -> Entity:
    return Entity(
        id=p["id"],
        name=p.get("name") or "",
        type=p.get("type") or "",
        aliases=list(p.get("aliases") or []),
        embedding=list(p["embedding"]) if with_embedding and p.get("embedding") is not None else None,
        mentions=int(p.get("mentions") or 0),
        keys=list(p.get("keys") or []),
    )


def document_from(p: Mapping[str, Any]) -> Document:
    # the text lives in the chunks; a Document read back carries its metadata only
    return Document(id=p["id"], text="", source=p.get("source") or "", title=p.get("title") or "",
                    metadata=json.loads(p.get("metadata") or "{}"), sha256=p.get("sha256") or "")


def chunk_from(p: Mapping[str, Any]) -> Chunk:
    return Chunk(id=p["id"], doc_id=p["doc_id"], index=int(p["index"]), text=p.get("text") or "",
                 start=int(p["start"]), end=int(p["end"]))


def relation_from(head: str, tail: str, type_: str, p: Mapping[str, Any]) -> RelationLink:
    evidence = [parse_evidence(e)[1:] for e in p.get("evidence") or []]
    return RelationLink(head, tail, type_, float(p.get("confidence") or 0.0), p.get("model") or "",
                        list(p.get("sources") or []), evidence)


CHUNK_FIELDS = "{.id, .doc_id, .index, .text, .start, .end}"  # a chunk's map projection, vector left out
ENTITY_FIELDS = "{.id, .name, .type, .aliases, .mentions, .keys}"  # an entity's, vector left out


def widening_search(ask: Callable[[list[int], list[int]], list[tuple[list[T], float | None]]], ns: Sequence[int],
                    k: int, index_size: Callable[[], int], min_score: float | None = None) -> list[list[T]]:
    """k hits per query vector from a vector index followed by a filter that may drop candidates
    (a type filter; FalkorDB's stale entries). ask(todo, ns) searches the vectors at positions
    todo, ns[j] candidates for todo[j], all in one round trip, and gives per vector (the hits kept,
    the lowest similarity among the candidates, or None when the index gave none). A vector left
    short asks again for 4x more candidates, until k pass, the index (index_size, read once) has
    no more, or, with min_score, its candidates score below it: more would score lower still."""
    ns = list(ns)
    hits: list[list[T]] = [[] for _ in ns]
    todo, size = list(range(len(ns))), None
    while todo:
        lowest: dict[int, float | None] = {}
        for i, (kept, low) in zip(todo, ask(todo, [ns[i] for i in todo])):
            hits[i], lowest[i] = kept, low
        todo = [i for i in todo if len(hits[i]) < k and lowest[i] is not None
                and (min_score is None or lowest[i] >= min_score)]
        if not todo:
            break
        if size is None:
            size = index_size()
        todo = [i for i in todo if ns[i] < size]
        for i in todo:
            ns[i] = min(ns[i] * 4, size)
    return hits


class CypherStore:
    """The backend-neutral half of a Cypher GraphStore (see the module docstring)."""

    dim: int = DEFAULT_EMBEDDING_DIM
    batch_size: int = 2000  # ids per read
    query_timeout_ms: int = 10_000
    query_max_rows: int = 10_000
    query_max_chars: int = MAX_QUERY_CHARS
    query_max_depth: int = MAX_NESTING
    _dump_nodes_query = "MATCH (n) RETURN labels(n), properties(n)"  # a backend may leave out its bookkeeping

    # ------------------------------------------------------------------ what a backend supplies

    def _rows(self, q: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        raise NotImplementedError

    def _transaction(self, plan: Callable[[WritePlan], T]) -> T:
        raise NotImplementedError

    def _vector(self, expr: str) -> str:
        return expr

    def _entity_statement(self, label: str) -> str:
        raise NotImplementedError

    def _remove_entities(self, ids: list[str], write: WritePlan) -> None:
        write.add_rows("UNWIND $ids AS i MATCH (e:Entity {id: i}) DETACH DELETE e", ids, key="ids")

    def _nearest_entities(self, vector: Vector, k: int, type: str | None,
                          with_embedding: bool = True) -> list[tuple[dict[str, Any], float]]:
        """(entity properties, cosine similarity), best first."""
        raise NotImplementedError

    def _nearest_entities_many(self, vectors: list[Vector], k: int, types: list[str | None],
                               min_score: float | None, with_embedding: bool = True
                               ) -> list[list[tuple[dict[str, Any], float]]]:
        """Per vector, what _nearest_entities(vector, k, type) gives, less the hits under min_score.
        A backend that can answers all of them in one round trip; this default asks one at a time."""
        return [[(p, s) for p, s in self._nearest_entities(v, k, t, with_embedding) if min_score is None or s >= min_score]
                for v, t in zip(vectors, types)]

    def _nearest_chunks(self, vector: Vector, n: int, scored: bool = False) -> list:
        """Chunk maps (CHUNK_FIELDS), nearest first; with scored, (map, cosine similarity) pairs."""
        raise NotImplementedError

    def _nearest_chunk_ids(self, vector: Vector, n: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), nearest first."""
        raise NotImplementedError

    def _fulltext_chunks(self, words: list[str], n: int, scored: bool = False, with_text: bool = True) -> list:
        """Chunk maps (CHUNK_FIELDS) matching any of the words, best first; with scored, (map, score)."""
        raise NotImplementedError

    def _nearest_phrases(self, vector: Vector, k: int) -> list[tuple[str, float]]:
        """(phrase key, cosine similarity), best first."""
        raise NotImplementedError

    def _nearest_phrases_many(self, vectors: list[Vector], k: int) -> list[list[tuple[str, float]]]:
        """_nearest_phrases of each vector; a backend that can answer them in one round trip overrides this."""
        return [self._nearest_phrases(v, k) for v in vectors]

    def generation(self) -> str:
        """Changes whenever the graph does (a cache built on the graph compares it)."""
        raise NotImplementedError

    def _run_user_query(self, cypher: str, params: Mapping[str, Any] | None, read_only: bool,
                        timeout_ms: int | None, limit: int | None) -> list[dict[str, Any]]:
        raise NotImplementedError

    # ------------------------------------------------------------------ shared plumbing

    def _check_dim(self, vec: list[float] | None, what: str) -> None:
        if vec is not None and len(vec) != self.dim:
            raise StoreError(f"{what} embedding has {len(vec)} dimensions; this graph's vector index expects "
                             f"{self.dim} (a graph keeps the dimension of the embedder that created it)")

    def _missing(self, label: str, ids: Sequence[str]) -> list[str]:
        ids = sorted(set(ids))
        found: set[str] = set()
        for part in cy.batches(ids, self.batch_size):
            found.update(r[0] for r in self._rows(
                f"UNWIND $ids AS i MATCH (n:{label} {{id: i}}) RETURN n.id", {"ids": list(part)}))
        return [i for i in ids if i not in found]

    def _require(self, label: str, ids: Sequence[str], what: str, *, written: set[str],
                 removed: set[str] = frozenset()) -> None:
        """Every id is written by this batch, or stored and not removed by it."""
        needed = {i for i in ids if i not in written}
        missing = sorted((needed & set(removed)) | set(self._missing(label, sorted(needed - set(removed)))))
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise StoreError(f"{what} refer to {len(missing)} unknown {label} id(s): {shown}")

    # ------------------------------------------------------------------ writes

    def upsert(self, batch: GraphBatch) -> None:
        """Write the batch atomically: all of it lands or none of it. Documents listed in
        batch.replaces lose their old version (chunks, mentions, what only they supported) in
        the same write, so a reader or a crash never sees half a replacement."""
        check_batch(batch)
        self._transaction(lambda write: self._plan_upsert(batch, write))

    def _plan_upsert(self, batch: GraphBatch, write: WritePlan) -> None:
        keep = {e.id for e in batch.entities}
        named = {k for c in batch.chunks for k in c.phrases}
        gone = self._plan_delete(sorted(set(batch.replaces)), keep_entities=keep, keep_phrases=named)
        relation_rows = self._relation_rows(batch.relations, keep, gone)
        self._write_delete(gone, write, restated={(r["h"], t, r["t"]) for t, rows in relation_rows.items()
                                                  for r in rows})
        self._upsert_documents(batch.documents, write)
        self._upsert_chunks(batch.chunks, {d.id for d in batch.documents}, gone, write,
                            {p.key: p.embedding for p in batch.phrases})
        self._upsert_entities(batch.entities, write)
        mention_rows = self._upsert_mentions(batch.mentions, keep, {c.id for c in batch.chunks}, gone, write)
        for type_, rows in sorted(relation_rows.items()):
            write.add_rows(f"UNWIND $rows AS r MATCH (h:Entity {{id: r.h}}) MATCH (t:Entity {{id: r.t}}) "
                           f"MERGE (h)-[x:{relation_type(type_)}]->(t) SET x.confidence = r.confidence, "
                           "x.model = r.model, x.sources = r.sources, x.evidence = r.evidence", rows)
        touched = (keep | {m.entity_id for m in batch.mentions} | gone.touched) - gone.orphans
        self._set_mention_counts(sorted(touched), gone, mention_rows, write)

    def _upsert_documents(self, docs: Sequence[Document], write: WritePlan) -> None:
        rows = {d.id: {"id": d.id, "source": d.source, "title": d.title, "sha256": d.sha256,
                       "metadata": cy.canonical_json(d.metadata or {})} for d in docs}
        # ingested_at only on create: re-upserting a document must leave the graph identical
        write.add_rows("UNWIND $rows AS r MERGE (d:Document {id: r.id}) ON CREATE SET d.ingested_at = $now "
                       "SET d.source = r.source, d.title = r.title, d.sha256 = r.sha256, d.metadata = r.metadata",
                       list(rows.values()), now=now())

    def _upsert_chunks(self, chunks: Sequence[Chunk], batch_docs: set[str], gone: DeletePlan,
                       write: WritePlan, phrase_vectors: Mapping[str, Any]) -> None:
        if not chunks:
            return
        self._require("Document", [c.doc_id for c in chunks], "chunks", written=batch_docs)
        rows = {}
        for c in chunks:
            emb = floats(c.embedding)
            self._check_dim(emb, f"chunk {c.id}")
            rows[c.id] = {"id": c.id, "doc_id": c.doc_id, "index": int(c.index), "text": c.text,
                          "start": int(c.start), "end": int(c.end), "embedding": emb}
        # a stored chunk is rewritten only when its content changed, and its vector only then
        # (FalkorDB's vector index leaks an entry per rewrite); removed chunks are written afresh
        stored: dict[str, tuple] = {}
        for part in cy.batches(sorted(set(rows) - gone.chunk_ids), self.batch_size):
            for i, *content in self._rows("UNWIND $ids AS i MATCH (c:Chunk {id: i}) "
                                          "RETURN c.id, c.doc_id, c.index, c.text, c.start, c.end", {"ids": list(part)}):
                stored[i] = tuple(content)
        fields = ("doc_id", "index", "text", "start", "end")
        new = [r for i, r in rows.items() if i not in stored]
        changed = [r for i, r in rows.items() if i in stored and stored[i] != tuple(r[f] for f in fields)]
        vec = self._vector("r.embedding")
        write.add_rows("UNWIND $rows AS r MATCH (d:Document {id: r.doc_id}) CREATE (c:Chunk {id: r.id}) "
                       "SET c.doc_id = r.doc_id, c.index = r.index, c.text = r.text, c.start = r.start, c.end = r.end, "
                       f"  c.embedding = CASE WHEN r.embedding IS NULL THEN NULL ELSE {vec} END "
                       "CREATE (c)-[:PART_OF]->(d)", new)
        write.add_rows("UNWIND $rows AS r MATCH (c:Chunk {id: r.id}) MATCH (d:Document {id: r.doc_id}) "
                       "SET c.doc_id = r.doc_id, c.index = r.index, c.text = r.text, c.start = r.start, c.end = r.end "
                       "FOREACH (_ IN CASE WHEN r.embedding IS NULL THEN [] ELSE [1] END | "
                       f"  SET c.embedding = {vec}) "
                       "MERGE (c)-[:PART_OF]->(d)", changed)
        self._upsert_phrases([c for c in chunks if c.id in {r["id"] for r in new + changed}],
                             [r["id"] for r in changed], phrase_vectors, write)
        pairs, edges = next_links(rows)
        write.add_rows("UNWIND $rows AS r MATCH (a:Chunk {id: r.a}) MATCH (b:Chunk {id: r.b}) "
                       "MERGE (a)-[:NEXT]->(b)", pairs)
        write.add_rows("UNWIND $rows AS r MATCH (c:Chunk {id: r.id}) MATCH (o:Chunk {doc_id: r.doc_id}) "
                       "WHERE o.index = r.index "
                       "FOREACH (_ IN CASE WHEN r.forward THEN [1] ELSE [] END | MERGE (c)-[:NEXT]->(o)) "
                       "FOREACH (_ IN CASE WHEN r.forward THEN [] ELSE [1] END | MERGE (o)-[:NEXT]->(c))",
                       edges)

    def _upsert_phrases(self, chunks: Sequence[Chunk], changed: list[str], vectors: Mapping[str, Any],
                        write: WritePlan) -> None:
        """Phrase nodes (one per key; a vector only when first written) and the chunks' HAS_PHRASE
        edges, for chunks written afresh (a changed chunk loses its old edges first)."""
        write.add_rows("UNWIND $ids AS i MATCH (:Chunk {id: i})-[h:HAS_PHRASE]->(:Phrase) DELETE h", changed,
                       key="ids")
        keys = sorted({k for c in chunks for k in c.phrases})
        if not keys:
            return
        rows = []
        for k in keys:
            emb = floats(vectors.get(k))
            self._check_dim(emb, f"phrase {k!r}")
            rows.append({"key": k, "embedding": emb})
        # write-once: a stored phrase keeps its vector (FalkorDB's vector index leaks an entry per rewrite)
        write.add_rows(f"UNWIND $rows AS r MERGE (p:Phrase {{key: r.key}}) "
                       f"ON CREATE SET p.embedding = CASE WHEN r.embedding IS NULL THEN NULL "
                       f"ELSE {self._vector('r.embedding')} END", rows)
        edges = [{"c": c.id, "k": k} for c in chunks for k in dict.fromkeys(c.phrases)]
        write.add_rows("UNWIND $rows AS r MATCH (c:Chunk {id: r.c}) MATCH (p:Phrase {key: r.k}) "
                       "MERGE (c)-[:HAS_PHRASE]->(p)", edges)

    def missing_phrases(self, keys: Sequence[str]) -> list[str]:
        """The keys no Phrase node holds a vector for yet (the pipeline embeds only those)."""
        keys = sorted(set(keys))
        found: set[str] = set()
        for part in cy.batches(keys, self.batch_size):
            found.update(r[0] for r in self._rows("UNWIND $keys AS k MATCH (p:Phrase {key: k}) "
                                                  "WHERE p.embedding IS NOT NULL RETURN p.key", {"keys": list(part)}))
        return [k for k in keys if k not in found]

    def _upsert_entities(self, entities: Sequence[Entity], write: WritePlan) -> None:
        if not entities:
            return
        merged = merge.batch_entities(entities)
        stored: dict[str, dict[str, Any]] = {}
        for part in cy.batches(sorted(merged), self.batch_size):
            for i, name, type_, aliases, keys, has_emb in self._rows(
                "UNWIND $ids AS i MATCH (e:Entity {id: i}) "
                "RETURN e.id, e.name, e.type, e.aliases, e.keys, e.embedding IS NOT NULL", {"ids": list(part)}
            ):
                stored[i] = {"name": name, "type": type_, "aliases": aliases, "keys": keys, "has_emb": has_emb}
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in merged.values():
            row = merge.with_stored_entity(e, stored.get(e.id))
            row["embedding"] = floats(row["embedding"])
            self._check_dim(row["embedding"], f"entity {e.id}")
            by_type[row["type"]].append(row)
        for type_, rows in sorted(by_type.items()):
            write.add_rows(self._entity_statement(entity_label(type_)), rows)

    def _upsert_mentions(self, mentions: Sequence[MentionLink], batch_entities: set[str], batch_chunks: set[str],
                         gone: DeletePlan, write: WritePlan) -> list[dict[str, Any]]:
        if not mentions:
            return []
        rows = {(m.entity_id, m.chunk_id, int(m.start), int(m.end)): m.text for m in mentions}
        self._require("Entity", [k[0] for k in rows], "mentions", written=batch_entities, removed=gone.orphans)
        self._require("Chunk", [k[1] for k in rows], "mentions", written=batch_chunks, removed=gone.chunk_ids)
        data = [{"e": e, "c": c, "start": s, "end": t, "text": text} for (e, c, s, t), text in rows.items()]
        write.add_rows("UNWIND $rows AS r MATCH (e:Entity {id: r.e}) MATCH (c:Chunk {id: r.c}) "
                       "MERGE (e)-[m:MENTIONED_IN {start: r.start, end: r.end}]->(c) ON CREATE SET m.text = r.text",
                       data)
        return data

    def _relation_rows(self, relations: Sequence[RelationLink], batch_entities: set[str],
                       gone: DeletePlan) -> dict[str, list[dict[str, Any]]]:
        """Per relation type, the final properties of every relation the batch states: merged with
        what is stored, less what the replaced documents took away."""
        if not relations:
            return {}
        for r in relations:
            relation_type(r.type)
        merged = merge.relation_rows(relations)
        self._require("Entity", [k[0] for k in merged] + [k[2] for k in merged], "relations",
                      written=batch_entities, removed=gone.orphans)
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (_, type_, _), row in merged.items():
            by_type[type_].append(row)
        out: dict[str, list[dict[str, Any]]] = {}
        for type_, rows in sorted(by_type.items()):
            out[type_] = []
            for part in cy.batches(rows, self.batch_size):
                stored = {(h, t): (c, m, s, e) for h, t, c, m, s, e in self._rows(
                    f"UNWIND $rows AS r MATCH (h:Entity {{id: r.h}})-[x:{relation_type(type_)}]->"
                    "(t:Entity {id: r.t}) RETURN h.id, t.id, x.confidence, x.model, x.sources, x.evidence",
                    {"rows": list(part)})}
                for row in part:
                    key = (row["h"], type_, row["t"])
                    prev = None if key in gone.rel_drops else stored.get((row["h"], row["t"]))
                    if prev is not None:
                        conf, model, sources, evidence = prev
                        if key in gone.rel_updates:  # what the replaced documents leave of it
                            sources, evidence = gone.rel_updates[key]
                        row = merge.with_stored_relation(row, conf, model, sources, evidence)
                    out[type_].append(row)
        return out

    def _set_mention_counts(self, entity_ids: Sequence[str], gone: DeletePlan, new_mentions: list[dict[str, Any]],
                            write: WritePlan) -> None:
        """e.mentions = its MENTIONED_IN edges after this write: derived, never accumulated, so
        re-upserting the same batch leaves it unchanged."""
        if not entity_ids:
            return
        gone_docs = sorted(gone.doc_ids)
        counts: dict[str, int] = {i: 0 for i in entity_ids}
        for part in cy.batches(list(entity_ids), self.batch_size):
            for i, n in self._rows("UNWIND $ids AS i MATCH (e:Entity {id: i}) "
                                   "OPTIONAL MATCH (e)-[m:MENTIONED_IN]->(c:Chunk) WHERE NOT c.doc_id IN $gone "
                                   "RETURN e.id, count(m)", {"ids": list(part), "gone": gone_docs}):
                counts[i] = int(n)
        stored: set[tuple[str, str, int, int]] = set()
        for part in cy.batches(new_mentions, self.batch_size):
            stored.update(tuple(r) for r in self._rows(
                "UNWIND $rows AS r MATCH (e:Entity {id: r.e})-[m:MENTIONED_IN]->(c:Chunk {id: r.c}) "
                "WHERE m.start = r.start AND m.end = r.end AND NOT c.doc_id IN $gone "
                "RETURN r.e, r.c, r.start, r.end", {"rows": [{k: r[k] for k in ("e", "c", "start", "end")}
                                                            for r in part], "gone": gone_docs}))
        for r in new_mentions:
            if r["e"] in counts and (r["e"], r["c"], r["start"], r["end"]) not in stored:
                counts[r["e"]] += 1
        write.add_rows("UNWIND $rows AS r MATCH (e:Entity {id: r.id}) SET e.mentions = r.n",
                       [{"id": i, "n": n} for i, n in sorted(counts.items())])

    def delete_document(self, doc_id: str) -> DeleteReport:
        """Remove a document, its chunks and mentions, and whatever only it supported: one write."""
        if (problem := id_problem(doc_id, name="document id", max_chars=STORED_ID_CHARS)) is not None:
            raise StoreError(problem)

        def plan(write: WritePlan) -> DeleteReport:
            gone = self._plan_delete([doc_id], keep_entities=set())
            self._write_delete(gone, write, restated=set())
            self._set_mention_counts(sorted(gone.touched - gone.orphans), gone, [], write)
            return gone.report

        return self._transaction(plan)

    def _plan_delete(self, doc_ids: Sequence[str], keep_entities: set[str],
                     keep_phrases: set[str] = frozenset()) -> DeletePlan:
        """What removing stored documents takes out (reads only). Entities and phrases only they
        name go too, except those in keep_entities / keep_phrases (a replacing version names them)."""
        found = [r[0] for r in self._rows("UNWIND $ids AS i MATCH (d:Document {id: i}) RETURN d.id",
                                          {"ids": list(doc_ids)})] if doc_ids else []
        plan = DeletePlan(DeleteReport(doc_ids[0] if len(doc_ids) == 1 else "", found=bool(found)))
        plan.doc_ids = set(found)
        if not found:
            return plan
        plan.chunk_ids = {r[0] for r in self._rows("MATCH (c:Chunk) WHERE c.doc_id IN $ids RETURN c.id",
                                                   {"ids": found})}
        mention_rows = self._rows("MATCH (e:Entity)-[m:MENTIONED_IN]->(c:Chunk) WHERE c.doc_id IN $ids "
                                  "RETURN e.id, count(m)", {"ids": found})
        plan.touched = {r[0] for r in mention_rows}
        plan.report.mentions = sum(int(r[1]) for r in mention_rows)
        # relationships citing these chunks lose the citations, and go when none is left. A scan over
        # relationships, so that one citing a chunk its endpoints are not mentioned in is found too.
        if plan.chunk_ids:
            for h, t, type_, sources, evidence in self._rows(
                "MATCH (h:Entity)-[x]->(t:Entity) WHERE any(s IN x.sources WHERE s IN $chunks) "
                "RETURN h.id, t.id, type(x), x.sources, x.evidence", {"chunks": sorted(plan.chunk_ids)}
            ):
                keep = [s for s in sources if s not in plan.chunk_ids]
                if keep:
                    ev = [e for e in evidence or [] if parse_evidence(e)[0] not in plan.chunk_ids]
                    plan.rel_updates[(h, type_, t)] = (keep, ev)
                else:
                    plan.rel_drops.add((h, type_, t))
        # entities no other document mentions go, with the relationships they still have
        candidates = sorted(plan.touched - keep_entities)
        for part in cy.batches(candidates, self.batch_size):
            plan.orphans.update(r[0] for r in self._rows(
                "UNWIND $ids AS i MATCH (e:Entity {id: i}) OPTIONAL MATCH (e)-[:MENTIONED_IN]->(c:Chunk) "
                "WHERE NOT c.doc_id IN $docs WITH e, count(c) AS n WHERE n = 0 RETURN e.id",
                {"ids": list(part), "docs": found}))
        phrases = {r[0] for r in self._rows("MATCH (c:Chunk)-[:HAS_PHRASE]->(p:Phrase) WHERE c.doc_id IN $ids "
                                            "RETURN DISTINCT p.key", {"ids": found})} - set(keep_phrases)
        for part in cy.batches(sorted(phrases), self.batch_size):
            plan.orphan_phrases.update(r[0] for r in self._rows(
                "UNWIND $keys AS k MATCH (p:Phrase {key: k}) OPTIONAL MATCH (c:Chunk)-[:HAS_PHRASE]->(p) "
                "WHERE NOT c.doc_id IN $docs WITH p, count(c) AS n WHERE n = 0 RETURN p.key",
                {"keys": list(part), "docs": found}))
        for part in cy.batches(sorted(plan.orphans), self.batch_size):
            plan.orphan_relations.update((h, t, o) for h, t, o in self._rows(
                "UNWIND $ids AS i MATCH (e:Entity {id: i})-[x]-(:Entity) "
                "RETURN startNode(x).id, type(x), endNode(x).id", {"ids": list(part)}))
        return plan

    def _write_delete(self, plan: DeletePlan, write: WritePlan, restated: set[tuple[str, str, str]]) -> None:
        """Queue the planned removal. Relations in `restated` (head, type, tail) are written whole
        by the same upsert, so they are neither updated nor dropped here."""
        if not plan.doc_ids:
            return
        updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (h, type_, t), (sources, evidence) in sorted(plan.rel_updates.items()):
            if (h, type_, t) not in restated:
                updates[type_].append({"h": h, "t": t, "sources": sources, "evidence": evidence})
        drops: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for h, type_, t in sorted(plan.rel_drops - restated):
            drops[type_].append({"h": h, "t": t})
        for type_, rows in sorted(updates.items()):
            write.add_rows(f"UNWIND $rows AS r MATCH (:Entity {{id: r.h}})-[x:{relation_type(type_)}]->"
                           "(:Entity {id: r.t}) SET x.sources = r.sources, x.evidence = r.evidence", rows)
        for type_, rows in sorted(drops.items()):
            write.add_rows(f"UNWIND $rows AS r MATCH (:Entity {{id: r.h}})-[x:{relation_type(type_)}]->"
                           "(:Entity {id: r.t}) DELETE x", rows)
        # the lexical part: chunks (with their PART_OF, NEXT and MENTIONED_IN edges), then the documents
        write.add_rows("UNWIND $ids AS i MATCH (c:Chunk {id: i}) DETACH DELETE c", sorted(plan.chunk_ids), key="ids")
        write.add_rows("UNWIND $ids AS i MATCH (d:Document {id: i}) DETACH DELETE d", sorted(plan.doc_ids), key="ids")
        self._remove_entities(sorted(plan.orphans), write)
        write.add_rows("UNWIND $keys AS k MATCH (p:Phrase {key: k}) DETACH DELETE p", sorted(plan.orphan_phrases),
                       key="keys")
        plan.finish_report(restated)

    # ------------------------------------------------------------------ reads

    def query(self, cypher: str, params: Mapping[str, Any] | None = None, *, read_only: bool = True
              ) -> list[dict[str, Any]]:
        if read_only:
            check_read_only_query(cypher, max_chars=self.query_max_chars, max_depth=self.query_max_depth)
        return self._run_user_query(cypher, params, read_only, None, None)

    def read_only_query(self, cypher: str, params: Mapping[str, Any] | None = None, *,
                        timeout_ms: int | None = None, max_rows: int | None = None) -> QueryResult:
        """A user's query: refused before it runs when it could reach out or stall the parser, run
        read-only with a time limit, and cut at max_rows (truncated=True then)."""
        check_read_only_query(cypher, max_chars=self.query_max_chars, max_depth=self.query_max_depth)
        limit = self.query_max_rows if max_rows is None else max_rows
        rows = self._run_user_query(cypher, params, True, timeout_ms or self.query_timeout_ms, limit + 1)
        return QueryResult(rows[:limit], truncated=len(rows) > limit)

    def get_document(self, doc_id: str) -> Document | None:
        rows = self._rows("MATCH (d:Document {id: $id}) RETURN properties(d)", {"id": doc_id})
        if not rows:
            return None
        return document_from(rows[0][0])

    def get_entities(self, ids: Sequence[str], with_embedding: bool = True) -> list[Entity]:
        found: dict[str, Entity] = {}
        fields = "properties(e)" if with_embedding else f"e {ENTITY_FIELDS}"
        for part in cy.batches(list(dict.fromkeys(ids)), self.batch_size):
            for (p,) in self._rows(f"UNWIND $ids AS i MATCH (e:Entity {{id: i}}) RETURN {fields}",
                                   {"ids": list(part)}):
                found[p["id"]] = entity_from(p)
        return [found[i] for i in dict.fromkeys(ids) if i in found]  # in the order asked, unknown ids left out

    def find_entities_by_alias(self, keys: Sequence[str], with_embedding: bool = True) -> dict[str, list[Entity]]:
        out: dict[str, dict[str, Entity]] = defaultdict(dict)
        fields = "properties(e)" if with_embedding else f"e {ENTITY_FIELDS}"
        for part in cy.batches(sorted(set(keys)), self.batch_size):
            for k, p in self._rows(f"UNWIND $keys AS k MATCH (e:Entity) WHERE k IN e.keys RETURN k, {fields}",
                                   {"keys": list(part)}):
                out[k][p["id"]] = entity_from(p)
        return {k: [v[i] for i in sorted(v)] for k, v in out.items()}

    def entities_named_like(self, text: str, k: int, type: str | None = None) -> list[Entity]:
        """Entities with a name or alias that contains `text`, ignoring case (a scan of the entities):
        those with the shortest such name first, so the closest names lead."""
        needle = (text or "").strip().lower()
        if k <= 0 or not needle:
            return []
        rows = self._rows("MATCH (e:Entity) WHERE $type IS NULL OR e.type = $type "
                          "WITH e, [a IN coalesce(e.aliases, []) + [e.name] WHERE toLower(a) CONTAINS $q | size(a)] "
                          "AS hits WHERE size(hits) > 0 "
                          "WITH e, reduce(m = hits[0], n IN hits | CASE WHEN n < m THEN n ELSE m END) AS best "
                          f"RETURN e {ENTITY_FIELDS} ORDER BY best, e.id LIMIT $k",
                          {"q": needle, "type": type, "k": int(k)})
        return [entity_from(p) for (p,) in rows]

    def similar_entities(self, vector: Sequence[float], k: int, type: str | None = None,
                         with_embedding: bool = True) -> list[Scored[Entity]]:
        return self.similar_entities_many([vector], k, [type], with_embedding=with_embedding)[0]

    def similar_entities_many(self, vectors: Sequence[Sequence[float]], k: int,
                              types: Sequence[str | None] | None = None, min_score: float | None = None,
                              with_embedding: bool = True) -> list[list[Scored[Entity]]]:
        """similar_entities for many vectors at once (entity resolution asks for a whole batch's
        names, retrieval for a question's phrases), each with its own type filter, keeping only
        hits scoring at least min_score; one list per vector, in order."""
        if k <= 0 or not len(vectors):
            return [[] for _ in vectors]
        types = list(types) if types is not None else [None] * len(vectors)
        return [[Scored(entity_from(p), s) for p, s in hits]
                for hits in self._nearest_entities_many(self._query_vectors(vectors), k, types, min_score,
                                                        with_embedding)]

    def similar_phrases(self, vector: Sequence[float], k: int) -> list[Scored[Phrase]]:
        return self.similar_phrases_many([vector], k)[0]

    def similar_phrases_many(self, vectors: Sequence[Sequence[float]], k: int) -> list[list[Scored[Phrase]]]:
        """similar_phrases of each vector, in one list per vector (one round trip where the backend can)."""
        if k <= 0 or not len(vectors):
            return [[] for _ in vectors]
        return [[Scored(Phrase(key), s) for key, s in hits]
                for hits in self._nearest_phrases_many(self._query_vectors(vectors), k)]

    def _query_vectors(self, vectors: Sequence[Sequence[float]]) -> list[Vector]:
        out = [floats(v) for v in vectors]
        for v in out:
            self._check_dim(v, "query")
        return out

    def search_chunks(self, vector: Sequence[float] | None, text: str, k: int) -> list[Scored[Chunk]]:
        """Hybrid retrieval: vector and full-text rankings fused by reciprocal rank (score = RRF)."""
        if k <= 0:
            return []
        n = max(2 * k, 20)  # deeper lists than k, so fusion can promote what both rankings agree on
        rankings: list[list[dict[str, Any]]] = []
        if vector is not None and len(vector) > 0:
            vec = floats(vector)
            self._check_dim(vec, "query")
            rankings.append(self._nearest_chunks(vec, n))
        # the full-text syntax gives meaning to - @ | " ...: search the plain words, any of them
        words = cy.fulltext_words(text)
        if words:
            rankings.append(self._fulltext_chunks(words, n))
        props = {p["id"]: p for ranking in rankings for p in ranking}
        fused = reciprocal_rank_fusion([[p["id"] for p in ranking] for ranking in rankings])[:k]
        return [Scored(chunk_from(props[i]), score) for i, score in fused]

    def neighbourhood(self, entity_ids: Sequence[str], depth: int, limit: int) -> Subgraph:
        """The entities within `depth` relation hops of the given ones (nearest first, at most `limit`
        in all, the given ones included) and every relation among them."""
        seeds = [e.id for e in self.get_entities(entity_ids)]
        if not seeds or limit <= 0:
            return Subgraph()
        ids = seeds[:limit]
        rel_types = [t for (t,) in self._rows("CALL db.relationshipTypes() YIELD relationshipType "
                                              "RETURN relationshipType") if t not in LEXICAL_RELS]
        if depth > 0 and rel_types and len(ids) < limit:
            types = "|".join(identifier(t) for t in sorted(rel_types))
            # a variable-length pattern keeps relationships unique along it
            rows = self._rows(f"MATCH (s:Entity) WHERE s.id IN $seeds "
                              f"MATCH p = (s)-[:{types}*1..{int(depth)}]-(n:Entity) WHERE NOT n.id IN $seeds "
                              "RETURN n.id, min(length(p)) AS d ORDER BY d, n.id LIMIT $n",
                              {"seeds": seeds, "n": limit - len(ids)})
            ids += [r[0] for r in rows]
        entities = self.get_entities(ids)
        relations: list[RelationLink] = []
        for h, t, type_, p in self._rows("MATCH (h:Entity)-[x]->(t:Entity) WHERE h.id IN $ids AND t.id IN $ids "
                                         "RETURN h.id, t.id, type(x), properties(x)", {"ids": ids}):
            relations.append(relation_from(h, t, type_, p))
        relations.sort(key=lambda r: (r.head_id, r.type, r.tail_id))
        return Subgraph(entities, relations)

    def nearest_chunks(self, vector: Sequence[float], k: int) -> list[Scored[Chunk]]:
        """Dense search alone: the k chunks whose vectors are nearest (score: cosine similarity)."""
        if k <= 0:
            return []
        vec = floats(vector)
        self._check_dim(vec, "query")
        return [Scored(chunk_from(p), s) for p, s in self._nearest_chunks(vec, k, scored=True)]

    def nearest_chunk_ids(self, vector: Sequence[float], k: int) -> list[Scored[str]]:
        """The k nearest chunks' ids: what a ranker needs, at a third of nearest_chunks' cost."""
        if k <= 0:
            return []
        vec = floats(vector)
        self._check_dim(vec, "query")
        return [Scored(cid, s) for cid, s in self._nearest_chunk_ids(vec, k)]

    def fulltext_chunks(self, text: str, k: int, with_text: bool = True) -> list[Scored[Chunk]]:
        """Full-text search alone: chunks with any of the text's words (score: the index's own)."""
        words = cy.fulltext_words(text)
        if k <= 0 or not words:
            return []
        return [Scored(chunk_from(p), s) for p, s in self._fulltext_chunks(words, k, scored=True,
                                                                          with_text=with_text)]

    def graph_edges(self) -> GraphEdges:
        """Every chunk, mention, phrase and relation edge, ids only (for a retrieval index)."""
        return GraphEdges(
            chunks=[(c, d) for c, d in self._rows("MATCH (c:Chunk) RETURN c.id, c.doc_id")],
            mentions=[(e, c) for e, c in self._rows("MATCH (e:Entity)-[:MENTIONED_IN]->(c:Chunk) "
                                                    "RETURN DISTINCT e.id, c.id")],
            phrases=[(c, k) for c, k in self._rows("MATCH (c:Chunk)-[:HAS_PHRASE]->(p:Phrase) RETURN c.id, p.key")],
            relations=[(h, t, o) for h, t, o in self._rows("MATCH (h:Entity)-[x]->(o:Entity) "
                                                           "RETURN h.id, type(x), o.id")],
            names=[(e, n) for e, n in self._rows("MATCH (e:Entity) UNWIND e.aliases AS n RETURN e.id, n")],
            texts={c: f"{title}\n{text}" if title else text for c, title, text in self._rows(
                "MATCH (c:Chunk)-[:PART_OF]->(d:Document) RETURN c.id, d.title, c.text")},
        )

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        found: dict[str, Chunk] = {}
        for part in cy.batches(list(dict.fromkeys(ids)), self.batch_size):
            for (p,) in self._rows(f"UNWIND $ids AS i MATCH (c:Chunk {{id: i}}) RETURN c {CHUNK_FIELDS}",
                                   {"ids": list(part)}):
                found[p["id"]] = chunk_from(p)
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    def list_documents(self, offset: int = 0, limit: int = 100) -> list[Document]:
        """One page of the stored documents, ordered by id (metadata only, like get_document)."""
        if limit <= 0:
            return []
        rows = self._rows("MATCH (d:Document) RETURN properties(d) ORDER BY d.id SKIP $o LIMIT $n",
                          {"o": max(0, int(offset)), "n": int(limit)})
        return [document_from(p) for (p,) in rows]

    def get_documents(self, ids: Sequence[str]) -> dict[str, Document]:
        out: dict[str, Document] = {}
        for part in cy.batches(sorted(set(ids)), self.batch_size):
            for (p,) in self._rows("UNWIND $ids AS i MATCH (d:Document {id: i}) RETURN properties(d)",
                                   {"ids": list(part)}):
                out[p["id"]] = document_from(p)
        return out

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: int(self._rows(q)[0][0]) for name, q in cy.STATS_QUERIES.items()}
        out["entity_types"] = dict(sorted((t, int(n)) for t, n in self._rows(cy.ENTITY_TYPES_QUERY)))
        out["relation_types"] = dict(sorted((t, int(n)) for t, n in self._rows(cy.RELATION_TYPES_QUERY)))
        return out

    def dump(self) -> dict[str, Any]:
        nodes = [{"labels": sorted(labels), "properties": dict(sorted(props.items()))}
                 for labels, props in self._rows(self._dump_nodes_query)]
        rels = [{"type": t, "start": a, "end": b, "properties": dict(sorted(props.items()))}
                for t, a, b, props in self._rows("MATCH (a)-[r]->(b) RETURN type(r), coalesce(a.id, a.key), "
                                                 "coalesce(b.id, b.key), properties(r)")]
        nodes.sort(key=lambda n: (n["labels"], str(n["properties"].get("id", n["properties"].get("key"))),
                                  cy.canonical_json(n)))
        rels.sort(key=lambda r: (r["type"], str(r["start"]), str(r["end"]), cy.canonical_json(r)))
        return {"nodes": nodes, "relationships": rels}

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError
