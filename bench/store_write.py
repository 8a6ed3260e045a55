"""Embedded store (FalkorDB) write throughput and vector-index recall.

1. MERGE throughput in UNWIND batches: entity nodes (with and without a 384-d
   vector), relationships between existing nodes, and FalkorDBStore.upsert of
   whole batches (documents, chunks, entities, mentions, relations).
2. recall@10 of the HNSW vector index against brute force, per efRuntime, on
   random unit vectors (a hard case for HNSW: no cluster structure).

    .venv/bin/python bench/store_write.py [--nodes 20000] [--vectors 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg.stores.falkordb.server import FalkorDBServer  # noqa: E402
from kg.stores.falkordb.store import FalkorDBStore, Vector  # noqa: E402
from kg.types import Chunk, Document, Entity, GraphBatch, MentionLink, RelationLink  # noqa: E402

DIM = 384


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


class _Graph:
    """Raw Cypher through the store's own parameter encoding (what upsert() pays)."""

    def __init__(self, srv: FalkorDBServer):
        self.store = FalkorDBStore(server=srv, graph_name=f"bench_{uuid.uuid4().hex[:8]}")

    def query(self, q: str, params: dict | None = None) -> list[dict]:
        return self.store.query(q, params, read_only=False)

    def delete(self) -> None:
        self.store._g.delete()
        self.store.close()


def merge_throughput(srv: FalkorDBServer, n: int, batch: int, rng: np.random.Generator) -> dict[str, float]:
    g = _Graph(srv)
    out: dict[str, float] = {"batch": batch}
    try:
        t = time.perf_counter()
        for s in range(0, n, batch):
            rows = [{"id": f"e{i}", "name": f"name {i}", "aliases": [f"name {i}"]} for i in range(s, min(n, s + batch))]
            g.query("UNWIND $rows AS r MERGE (e:Entity {id: r.id}) SET e.name = r.name, e.aliases = r.aliases",
                    {"rows": rows})
        out["nodes_per_s"] = n / (time.perf_counter() - t)

        t = time.perf_counter()  # the same MERGE again: every node exists, only matched and set
        for s in range(0, n, batch):
            rows = [{"id": f"e{i}", "name": f"name {i}", "aliases": [f"name {i}"]} for i in range(s, min(n, s + batch))]
            g.query("UNWIND $rows AS r MERGE (e:Entity {id: r.id}) SET e.name = r.name, e.aliases = r.aliases",
                    {"rows": rows})
        out["nodes_remerge_per_s"] = n / (time.perf_counter() - t)

        heads, tails = rng.integers(0, n, n), rng.integers(0, n, n)
        t = time.perf_counter()
        for s in range(0, n, batch):
            rows = [{"h": f"e{heads[i]}", "t": f"e{tails[i]}", "c": 0.5} for i in range(s, min(n, s + batch))]
            g.query("UNWIND $rows AS r MATCH (h:Entity {id: r.h}) MATCH (t:Entity {id: r.t}) "
                    "MERGE (h)-[x:RELATED_TO]->(t) SET x.confidence = r.c, x.sources = ['c']", {"rows": rows})
        out["rels_per_s"] = n / (time.perf_counter() - t)

        nv = min(n, 5000)
        vecs = _unit(rng, nv)
        t = time.perf_counter()
        for s in range(0, nv, batch):
            rows = [{"id": f"v{i}", "v": Vector(vecs[i].tolist())} for i in range(s, min(nv, s + batch))]
            g.query("UNWIND $rows AS r MERGE (e:Entity {id: r.id}) SET e.embedding = vecf32(r.v)", {"rows": rows})
        out["vector_nodes_per_s"] = nv / (time.perf_counter() - t)
    finally:
        g.delete()
    return out


def upsert_throughput(srv: FalkorDBServer, docs: int, rng: np.random.Generator) -> dict[str, float]:
    """Whole-batch upserts shaped like the pipeline's: 3 chunks, 8 entities, 12 mentions, 4 relations per doc."""
    store = FalkorDBStore(server=srv, graph_name=f"bench_{uuid.uuid4().hex[:8]}")
    try:
        batch = GraphBatch()
        for d in range(docs):
            batch.documents.append(Document(f"d{d}", "", sha256=str(d)))
            for c in range(3):
                batch.chunks.append(Chunk(f"d{d}:{c}", f"d{d}", c, f"text of chunk {c} of doc {d}", c * 100,
                                          c * 100 + 99, embedding=_unit(rng, 1)[0].tolist()))
            ents = [f"ent{int(x)}" for x in rng.integers(0, docs * 4, 8)]  # shared across documents
            for e in ents:
                batch.entities.append(Entity(e, e, "Person", [e], _unit(rng, 1)[0].tolist()))
            for m in range(12):
                batch.mentions.append(MentionLink(ents[m % 8], f"d{d}:{m % 3}", m * 10, m * 10 + 5, "x"))
            for r in range(4):
                batch.relations.append(RelationLink(ents[r], ents[r + 4], "WORKS_FOR", 0.7, "bench",
                                                    [f"d{d}:{r % 3}"], [(0, 10)]))
        t = time.perf_counter()
        per = 50  # documents per upsert call, as the pipeline sends them
        for s in range(0, docs, per):
            ids = {f"d{d}" for d in range(s, s + per)}
            store.upsert(GraphBatch(
                [x for x in batch.documents if x.id in ids], [x for x in batch.chunks if x.doc_id in ids],
                batch.entities[s * 8:(s + per) * 8], batch.mentions[s * 12:(s + per) * 12],
                batch.relations[s * 4:(s + per) * 4]))
        dt = time.perf_counter() - t
        return {"docs": docs, "docs_per_s": docs / dt, "seconds": dt}
    finally:
        store._g.delete()
        store.close()


def recall(srv: FalkorDBServer, n: int, queries: int, efs: list[int], rng: np.random.Generator) -> list[dict[str, float]]:
    vecs = _unit(rng, n)
    qs = _unit(rng, queries)
    truth = np.argsort(-(qs @ vecs.T), axis=1)[:, :10]
    out = []
    for ef in efs:
        g = _Graph(srv)
        try:
            g.query(f"CREATE VECTOR INDEX FOR (n:V) ON (n.embedding) OPTIONS "
                    f"{{dimension:{DIM}, similarityFunction:'cosine', efRuntime:{ef}}}")
            t = time.perf_counter()
            for s in range(0, n, 500):
                g.query("UNWIND $rows AS r CREATE (:V {i: r.i, embedding: vecf32(r.v)})",
                        {"rows": [{"i": i, "v": Vector(vecs[i].tolist())} for i in range(s, min(n, s + 500))]})
            build = time.perf_counter() - t
            hits, t = 0, time.perf_counter()
            for qi in range(queries):
                rows = g.store.query("CALL db.idx.vector.queryNodes('V', 'embedding', 10, vecf32($v)) YIELD node "
                                     "RETURN node.i AS i", {"v": Vector(qs[qi].tolist())})
                hits += len({r["i"] for r in rows} & set(truth[qi].tolist()))
            ms = (time.perf_counter() - t) / queries * 1000
            out.append({"efRuntime": ef, "recall_at_10": hits / (10 * queries), "query_ms": ms, "insert_s": build})
        finally:
            g.delete()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=20000)
    ap.add_argument("--docs", type=int, default=500)
    ap.add_argument("--vectors", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--efs", default="10,50,100,200,400")
    ap.add_argument("--batches", default="500,2000,5000")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="kg-bench-") as tmp, FalkorDBServer(Path(tmp)) as srv:
        results["merge"] = [merge_throughput(srv, args.nodes, int(b), rng) for b in args.batches.split(",")]
        results["upsert"] = upsert_throughput(srv, args.docs, rng)
        results["recall"] = recall(srv, args.vectors, args.queries, [int(e) for e in args.efs.split(",")], rng)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"MERGE throughput ({args.nodes} nodes / relationships):")
    for m in results["merge"]:
        print(f"  batch {m['batch']:>5}: nodes {m['nodes_per_s']:8.0f}/s  re-merge {m['nodes_remerge_per_s']:8.0f}/s  "
              f"rels {m['rels_per_s']:8.0f}/s  nodes+384-d vector {m['vector_nodes_per_s']:6.0f}/s")
    u = results["upsert"]
    print(f"FalkorDBStore.upsert: {u['docs']} docs in {u['seconds']:.1f}s = {u['docs_per_s']:.0f} docs/s")
    print(f"vector index recall@10 vs brute force ({args.vectors} random unit {DIM}-d vectors, {args.queries} queries):")
    for r in results["recall"]:
        print(f"  efRuntime {r['efRuntime']:>4}: recall@10 {r['recall_at_10']:.3f}  {r['query_ms']:.2f} ms/query  "
              f"(insert {r['insert_s']:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
