"""Dense retrieval quality of the chunk embedder: ours (batch-independent, int8 on CPU)
against sentence-transformers' own fp32 `encode`, on ../shared/datasets/musique_subset.

Each passage is embedded as "title\\ntext" and each question alone; recall@k is the share
of a question's supporting passages found in its top k (cosine), averaged over questions.

    .venv/bin/python bench/embedding_quality.py [--datasets-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg.config import get_settings  # noqa: E402
from kg.embed import SentenceTransformerEmbedder, default_model_path  # noqa: E402


def recall_at(scores: np.ndarray, gold: list[set[int]], k: int) -> float:
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean([len(set(t) & g) / len(g) for t, g in zip(top, gold)]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets-dir", type=Path, default=get_settings().datasets_dir)
    args = ap.parse_args()
    root = args.datasets_dir / "musique_subset"
    corpus = json.loads((root / "musique_train_corpus.json").read_text())
    questions = json.loads((root / "musique_train.json").read_text())
    passages = [f"{p['title']}\n{p['text']}" for p in corpus]
    index = {p: i for i, p in enumerate(passages)}
    gold = [{index[f"{p['title']}\n{p['paragraph_text']}"] for p in q["paragraphs"] if p["is_supporting"]}
            for q in questions]
    qs = [q["question"] for q in questions]

    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(default_model_path(), device="cpu")
    ours = {p: SentenceTransformerEmbedder(precision=p) for p in ("fp32", "int8")}
    rows = []
    for name, fn in [("sentence-transformers encode, fp32", lambda t: reference.encode(
                         t, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)),
                     *((f"kg embedder, {p}", e.embed) for p, e in ours.items())]:
        t0 = time.perf_counter()
        P = np.asarray(fn(passages), dtype=np.float32)
        seconds = time.perf_counter() - t0
        Q = np.asarray(fn(qs), dtype=np.float32)
        S = Q @ P.T
        rows.append((name, *(100 * recall_at(S, gold, k) for k in (2, 5, 10)), len(passages) / seconds))
    print(f"musique_subset: {len(qs)} questions, {len(passages)} passages")
    print(f"{'embedder':<38} {'R@2':>6} {'R@5':>6} {'R@10':>6} {'passages/s':>11}")
    for name, r2, r5, r10, speed in rows:
        print(f"{name:<38} {r2:6.1f} {r5:6.1f} {r10:6.1f} {speed:11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
