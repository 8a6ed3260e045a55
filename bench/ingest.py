"""Ingest throughput, where its time goes, and peak memory.

Reports words per second for extraction alone (chunk + NER + relations + phrases) and for
the whole ingest (extract, embed, resolve, load into a fresh embedded store), each the
median of --repeat runs in this one process, and the whole ingest's time per stage
(kg/timing.py: chunking, ner, relations, phrases, embeddings, resolution, writes; "other"
is the rest: normalising, offsets, batching). The targets of issue 13 are printed as ratios
measured in this run: resolution + writes <= 15% of the ingest, ingest >= 0.5x extraction.

    .venv/bin/python bench/ingest.py [--corpus FILE.jsonl | --dataset DIR] [--repeat 3] [--workers 1,2] [--limit N] [--turns] [--json]

--dataset takes a retrieval dataset directory (e.g. ../shared/datasets/musique_subset): its
passages are ingested as `kg eval retrieval` ingests them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg.config import REPO_ROOT, Settings  # noqa: E402
from kg.documents import read_inputs  # noqa: E402
from kg.pipeline import Pipeline  # noqa: E402
from kg.stores.factory import open_store  # noqa: E402
from kg.timing import STAGES  # noqa: E402


def load_corpus(corpus: str | None, dataset: str | None) -> tuple[str, list]:
    if dataset:
        from kg.retrieval.evaluation import load_retrieval_dataset

        ds = load_retrieval_dataset(Path(dataset))
        return ds.name, list(ds.documents)
    path = corpus or str(REPO_ROOT / "samples" / "wikipedia_passages.jsonl")
    return Path(path).name, [d for d in read_inputs([path], 10**9) if hasattr(d, "text")]


def breakdown(stage_runs: list[dict[str, float]], total: float) -> dict[str, float]:
    """Median seconds per stage over the runs, plus "other" (the ingest's time not in a stage)."""
    out = {s: statistics.median(r.get(s, 0.0) for r in stage_runs) for s in STAGES}
    out["other"] = max(0.0, total - sum(out.values()))
    return out


def with_workers(pipeline, store, settings, docs, n: int, repeat: int) -> float:
    """Median seconds of a whole ingest with n worker processes, started and warmed beforehand
    (their model loading is a one-off cost, not throughput)."""
    from kg.parallel import ProcessWorkers

    workers = ProcessWorkers(settings, n)
    try:
        for f in [workers.submit(docs[:1]) for _ in range(n)]:
            workers.result(f)
        runs = []
        for _ in range(repeat):
            store.clear()
            t = time.perf_counter()
            pipeline.ingest(docs, progress=False, workers=workers)
            runs.append(time.perf_counter() - t)
        return statistics.median(runs)
    finally:
        workers.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", help="a .jsonl or text corpus (default: samples/wikipedia_passages.jsonl)")
    ap.add_argument("--dataset", help="a retrieval dataset directory: ingest its passages")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", default="", help="also ingest with N worker processes, e.g. 1,2 (kg ingest --workers)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N documents")
    ap.add_argument("--turns", action="store_true",
                    help="also time whole ingests whose extraction takes turns with the writes, each run "
                         "right after a default one (extraction one batch ahead in a thread)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    name, docs = load_corpus(args.corpus, args.dataset)
    docs = docs[: args.limit or None]
    words = sum(len(d.text.split()) for d in docs)
    with tempfile.TemporaryDirectory(prefix="kg-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        store = open_store(settings)
        t0 = time.perf_counter()
        pipeline = Pipeline.from_settings(settings, store)
        load_s = time.perf_counter() - t0
        pipeline.extract(docs[:2])  # warm-up: first-call costs are not throughput

        extract_s, ingest_s, stage_runs = [], [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            pipeline.extract(docs)
            extract_s.append(time.perf_counter() - t)
        turns_s = []
        for _ in range(args.repeat):
            store.clear()
            t = time.perf_counter()
            report = pipeline.ingest(docs, progress=False)
            ingest_s.append(time.perf_counter() - t)
            stage_runs.append(report.stage_seconds)
            if args.turns:
                store.clear()
                t = time.perf_counter()
                pipeline.ingest(docs, progress=False, extract_ahead=False)
                turns_s.append(time.perf_counter() - t)
        stats = store.stats()
        parallel = {}
        for n in [int(x) for x in args.workers.split(",") if x]:
            parallel[n] = with_workers(pipeline, store, settings, docs, n, args.repeat)
        store.close()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ingest_med, extract_med = statistics.median(ingest_s), statistics.median(extract_s)
    stages = breakdown(stage_runs, ingest_med)
    result = {
        "corpus": name, "documents": len(docs), "words": words,
        "relation_extractor": pipeline.relations.name,
        "load": os.getloadavg()[0],
        "model_load_seconds": round(load_s, 2),
        "extract_words_per_second": round(words / extract_med),
        "ingest_words_per_second": round(words / ingest_med),
        "ingest_over_extract": round(extract_med / ingest_med, 3),
        "resolution_and_writes_share": round((stages["resolution"] + stages["writes"]) / ingest_med, 3),
        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
        "extract_seconds_runs": [round(s, 2) for s in extract_s],
        "ingest_seconds_runs": [round(s, 2) for s in ingest_s],
        "peak_rss_mb": round(peak_mb),
        "workers_words_per_second": {n: round(words / t) for n, t in parallel.items()},
        "taking_turns_words_per_second": round(words / statistics.median(turns_s)) if turns_s else None,
        # each default run against the taking-turns run right after it: the machine's speed drifts
        "default_over_taking_turns": round(statistics.median(tt / ti for ti, tt in zip(ingest_s, turns_s)), 3)
        if turns_s else None,
        "graph": {k: v for k, v in stats.items() if not isinstance(v, dict)},
        "ingest_report": {"chunks": report.chunks, "mentions": report.mentions, "entities": report.entities,
                          "relations": report.relations},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{name}: {len(docs)} documents, {words} words, relations by {result['relation_extractor']}; "
          f"load average {result['load']:.2f}")
    print(f"extraction only : {result['extract_words_per_second']:>7} words/s (median of {args.repeat})")
    print(f"whole ingest    : {result['ingest_words_per_second']:>7} words/s (extract+embed+resolve+load)"
          f" = {result['ingest_over_extract']:.2f}x extraction (target >= 0.5)")
    print(f"resolution+writes: {100 * result['resolution_and_writes_share']:.1f}% of the ingest (target <= 15%)")
    if result["taking_turns_words_per_second"]:
        print(f"taking turns    : {result['taking_turns_words_per_second']:>7} words/s (extraction not ahead "
              f"of the writes); the default at {result['default_over_taking_turns']:.2f}x it (median of paired runs)")
    print("ingest time per stage (median of runs; extraction runs one batch ahead, so with several "
          "batches the shares add up to more than 100%):")
    for stage, s in stages.items():
        print(f"  {stage:<11} {s:7.2f} s  {100 * s / ingest_med:5.1f}%")
    for n, wps in result["workers_words_per_second"].items():
        print(f"--workers {n:<6}: {wps:>7} words/s (whole ingest, extraction in {n} processes)")
    print(f"peak memory     : {result['peak_rss_mb']:>7} MB RSS (models included)")
    print(f"graph           : {result['graph']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
