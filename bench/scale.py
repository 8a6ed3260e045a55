"""Does ingest cost stay flat as the graph grows?

1. musique: the 1,890 MuSiQue passages (../shared/datasets/musique_subset) ingested in six
   equal slices into one store; per slice, words/s of the whole ingest, the graph's size
   after it, and the seconds of resolution and writes per document. Target: the last slice
   at least 85% of the first slice's words/s.
2. synthetic: generated extraction results (names from syllables, 3 chunks and ~16
   mentions a document, a third of them names seen before) loaded through the real
   resolver and store, with a hashed embedder (a name's vector is a function of the name;
   same-type names lean the same way, as real ones do), until the graph holds --entities
   entities. Per step: resolution and write seconds per document, and the FalkorDB
   server's RSS per 1k entities. No model runs, so only the store-facing cost is measured.
   With --profile-writes, each write's statements are sent one by one (not atomically: a
   bench only) and timed, so a step also gives ms/doc per statement kind: which writes grow.
3. stream (--part stream): a generated .jsonl of --stream-mb MB read and batched as an ingest
   reads it, with the process's peak RSS before and after.

    .venv/bin/python bench/scale.py [--part musique|synthetic|both] [--slices 6] [--limit N]
        [--entities 100000] [--profile-writes] [--json]
    .venv/bin/python bench/scale.py --part stream [--stream-mb 1000]   # peak memory of reading a big .jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg.config import Settings  # noqa: E402
from kg.pipeline import IngestReport, Pipeline  # noqa: E402
from kg.resolve import EntityResolver  # noqa: E402
from kg.stores.factory import open_store  # noqa: E402
from kg.stores.falkordb.store import FalkorDBStore, _one_query  # noqa: E402
from kg.stores.plans import WritePlan  # noqa: E402
from kg.types import Chunk, Document, ExtractionResult, Mention, Relation  # noqa: E402


def server_rss_mb(store) -> float:
    with open(f"/proc/{store.server.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def per_doc(report: IngestReport, stage: str, docs: int) -> float:
    return report.stage_seconds.get(stage, 0.0) / max(docs, 1)


def musique(settings: Settings, slices: int, limit: int = 0) -> list[dict]:
    from kg.retrieval.evaluation import load_retrieval_dataset

    docs = list(load_retrieval_dataset(settings.datasets_dir / "musique_subset").documents)[: limit or None]
    store = open_store(settings)
    pipeline = Pipeline.from_settings(settings, store)
    pipeline.extract(docs[:2])  # warm-up
    out = []
    size = -(-len(docs) // slices)
    for s in range(slices):
        part = docs[s * size:(s + 1) * size]
        t = time.perf_counter()
        report = pipeline.ingest(part, progress=False)
        dt = time.perf_counter() - t
        stats = store.stats()
        row = {"slice": s + 1, "documents": len(part), "words": report.words,
               "words_per_s": round(report.words / dt), "seconds": round(dt, 1),
               "entities": stats["entities"], "relations": stats["relations"],
               "resolution_ms_per_doc": round(1000 * per_doc(report, "resolution", len(part)), 2),
               "writes_ms_per_doc": round(1000 * per_doc(report, "writes", len(part)), 2),
               "stage_seconds": {k: round(v, 2) for k, v in report.stage_seconds.items()},
               "load": round(os.getloadavg()[0], 2)}
        out.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    store.close()
    return out


class HashedEmbedder:
    """A vector per text from its hash; texts of one `lean` share a direction (cosine ~0.3)."""

    dim, name = 384, "hashed"

    def __init__(self) -> None:
        self.lean: dict[str, np.ndarray] = {}

    def _unit(self, seed: str) -> np.ndarray:
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little"))
        v = rng.standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = self._unit(t) + 0.6 * self._unit("lean:" + t[:2])
            out[i] = v / np.linalg.norm(v)
        return out


SYLLABLES = [a + b for a in "bdfgklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en", "ol")]
TYPES = ["Person", "Organization", "Location", "Event", "WorkOfArt"]


def synthetic_docs(rng: random.Random, start: int, n: int, seen: list[tuple[str, str]]) -> list[ExtractionResult]:
    out = []
    for d in range(start, start + n):
        doc = Document(f"syn-{d}", "", title=f"Synthetic {d}", sha256=f"{d:064x}")
        chunks, mentions, relations, text = [], [], [], ""
        for c in range(3):
            names = []
            for _ in range(rng.randint(4, 7)):
                if seen and rng.random() < 0.33:
                    names.append(rng.choice(seen))
                else:
                    name = " ".join(rng.choice(SYLLABLES).capitalize() + rng.choice(SYLLABLES)
                                    for _ in range(rng.randint(2, 3)))
                    names.append((name, rng.choice(TYPES)))
                    seen.append(names[-1])
            start_c, ms = len(text), []
            for k, (name, type_) in enumerate(names):
                text += (" and " if k else "") + name
                ms.append(Mention(name, type_, len(text) - len(name), len(text)))
            text += " met."
            chunks.append(Chunk(f"{doc.id}:{c}", doc.id, c, text[start_c:], start_c, len(text)))
            text += " "
            mentions.append(ms)
            # two facts a chunk, so relation writes grow with the graph too
            relations.append([Relation(0, 1, "IS_PART_OF", 0.8, start_c, len(text) - 1, "synthetic"),
                              Relation(2, 3, "IS_PART_OF", 0.7, start_c, len(text) - 1, "synthetic")])
        doc.text = text
        out.append(ExtractionResult(doc, chunks, mentions, relations))
    return out


def statement_kind(q: str) -> str:
    """A short name for a write statement: its first clauses, labels and properties kept, the
    parameters' names dropped ("UNWIND MERGE (e:Person {id}) SET ...")."""
    words = re.sub(r"\$\w+|\bAS \w+|\b[a-z]\.", "", q).split()
    labels = re.findall(r"SET \w+:`?(\w+)", q)  # the entity statement sets its type's label
    return " ".join(words[:7]) + "".join(f" ... :{label}" for label in labels)


def profile_writes(store: FalkorDBStore, seconds: dict[str, float]) -> None:
    """Make store send each write's statements one at a time, adding each one's seconds to
    seconds[statement_kind]. Not atomic: for this bench only."""
    def transaction(plan):
        with store._write_lock():
            write = WritePlan()
            result = plan(write)
            for q, params in write.statements:
                one = WritePlan()
                one.add(q, params)
                t = time.perf_counter()
                store._send(_one_query(one), read_only=False)
                kind = statement_kind(q)
                seconds[kind] = seconds.get(kind, 0.0) + time.perf_counter() - t
            return result

    store._transaction = transaction


def synthetic(settings: Settings, target: int, step_docs: int, profile: bool = False) -> list[dict]:
    store = open_store(settings)
    statement_seconds: dict[str, float] = {}
    if profile:
        profile_writes(store, statement_seconds)
    embedder = HashedEmbedder()
    pipeline = Pipeline.from_settings(settings, store)  # real models loaded, but only its loader runs
    pipeline.embedder = embedder
    pipeline.resolver = EntityResolver(embedder, settings.resolve_threshold, schema=pipeline.schema)
    pipeline.resolver.stages = pipeline.stages
    rng, seen, out, d, entities = random.Random(0), [], [], 0, 0
    per_batch = 50  # documents per write, about what 50,000 characters of passages make
    while entities < target:
        report = IngestReport()
        before = pipeline.stages.snapshot()
        statement_seconds.clear()
        t = time.perf_counter()
        for k in range(0, step_docs, per_batch):  # a step of under 50 documents is one write
            n = min(per_batch, step_docs - k)
            results = synthetic_docs(rng, d, n, seen)
            d += n
            with pipeline.write_lock:
                pipeline.load(results, report)
        dt = time.perf_counter() - t
        report.stage_seconds = pipeline.stages.since(before, pipeline.stages.snapshot())
        entities = store.stats()["entities"]
        rss = server_rss_mb(store)
        row = {"documents": d, "entities": entities, "seconds": round(dt, 2),
               "resolution_ms_per_doc": round(1000 * per_doc(report, "resolution", step_docs), 2),
               "writes_ms_per_doc": round(1000 * per_doc(report, "writes", step_docs), 2),
               "embeddings_ms_per_doc": round(1000 * per_doc(report, "embeddings", step_docs), 2),
               "server_rss_mb": round(rss), "server_mb_per_1k_entities": round(1000 * rss / max(entities, 1), 2),
               "load": round(os.getloadavg()[0], 2)}
        if profile:
            row["statements_ms_per_doc"] = {k: round(1000 * v / step_docs, 3) for k, v in
                                            sorted(statement_seconds.items(), key=lambda kv: -kv[1])}
        out.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    store.close()
    return out


def stream(settings: Settings, megabytes: int, directory: Path) -> dict:
    """Read a generated .jsonl of `megabytes` MB through the ingest's reader and batcher (no
    models): the process's peak RSS grows by about one batch, not by the file."""
    import resource

    from kg.documents import read_inputs
    from kg.retrieval.evaluation import load_retrieval_dataset

    passages = [{"title": d.title, "text": d.text}
                for d in load_retrieval_dataset(settings.datasets_dir / "musique_subset").documents]
    path, size, n = directory / "big.jsonl", 0, 0
    with path.open("w", encoding="utf-8") as f:
        while size < megabytes * 1_000_000:
            line = json.dumps({"id": f"p{n}", **passages[n % len(passages)]}) + "\n"
            f.write(line)
            size, n = size + len(line.encode()), n + 1
    pipeline = Pipeline.__new__(Pipeline)  # only its batcher: no models, no store
    pipeline.batch_chars = settings.ingest_batch_chars
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t, docs, biggest = time.perf_counter(), 0, 0
    report = IngestReport()
    for batch in pipeline._batches(read_inputs([str(path)], settings.max_file_bytes), report):
        docs += len(batch)
        biggest = max(biggest, sum(len(d.text) for d in batch))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path.unlink()
    row = {"file_mb": round(size / 1e6), "documents": docs, "errors": len(report.errors),
           "largest_batch_chars": biggest, "read_seconds": round(time.perf_counter() - t, 1),
           "peak_rss_mb_before": round(before), "peak_rss_mb_after": round(peak)}
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["musique", "synthetic", "stream", "both"], default="both",
                    help="both: musique and synthetic")
    ap.add_argument("--stream-mb", type=int, default=1000, help="size of the generated .jsonl for --part stream")
    ap.add_argument("--slices", type=int, default=6)
    ap.add_argument("--limit", type=int, default=0, help="musique: only the first N passages (a quick check)")
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--step-docs", type=int, default=1000, help="synthetic documents per reported step (1 or more)")
    ap.add_argument("--profile-writes", action="store_true",
                    help="synthetic: time each write statement on its own (statements sent one by one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.step_docs < 1 or args.entities < 1 or args.slices < 1:
        ap.error("--step-docs, --entities and --slices take 1 or more")
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="kg-scale-") as tmp:
        if args.part in ("musique", "both"):
            rows = musique(Settings(data_dir=Path(tmp) / "musique"), args.slices, args.limit)
            results["musique"] = rows
            results["musique_last_over_first"] = round(rows[-1]["words_per_s"] / rows[0]["words_per_s"], 3)
        if args.part in ("synthetic", "both"):
            results["synthetic"] = synthetic(Settings(data_dir=Path(tmp) / "synthetic"), args.entities,
                                             args.step_docs, args.profile_writes)
        if args.part == "stream":
            results["stream"] = stream(Settings(data_dir=Path(tmp) / "stream"), args.stream_mb, Path(tmp))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if "stream" in results:
        r = results["stream"]
        print(f"streamed a {r['file_mb']} MB .jsonl ({r['documents']} documents) in {r['read_seconds']} s: peak RSS "
              f"{r['peak_rss_mb_before']} MB before, {r['peak_rss_mb_after']} MB after; largest batch "
              f"{r['largest_batch_chars']} characters")
    if "musique" in results:
        print("musique_subset in slices into one store (whole ingest):")
        for r in results["musique"]:
            print(f"  slice {r['slice']}: {r['words_per_s']:>6} words/s, graph {r['entities']:>6} entities; "
                  f"resolution {r['resolution_ms_per_doc']:6.2f} ms/doc, writes {r['writes_ms_per_doc']:6.2f} ms/doc "
                  f"(load {r['load']})")
        print(f"  last slice / first: {results['musique_last_over_first']:.2f} (target >= 0.85)")
    if "synthetic" in results:
        print("synthetic documents toward the entity target (resolution and writes only):")
        for r in results["synthetic"]:
            print(f"  {r['entities']:>7} entities: resolution {r['resolution_ms_per_doc']:6.2f} ms/doc, writes "
                  f"{r['writes_ms_per_doc']:6.2f} ms/doc; server RSS {r['server_rss_mb']} MB = "
                  f"{r['server_mb_per_1k_entities']} MB per 1k entities")
            for kind, ms in r.get("statements_ms_per_doc", {}).items():
                print(f"      {ms:7.3f} ms/doc  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
