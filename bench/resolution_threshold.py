"""Choose the entity-resolution similarity threshold on data (Re-DocRED).

Re-DocRED lists, per document, each entity with every name it goes by
("Wilfried Schneider", "Schneider"). We run the real resolver on each
document's names and score its clusters against the gold entities with
pairwise precision/recall/F1 over distinct (entity, name) items. The threshold
is chosen on the first half of the documents (file order) and reported on the
second half. A wrong merge corrupts facts while a missed one only leaves a
duplicate node, so the threshold maximises F0.5 (precision weighted).

    .venv/bin/python bench/resolution_threshold.py [--datasets-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg.config import get_settings  # noqa: E402
from kg.embed import get_embedder  # noqa: E402
from kg.resolve import DocMention, EntityResolver  # noqa: E402
from kg.types import Mention  # noqa: E402

TYPES = {"PER": "Person", "ORG": "Organization", "LOC": "Location", "MISC": "Misc"}


class CachedEmbedder:
    def __init__(self, inner):
        self.inner, self.dim, self.name, self.cache = inner, inner.dim, inner.name, {}

    def embed(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for t, v in zip(missing, self.inner.embed(missing)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def doc_items(doc) -> list[tuple[int, str, str]]:
    """(gold entity index, name, type) for each distinct name; names shared by two entities are dropped."""
    owners: dict[str, set[int]] = {}
    items = []
    for ei, mentions in enumerate(doc["vertexSet"]):
        etype = TYPES.get(mentions[0]["type"])
        if etype is None:
            continue
        for name in sorted({m["name"] for m in mentions}):
            owners.setdefault(name, set()).add(ei)
            items.append((ei, name, etype))
    return [it for it in items if len(owners[it[1]]) == 1]


def score(docs, resolver) -> dict[str, float]:
    tp = fp = fn = 0
    for di, doc in enumerate(docs):
        items = doc_items(doc)
        if len(items) < 2:
            continue
        ms = [DocMention(f"d{di}", Mention(name, etype, 0, 0)) for _, name, etype in items]
        pred = resolver.resolve(ms).entity_ids
        for a, b in itertools.combinations(range(len(items)), 2):
            same_gold = items[a][0] == items[b][0]
            same_pred = pred[a] == pred[b]
            tp += same_gold and same_pred
            fp += same_pred and not same_gold
            fn += same_gold and not same_pred
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = lambda beta: (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0  # noqa: E731
    return {"precision": p, "recall": r, "f1": f(1.0), "f0_5": f(0.5), "gold_pairs": tp + fn}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets-dir", type=Path, default=get_settings().datasets_dir)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    docs = json.loads((args.datasets_dir / "re-docred" / "dev_revised.json").read_text())
    tune, held = docs[: len(docs) // 2], docs[len(docs) // 2:]
    emb = CachedEmbedder(get_embedder())
    rows = []
    for t in [0.70, 0.75, 0.80, 0.825, 0.85, 0.875, 0.90, 0.95, 1.01]:
        rows.append({"threshold": t, **score(tune, EntityResolver(emb, threshold=t))})
        print(f"tune  t={t:<6} P={rows[-1]['precision']:.3f} R={rows[-1]['recall']:.3f} "
              f"F1={rows[-1]['f1']:.3f} F0.5={rows[-1]['f0_5']:.3f}", file=sys.stderr)
    best = max(rows, key=lambda r: (r["f0_5"], r["threshold"]))
    held_score = score(held, EntityResolver(emb, threshold=best["threshold"]))
    no_emb = score(held, EntityResolver(emb, threshold=1.01))
    result = {"chosen_threshold": best["threshold"], "tune": rows, "held_out": held_score,
              "held_out_rules_only": no_emb}
    print(json.dumps(result, indent=2) if args.json else
          f"chosen threshold {best['threshold']} (tune F0.5 {best['f0_5']:.3f}); held-out: "
          f"P={held_score['precision']:.3f} R={held_score['recall']:.3f} F1={held_score['f1']:.3f} "
          f"F0.5={held_score['f0_5']:.3f} (name rules alone, no embeddings: P={no_emb['precision']:.3f} "
          f"R={no_emb['recall']:.3f} F0.5={no_emb['f0_5']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
