"""Ingest throughput and peak memory on the sample corpus.

Reports words per second for extraction alone (chunk + NER + relations) and for
the whole ingest (extract, embed, resolve, load into a fresh embedded store),
as the median of --repeat runs, plus the process's peak RSS.

    .venv/bin/python bench/ingest.py [--corpus FILE] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(REPO_ROOT / "samples" / "wikipedia_passages.jsonl"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="kg-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        store = open_store(settings)
        t0 = time.perf_counter()
        pipeline = Pipeline.from_settings(settings, store)
        load_s = time.perf_counter() - t0
        docs = [d for d in read_inputs([args.corpus], settings.max_file_bytes) if hasattr(d, "text")]
        words = sum(len(d.text.split()) for d in docs)
        pipeline.extract(docs[:2])  # warm-up: first-call costs are not throughput

        extract_s, ingest_s = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            pipeline.extract(docs)
            extract_s.append(time.perf_counter() - t)
        for _ in range(args.repeat):
            store.clear()
            t = time.perf_counter()
            report = pipeline.ingest(docs, progress=False)
            ingest_s.append(time.perf_counter() - t)
        stats = store.stats()
        store.close()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "corpus": str(Path(args.corpus).name), "documents": len(docs), "words": words,
        "relation_extractor": pipeline.relations.name,
        "model_load_seconds": round(load_s, 2),
        "extract_words_per_second": round(words / statistics.median(extract_s)),
        "ingest_words_per_second": round(words / statistics.median(ingest_s)),
        "extract_seconds_runs": [round(s, 2) for s in extract_s],
        "ingest_seconds_runs": [round(s, 2) for s in ingest_s],
        "peak_rss_mb": round(peak_mb),
        "graph": {k: v for k, v in stats.items() if not isinstance(v, dict)},
        "ingest_report": {"chunks": report.chunks, "mentions": report.mentions, "entities": report.entities,
                          "relations": report.relations},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['documents']} documents, {words} words, relations by {result['relation_extractor']}")
        print(f"extraction only : {result['extract_words_per_second']:>7} words/s (median of {args.repeat})")
        print(f"whole ingest    : {result['ingest_words_per_second']:>7} words/s (extract+embed+resolve+load)")
        print(f"peak memory     : {result['peak_rss_mb']:>7} MB RSS (models included)")
        print(f"graph           : {result['graph']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
