"""Relation-step and NER throughput on CoNLL04 sentences: medians of repeated runs.

    .venv/bin/python bench/relation_speed.py [--split test] [--repeats 5] [--threads 2]

Measures, on the same sentences `kg eval relations` scores:
- the relation step (encode with markers, one forward pass per sentence, pair decisions)
  with gold entities and with the NER model's entities;
- each shipped CoNLL04 NER model alone.
Nothing is fitted: these are wall-clock timings, to compare with the 200 sentences/s
target of issue 3. The machine is shared, so compare ratios from one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def median_rate(fn, n_items: int, repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up
    secs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        secs.append(time.perf_counter() - t0)
    return n_items / statistics.median(secs), secs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--model", default=None, help="relation artifact (default relations-conll04)")
    args = ap.parse_args()

    import torch

    from extractors.datasets import load_dataset
    from extractors.encoder.base import WEIGHTS_DIR
    from extractors.entities.spacy import CONLL04_NER_MODELS
    from extractors.evaluation.relations import example_chunks
    from extractors.registry import load_entity_extractor
    from extractors.relations.marker import MarkerRelationExtractor
    from kg.types import Mention

    if args.threads:
        torch.set_num_threads(args.threads)
    model = MarkerRelationExtractor.load(args.model or WEIGHTS_DIR / "relations-conll04")
    examples = load_dataset("conll04", args.split, model.schema)
    chunks = example_chunks(examples)
    gold = [[Mention(ex.text[e.start:e.end], e.type, e.start, e.end, chunks[i].id) for e in ex.entities]
            for i, ex in enumerate(examples)]
    n = len(examples)
    print(f"conll04:{args.split}: {n} sentences; {torch.get_num_threads()} torch threads; "
          f"relation model {model.name} ({model.config.get('num_layers')} layers); median of {args.repeats} runs")
    rate, secs = median_rate(lambda: model.extract(chunks, gold), n, args.repeats)
    print(f"relation step, gold entities ({model.precision}): {rate:7.0f} sentences/s  "
          f"(runs {', '.join(f'{s:.2f}' for s in secs)} s)")
    other = "fp32" if model.precision == "int8" else "int8"
    alt = MarkerRelationExtractor.load(args.model or WEIGHTS_DIR / "relations-conll04", precision=other)
    if alt.precision == other:
        rate_alt, secs = median_rate(lambda: alt.extract(chunks, gold), n, args.repeats)
        print(f"relation step, gold entities ({other}): {rate_alt:7.0f} sentences/s  "
              f"(runs {', '.join(f'{s:.2f}' for s in secs)} s)")
    for path in CONLL04_NER_MODELS:
        if not path.exists():
            continue
        ner = load_entity_extractor(path, model.schema)
        rate, secs = median_rate(lambda: ner.extract(chunks), n, args.repeats)
        print(f"NER {path.name + ':':<32} {rate:7.0f} sentences/s  (runs {', '.join(f'{s:.2f}' for s in secs)} s)")
        mentions = ner.extract(chunks)
        rate, secs = median_rate(lambda: model.extract(chunks, mentions), n, args.repeats)
        print(f"relation step, {path.name} entities: {rate:7.0f} sentences/s  "
              f"(runs {', '.join(f'{s:.2f}' for s in secs)} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
