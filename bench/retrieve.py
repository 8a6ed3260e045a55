"""Latency of a graph retrieve call on a large graph, built synthetically.

Writes a graph of --entities entities (default 100,000) straight into a fresh embedded store:
chunks of generated text, each mentioning a few entities and naming a few phrases, relations
between entities, random unit vectors for chunks, entities and phrases (latency does not
depend on what the vectors mean). Then asks --questions questions that name some of those
entities, through the real Retriever (real NER, noun phrases and question embedding, the
store's vector indexes, personalised PageRank on the cached sparse graph), and prints p50/p95
of a call and of each stage (question: NER, noun phrases and embedding; dense; fulltext;
linking: the phrases' store lookups; ranking: PageRank and fusion; assembly: passages, entities,
facts and the context), once per --repeat, with the machine's load average.

    .venv/bin/python bench/retrieve.py [--entities 100000] [--questions 100] [--data-dir DIR] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg.config import Settings  # noqa: E402
from kg.retrieval import Retriever  # noqa: E402
from kg.stores.falkordb.store import FalkorDBStore  # noqa: E402
from kg.types import Chunk, Document, Entity, GraphBatch, MentionLink, Phrase, RelationLink  # noqa: E402

FIRST = ["Ada", "Bela", "Cyrus", "Dana", "Elio", "Fara", "Gus", "Hana", "Ivo", "Juno", "Kai", "Lena", "Milo", "Nia"]
LAST = ["Arden", "Brook", "Castell", "Dorn", "Ellery", "Frost", "Grady", "Hale", "Ives", "Joss", "Keane", "Lowry"]
PLACES = ["Vell", "Quen", "Harl", "Amber", "Zor", "Tall", "Mor", "Ost", "Pell", "Rin"]
SUFFIX = ["mora", "ia", "ow Bay", "ford", "bridge", "haven", "stad", "wick"]
RELATIONS = ["WORKS_FOR", "LIVES_IN", "BORN_IN", "BASED_IN", "MEMBER_OF"]


def unit(rng: np.random.Generator, n: int, dim: int = 384) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def entity_name(i: int) -> tuple[str, str]:
    kind = i % 3
    if kind == 0:
        return f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i}", "Person"
    if kind == 1:
        return f"{PLACES[i % len(PLACES)]}{SUFFIX[(i // len(PLACES)) % len(SUFFIX)]} {i}", "Location"
    return f"Company {i} Industries", "Organization"


def build(store: FalkorDBStore, n_entities: int, rng: np.random.Generator, per_chunk: int = 4) -> dict[str, int]:
    n_chunks = n_entities * 3 // per_chunk  # each entity mentioned about 3 times
    n_phrases = n_entities
    ent_vecs = unit(rng, n_entities)
    phrase_vecs = unit(rng, n_phrases)
    written_phrases: set[int] = set()
    order = rng.permutation(n_entities)  # the first two mentions of each chunk walk it: every entity is mentioned
    batch_chunks = 500
    t0 = time.perf_counter()
    for start in range(0, n_chunks, batch_chunks):
        ids = range(start, min(n_chunks, start + batch_chunks))
        vecs = unit(rng, len(ids))
        docs, chunks, mentions, entities, relations, phrases = [], [], [], {}, [], []
        for j, ci in enumerate(ids):
            ents = rng.integers(0, n_entities, per_chunk)
            ents[:2] = order[(2 * ci) % n_entities], order[(2 * ci + 1) % n_entities]
            names = [entity_name(int(e))[0] for e in ents]
            text = ". ".join(f"{names[k]} is linked to {names[(k + 1) % per_chunk]}" for k in range(per_chunk)) + "."
            doc_id, chunk_id = f"d{ci}", f"d{ci}:0"
            keys = [int(k) for k in rng.integers(0, n_phrases, 4)]
            docs.append(Document(doc_id, text, title=f"Note {ci}", sha256=doc_id))
            chunks.append(Chunk(chunk_id, doc_id, 0, text, 0, len(text), embedding=vecs[j].tolist(),
                                phrases=[f"phrase {k}" for k in keys]))
            for k in keys:
                if k not in written_phrases:
                    written_phrases.add(k)
                    phrases.append(Phrase(f"phrase {k}", phrase_vecs[k].tolist()))
            pos = 0
            for e, name in zip(ents, names):
                e = int(e)
                s = text.index(name, pos)
                mentions.append(MentionLink(f"e{e}", chunk_id, s, s + len(name), name))
                if e not in entities:
                    entities[e] = Entity(f"e{e}", name, entity_name(e)[1], [name], ent_vecs[e].tolist())
            for a, b in zip(ents[:-1], ents[1:]):
                if a != b:
                    relations.append(RelationLink(f"e{int(a)}", f"e{int(b)}", RELATIONS[int(a) % len(RELATIONS)],
                                                  0.9, "bench", [chunk_id], [(0, len(text))]))
        store.upsert(GraphBatch(documents=docs, chunks=chunks, entities=list(entities.values()),
                                mentions=mentions, relations=relations, phrases=phrases))
        if (start // batch_chunks) % 20 == 0:
            print(f"  {start + len(ids):,}/{n_chunks:,} chunks written ({time.perf_counter() - t0:.0f}s)",
                  flush=True)
    return store.stats()


STAGES = ("question", "dense", "fulltext", "linking", "ranking", "assembly")


def measure(retriever: Retriever, questions: list[str], label: str) -> None:
    """Every question once: p50/p95 of a call and of each stage, with the machine's load."""
    load = os.getloadavg()[0]
    times, stages = [], {s: [] for s in STAGES}
    for q in questions:
        laps: dict[str, float] = {}
        t = time.perf_counter()
        result = retriever.retrieve(q, k=5, timings=laps)
        times.append(1000 * (time.perf_counter() - t))
        assert result.passages
        for s in STAGES:
            stages[s].append(laps.get(s, 0.0))

    def p95(xs: list[float]) -> float:
        return statistics.quantiles(xs, n=20)[-1]

    print(f"{label}: retrieve (graph, k=5) over {len(times)} questions: p50 {statistics.median(times):.1f} ms, "
          f"p95 {p95(times):.1f} ms (load average {load:.2f} before, {os.getloadavg()[0]:.2f} after, "
          f"{os.cpu_count()} CPUs)")
    print("  stage p50/p95 ms: " + ", ".join(f"{s} {statistics.median(v):.1f}/{p95(v):.1f}" for s, v in stages.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2, help="ask the questions this many times, one line each")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="keep the synthetic graph here and reuse it next time (default: a temporary dir)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="kg-retrieve-bench-") as tmp:
        store = FalkorDBStore(args.data_dir or Path(tmp) / "kg", f"bench-{args.entities}-{args.seed}")
        try:
            t0 = time.perf_counter()
            stats = store.stats()
            if stats["chunks"] == 0:
                stats = build(store, args.entities, rng)
            print(f"graph: {stats['entities']:,} entities, {stats['chunks']:,} chunks, {stats['mentions']:,} mentions, "
                  f"{stats['relations']:,} relations, built in {time.perf_counter() - t0:.0f}s")
            retriever = Retriever.from_settings(Settings(), store)
            t0 = time.perf_counter()
            graph = retriever.graph()
            print(f"retrieval graph: {graph.size:,} nodes, {graph.transition.nnz:,} edges, "
                  f"built in {time.perf_counter() - t0:.1f}s (once per graph change)")
            picker = random.Random(args.seed)
            questions = []
            for _ in range(args.questions):
                a, b = (entity_name(picker.randrange(args.entities))[0] for _ in range(2))
                questions.append(f"How is {a} connected to {b}?")
            for q in questions[:5]:  # warm-up: models, caches
                retriever.retrieve(q, k=5)
            for n in range(1, args.repeat + 1):
                measure(retriever, questions, f"run {n}/{args.repeat}")
            print(f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
