"""The Neo4j backend: a GraphStore on the official `neo4j` driver (Neo4j 5.23 or later, for the
scoped `CALL (i) { ... }` subquery of the many-vector search; community or enterprise, Aura).

Only the connection, the transactions and the error mapping live here; the statements are in
dialect.py, the write plans and reads in kg/stores/cypher_store.py.

- Reads run in managed READ transactions (`execute_read`, READ access mode: the server refuses
  a write there), writes in managed write transactions (`execute_write`); both retry transient
  errors (deadlocks, a leader switch) by running their function again, so a write plan is made
  afresh inside its transaction on every attempt.
- A write is one transaction: its plan's reads and its statements. It first writes the token
  node (dialect.LOCK), so kg writers take turns and a plan's reads stay true until it commits;
  statements over many rows go in slices of KG_WRITE_BATCH_SIZE (a large document's delete too),
  all in that one transaction.
- A user's query runs in a READ transaction with a timeout (the server stops it) and a row limit
  (the rest of the result is never fetched).
- Errors: an unreachable server is StoreUnavailable naming KG_NEO4J_URI; refused credentials
  name KG_NEO4J_USER / KG_NEO4J_PASSWORD. The password never appears in a message: it is
  given to the driver only, and any URI shown has its user information removed.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from typing import Any, Callable, Iterator, Mapping, TypeVar
from urllib.parse import unquote, urlsplit

import neo4j
from neo4j import exceptions as nx
from neo4j.graph import Node, Path, Relationship

from kg.errors import QueryLimitExceeded, ReadOnlyViolation, StoreError, StoreUnavailable
from kg.stores.cypher_store import DEFAULT_EMBEDDING_DIM, CypherStore, Vector, widening_search
from kg.stores.neo4j import dialect as d
from kg.stores.plans import WritePlan
from kg.stores.urls import NEO4J_SCHEMES as SCHEMES
from kg.stores.urls import redact

T = TypeVar("T")

CONNECTION_TIMEOUT_S = 10.0
_UNWIND = re.compile(r"\s*UNWIND \$([A-Za-z_][A-Za-z0-9_]*) AS ")
_TIMEOUT_CODES = ("Neo.ClientError.Transaction.TransactionTimedOut",
                  "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration")
_MEMORY_CODES = ("Neo.TransientError.General.MemoryPoolOutOfMemoryError",
                 "Neo.TransientError.General.TransactionMemoryLimit")


def plain(value: Any) -> Any:
    """Query results as JSON-serialisable data: nodes, relationships and paths become dicts
    (the same shapes as the embedded store's), temporal values ISO strings."""
    if isinstance(value, Node):
        return {"labels": sorted(value.labels), "properties": {k: plain(v) for k, v in value.items()}}
    if isinstance(value, Relationship):
        return {"type": value.type, "properties": {k: plain(v) for k, v in value.items()}}
    if isinstance(value, Path):
        return {"nodes": [plain(n) for n in value.nodes], "relationships": [plain(r) for r in value.relationships]}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "iso_format"):  # neo4j.time.Date, DateTime, Duration, ...
        return value.iso_format()
    return value


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _values(result: Any) -> list[list[Any]]:
    return [list(r.values()) for r in result]


def _by_vector(rows: list[list[Any]], count: int) -> list[list[tuple[Any, float]]]:
    """Rows (i, hit, Neo4j score) of a many-vector search as (hit, cosine) lists, one per query
    vector in order (empty where a vector had no hits); each list keeps the rows' order."""
    out: list[list[tuple[Any, float]]] = [[] for _ in range(count)]
    for i, hit, score in rows:
        out[int(i)].append((hit, d.cosine(score)))
    return out


class Neo4jStore(CypherStore):
    """GraphStore on Neo4j 5.

    Neo4jStore("bolt://localhost:7687", "neo4j", "secret")
    Neo4jStore.from_settings(get_settings())      # KG_NEO4J_URI / _USER / _PASSWORD / _DATABASE
    """

    _dump_nodes_query = d.DUMP_NODES.cypher  # the write token is bookkeeping, not graph data

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str | None = "neo4j",
        *,
        embedding_dim: int = DEFAULT_EMBEDDING_DIM,
        write_batch_size: int = 2000,
        query_timeout_ms: int = 10_000,
        query_max_rows: int = 10_000,
        query_max_chars: int = 20_000,
        query_max_depth: int = 12,
        driver: Any = None,
    ):
        self.uri = redact(uri)  # the only form of the URI this object keeps or shows
        self.database = database or None
        self.dim = embedding_dim
        self.batch_size = max(1, int(write_batch_size))
        self.query_timeout_ms = query_timeout_ms
        self.query_max_rows = query_max_rows
        self.query_max_chars = query_max_chars
        self.query_max_depth = query_max_depth
        self._local = threading.local()  # the write transaction a plan's reads go through
        self._driver = driver
        if driver is None:
            try:
                parts = urlsplit(uri)
            except ValueError:
                parts = None
            if parts is None or parts.scheme not in SCHEMES or "://" not in uri:
                raise StoreError(f"KG_NEO4J_URI {self.uri!r} is not a Neo4j address; use one of "
                                 f"{', '.join(s + '://' for s in SCHEMES)} (for example bolt://localhost:7687)")
            if parts.username:  # bolt://user:password@host: the URI's credentials win
                user, password = unquote(parts.username), unquote(parts.password or "")
            with self._errors():
                self._driver = neo4j.GraphDatabase.driver(self.uri, auth=(user, password), user_agent="kg",
                                                          connection_timeout=CONNECTION_TIMEOUT_S)
        try:
            with self._errors():
                self._driver.verify_connectivity()
            self._ensure_schema()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_settings(cls, settings: Any, embedding_dim: int = DEFAULT_EMBEDDING_DIM) -> "Neo4jStore":
        return cls(settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password.get_secret_value(),
                   settings.neo4j_database, embedding_dim=embedding_dim, write_batch_size=settings.write_batch_size,
                   query_timeout_ms=settings.query_timeout_ms, query_max_rows=settings.query_max_rows,
                   query_max_chars=settings.query_max_chars, query_max_depth=settings.query_max_depth)

    # ------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors as kg's one-line errors. Never inside a transaction function: the driver
        must see its own errors there to retry the transient ones."""
        try:
            yield
        except nx.AuthError as e:
            raise StoreError(f"Neo4j at {self.uri} refused the credentials (KG_NEO4J_USER / KG_NEO4J_PASSWORD): "
                             f"{_one_line(e.message or type(e).__name__)}") from None
        except (nx.ServiceUnavailable, nx.SessionExpired, nx.DatabaseUnavailable) as e:
            reason = _one_line(e)
            m = re.search(r"\(reason (.+)\)$", reason)
            raise StoreUnavailable(f"cannot reach Neo4j at {self.uri} (KG_NEO4J_URI): "
                                   f"{m.group(1) if m else reason}; is the server running?") from None
        except nx.Neo4jError as e:
            code, msg = e.code or "", _one_line(e.message or e)
            if code == "Neo.ClientError.Statement.AccessMode" or "read access mode" in msg.lower():
                raise ReadOnlyViolation("this query writes to the graph; only read-only queries are allowed") from None
            if code in _TIMEOUT_CODES:
                raise QueryLimitExceeded("the query ran past its time limit (KG_QUERY_TIMEOUT_MS); "
                                         "narrow it or add a LIMIT") from None
            if code in _MEMORY_CODES:
                raise QueryLimitExceeded("the query needed more memory than the server allows a transaction; "
                                         "narrow it or add a LIMIT") from None
            if code == "Neo.ClientError.Database.DatabaseNotFound":
                raise StoreError(f"Neo4j at {self.uri} has no database {self.database!r} (KG_NEO4J_DATABASE)") from None
            raise StoreError(f"query failed: {msg}") from None
        except nx.ConfigurationError as e:
            raise StoreError(f"KG_NEO4J_URI {self.uri!r}: {_one_line(e)}") from None
        except nx.DriverError as e:
            raise StoreUnavailable(f"Neo4j at {self.uri} (KG_NEO4J_URI): {_one_line(e)}") from None

    def _session(self, access_mode: str):
        return self._driver.session(database=self.database, default_access_mode=access_mode)

    def _read(self, work: Callable[..., T], *args: Any) -> T:
        with self._errors(), self._session(neo4j.READ_ACCESS) as s:
            return s.execute_read(work, *args)

    def _write(self, work: Callable[..., T], *args: Any) -> T:
        with self._errors(), self._session(neo4j.WRITE_ACCESS) as s:
            return s.execute_write(work, *args)

    def _rows(self, q: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        p = d.encode(dict(params or {}))
        tx = getattr(self._local, "tx", None)
        if tx is not None:  # a write plan's read: in the plan's own transaction
            return _values(tx.run(q, p))
        return self._read(lambda t: _values(t.run(q, p)))

    def _slices(self, q: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """A statement's parameters, its UNWIND list cut into slices of batch_size rows."""
        m = _UNWIND.match(q)
        rows = params.get(m.group(1)) if m else None
        if not isinstance(rows, list) or len(rows) <= self.batch_size:
            yield dict(params)
            return
        for i in range(0, len(rows), self.batch_size):
            yield {**params, m.group(1): rows[i:i + self.batch_size]}

    def _transaction(self, plan: Callable[[WritePlan], T]) -> T:
        """Plan and apply a write in one transaction (see the module docstring)."""
        def work(tx: Any) -> T:
            tx.run(d.LOCK.cypher, d.LOCK.params).consume()
            write = WritePlan()
            self._local.tx = tx
            try:
                result = plan(write)
            finally:
                self._local.tx = None
            for q, params in write.statements:
                for part in self._slices(q, params):
                    tx.run(q, d.encode(part)).consume()
            if write.statements:
                tx.run(d.BUMP_GENERATION.cypher, d.BUMP_GENERATION.params).consume()
            return result

        return self._write(work)

    def _ensure_schema(self) -> None:
        """Constraints and indexes; each statement is a no-op when it exists. An existing graph
        keeps the vector dimension it was created with."""
        dims = self._rows(d.VECTOR_DIMENSIONS.cypher, d.VECTOR_DIMENSIONS.params)
        if dims and dims[0][0]:
            self.dim = int(dims[0][0])
        for st in d.schema_statements(self.dim):
            self._write(lambda tx, q=st.cypher: tx.run(q).consume())  # schema changes: one transaction each
        self._write(lambda tx: tx.run(d.AWAIT_INDEXES.cypher).consume())

    # ------------------------------------------------------------------ dialect

    def _entity_statement(self, label: str) -> str:
        return d.entity_statement(label).cypher

    def _nearest_entities(self, vector: Vector, k: int, type: str | None,
                          with_embedding: bool = True) -> list[tuple[dict[str, Any], float]]:
        return self._nearest_entities_many([vector], k, [type], None, with_embedding)[0]

    def _nearest_entities_many(self, vectors: list[Vector], k: int, types: list[str | None],
                               min_score: float | None, with_embedding: bool = True
                               ) -> list[list[tuple[dict[str, Any], float]]]:
        st = d.nearest_entities(with_embedding)

        def ask(todo: list[int], ns: list[int]) -> list[tuple[list[tuple[dict[str, Any], float]], float | None]]:
            rows = self._rows(st.cypher, {"vs": [vectors[i] for i in todo], "ts": [types[i] for i in todo],
                                          "ns": ns, "k": k})
            # the statement returns the kept hits only: the lowest of them bounds the candidates' from
            # above; a typed vector with none kept may still find some (1.0: ask again while any are
            # left), an untyped one kept every candidate there was (None)
            return [(got, min(s for _, s in got) if got else (None if types[i] is None else 1.0))
                    for i, got in zip(todo, _by_vector(rows, len(todo)))]

        # the type filter runs on the index's candidates: a typed vector asks for more than it keeps
        hits = widening_search(ask, [k if t is None else max(4 * k, 50) for t in types], k,
                               lambda: sum(int(r[0]) for r in self._rows(d.COUNT_ENTITY_VECTORS.cypher)), min_score)
        return [[(p, s) for p, s in h if min_score is None or s >= min_score] for h in hits]

    def _nearest_chunks(self, vector: Vector, n: int, scored: bool = False) -> list:
        rows = self._rows(d.nearest_chunks(ids_only=False).cypher, {"n": n, "v": vector})
        return [(p, d.cosine(s)) if scored else p for p, s in rows]

    def _nearest_chunk_ids(self, vector: Vector, n: int) -> list[tuple[str, float]]:
        return [(cid, d.cosine(s)) for cid, s in self._rows(d.nearest_chunks(ids_only=True).cypher,
                                                            {"n": n, "v": vector})]

    def _nearest_phrases(self, vector: Vector, k: int) -> list[tuple[str, float]]:
        return self._nearest_phrases_many([vector], k)[0]

    def _nearest_phrases_many(self, vectors: list[Vector], k: int) -> list[list[tuple[str, float]]]:
        return _by_vector(self._rows(d.NEAREST_PHRASES.cypher, {"n": k, "vs": vectors}), len(vectors))

    def _fulltext_chunks(self, words: list[str], n: int, scored: bool = False, with_text: bool = True) -> list:
        rows = self._rows(d.fulltext_chunks(with_text).cypher, {"q": d.fulltext_query(words), "n": n})
        return [(p, float(s)) if scored else p for p, s in rows]

    def generation(self) -> str:
        rows = self._rows(d.READ_GENERATION.cypher, d.READ_GENERATION.params)
        return str(rows[0][0]) if rows and rows[0][0] else "0"

    def _run_user_query(self, cypher: str, params: Mapping[str, Any] | None, read_only: bool,
                        timeout_ms: int | None, limit: int | None) -> list[dict[str, Any]]:
        p = d.encode(dict(params or {}))

        def work(tx: Any) -> list[dict[str, Any]]:
            records = tx.run(cypher, p)
            # the rows past the limit are never fetched
            return [{k: plain(v) for k, v in r.items()} for r in itertools.islice(records, limit)]

        if timeout_ms:
            work = neo4j.unit_of_work(timeout=timeout_ms / 1000)(work)
        if read_only:
            return self._read(work)

        def write(tx: Any) -> list[dict[str, Any]]:
            rows = work(tx)
            tx.run(d.BUMP_GENERATION.cypher, d.BUMP_GENERATION.params).consume()
            return rows

        return self._write(write)

    def clear(self) -> None:
        """Delete every node, a slice per transaction; constraints and indexes stay."""
        while self._write(lambda tx: tx.run(d.CLEAR_SLICE.cypher, d.CLEAR_SLICE.params).single()[0]):
            pass
        self._write(lambda tx: tx.run(d.BUMP_GENERATION.cypher, d.BUMP_GENERATION.params).consume())

    def close(self) -> None:
        driver, self._driver = getattr(self, "_driver", None), None
        if driver is not None:
            driver.close()
