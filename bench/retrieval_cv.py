"""How the retrieval parameters were chosen: k-fold cross-validation over the questions.

For each fold, the parameter combination with the best mean of recall@2 and recall@5 on the
other folds is chosen and scored on the held-out fold. The held-out scores, averaged over the
folds, estimate what the recipe does on new questions; the combination chosen most often is
the default. Each question's evidence (dense candidates, links) is gathered once; only the
PageRank and the ranking run per combination.

    .venv/bin/python bench/retrieval_cv.py [--dataset musique_subset] [--folds 5] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg.config import get_settings  # noqa: E402
from kg.retrieval.evaluation import (  # noqa: E402
    distinct_documents, ingest_for_evaluation, load_retrieval_dataset, recall_at, store_fingerprint)
from kg.retrieval.retriever import RetrievalParams, Retriever  # noqa: E402
from kg.stores.falkordb.store import FalkorDBStore  # noqa: E402

GRID = {"damping": [0.5, 0.7, 0.85], "passage_seed": [0.0, 0.05, 0.2], "mix": [0.3, 0.5, 0.7],
        "relation_edges": [True, False], "min_link": [0.0, 0.6], "fulltext_weight": [0.0, 0.1],
        "degree_norm": [0.0, 0.5, 1.0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    settings = get_settings()
    ap.add_argument("--dataset", default="musique_subset")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--data-dir", type=Path, default=settings.data_dir / "eval")
    args = ap.parse_args()
    ds = load_retrieval_dataset(settings.datasets_dir / args.dataset)
    with FalkorDBStore.from_settings(settings.model_copy(update={"data_dir": args.data_dir,
                                     "graph_name": f"eval-{store_fingerprint(ds, settings)}"})) as store:
        ingest_for_evaluation(ds, settings, store, progress=True)
        retriever = Retriever.from_settings(settings, store)
        evidence = [retriever.gather(qa.question) for qa in ds.questions]
        combos = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
        # recall@2 and @5 of every question under every combination
        table = np.zeros((len(combos), len(ds.questions), 2))
        graphs = {}
        for ci, combo in enumerate(combos):
            params = replace(retriever.params, **combo)
            if combo["relation_edges"] not in graphs:
                retriever.params, retriever._graph = params, None
                graphs[combo["relation_edges"]] = retriever.graph()
            retriever._graph = graphs[combo["relation_edges"]]
            retriever.params = params
            for qi, (qa, ev) in enumerate(zip(ds.questions, evidence)):
                ranking = retriever.rank(ev, "graph", params)
                docs = distinct_documents(retriever._graph.chunk_docs[retriever._graph.index[f"c:{c}"]]
                                          for c in sorted(ranking.scores, key=lambda c: (-ranking.scores[c], c)))
                table[ci, qi] = (recall_at(docs, qa.gold, 2), recall_at(docs, qa.gold, 5))
        dense = np.zeros((len(ds.questions), 2))
        for qi, (qa, ev) in enumerate(zip(ds.questions, evidence)):
            docs = distinct_documents(retriever._graph.chunk_docs[retriever._graph.index[f"c:{c}"]]
                                      for c in sorted(ev.dense, key=lambda c: (-ev.dense[c], c)))
            dense[qi] = (recall_at(docs, qa.gold, 2), recall_at(docs, qa.gold, 5))
        order = list(range(len(ds.questions)))
        random.Random(args.seed).shuffle(order)
        folds = [order[f::args.folds] for f in range(args.folds)]
        held, chosen = [], Counter()
        for f, test in enumerate(folds):
            train = [q for q in order if q not in set(test)]
            best = int(np.argmax(table[:, train].mean(axis=(1, 2))))
            chosen[best] += 1
            held.append(table[best, test].mean(axis=0))
            print(f"fold {f + 1}: chose {combos[best]}; held-out R@2 {100 * held[-1][0]:.1f} R@5 {100 * held[-1][1]:.1f}")
        cv = 100 * np.mean(held, axis=0)
        default = combos[chosen.most_common(1)[0][0]]
        print(f"cross-validated graph retrieval: R@2 {cv[0]:.1f}, R@5 {cv[1]:.1f}; dense alone "
              f"R@2 {100 * dense[:, 0].mean():.1f}, R@5 {100 * dense[:, 1].mean():.1f}")
        print(f"chosen most often: {default}")
        hippo = next(i for i, c in enumerate(combos) if c == {"damping": 0.5, "passage_seed": 0.05, "mix": 0.5,
                                                                 "relation_edges": True, "min_link": 0.0,
                                                                 "fulltext_weight": 0.0, "degree_norm": 0.0})
        print(f"HippoRAG 2's defaults on all questions: R@2 {100 * table[hippo, :, 0].mean():.1f}, "
              f"R@5 {100 * table[hippo, :, 1].mean():.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
