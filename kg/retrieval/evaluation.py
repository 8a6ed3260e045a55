"""Retrieval evaluation: recall@k of the gold supporting passages, per method, in one run.

Dataset format (musique_subset's, and any corpus of your own in the same shape), a directory with:
- `*_corpus.json`: `[{"title": ..., "text": ...}, ...]`, the passages to ingest;
- `*.json` (the other file): `[{"question": ..., "paragraphs": [{"title": ..., "paragraph_text": ...,
  "is_supporting": true|false}, ...]}, ...]`, each question with its gold passages (the
  supporting paragraphs, matched to the corpus by title and text).

A passage ingested as several chunks counts once: retrieved chunks are mapped to their passage,
and recall@k is the share of a question's gold passages among the first k distinct passages.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from kg.errors import DatasetError
from kg.retrieval.retriever import Retriever
from kg.types import Document

METHODS = ("dense", "fulltext", "graph")
KS = (2, 5, 10)


@dataclass
class QA:
    question: str
    gold: set[str]  # document ids of the supporting passages


@dataclass
class RetrievalDataset:
    name: str
    documents: list[Document]
    questions: list[QA]
    fingerprint: str  # of the corpus files: a store built from the same corpus can be reused


def load_retrieval_dataset(path: str | Path) -> RetrievalDataset:
    from kg.documents import make_document

    root = Path(path)
    corpora = sorted(root.glob("*_corpus.json"))
    if not root.is_dir() or len(corpora) != 1:
        raise DatasetError(f"{root}: expected a directory with one *_corpus.json file and one questions file")
    questions_files = sorted(p for p in root.glob("*.json") if p not in corpora)
    if len(questions_files) != 1:
        raise DatasetError(f"{root}: expected one questions file (*.json besides {corpora[0].name})")
    try:
        corpus = json.loads(corpora[0].read_text(encoding="utf-8"))
        items = json.loads(questions_files[0].read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DatasetError(f"{root}: cannot read the dataset ({e})") from None
    docs, by_passage = [], {}
    prefix = root.name.split("_")[0]  # musique_subset -> musique-0, musique-1, ...
    for i, p in enumerate(corpus):
        try:
            doc = make_document(p["text"], id=f"{prefix}-{i}", title=p.get("title", ""), source=corpora[0].name)
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetError(f"{corpora[0]}: passage {i} is not {{title, text}} ({e})") from None
        docs.append(doc)
        by_passage[(doc.title, p["text"])] = doc.id
    qas = []
    for n, item in enumerate(items):
        try:
            gold = {by_passage[(g["title"], g["paragraph_text"])] for g in item["paragraphs"] if g["is_supporting"]}
        except KeyError as e:
            raise DatasetError(f"{questions_files[0]}: question {n}: a supporting paragraph is not in the corpus "
                               f"({e})") from None
        if gold:
            qas.append(QA(item["question"], gold))
    digest = hashlib.sha256()
    for f in (corpora[0],):
        digest.update(f.read_bytes())
    return RetrievalDataset(root.name, docs, qas, digest.hexdigest())


@dataclass
class RetrievalReport:
    dataset: str
    questions: int
    passages: int
    recall: dict[str, dict[int, float]]  # method -> k -> recall in %
    latency_ms: dict[str, float]  # p50, p95 of a graph retrieve call
    graph_questions: int  # questions that linked to the graph (the others fell back to dense)
    settings: dict[str, float] = field(default_factory=dict)


def store_fingerprint(dataset: RetrievalDataset, settings) -> str:
    """A graph built from this corpus with these settings is reused: only what shapes the graph counts."""
    shaping = {k: str(getattr(settings, k)) for k in (
        "schema_path", "spacy_model", "ner_model", "relation_model", "relation_threshold", "relation_precision",
        "embedding_model", "embedding_precision", "chunk_chars", "resolve_threshold", "phrases")}
    digest = hashlib.sha256((dataset.fingerprint + json.dumps(shaping, sort_keys=True)).encode())
    return digest.hexdigest()[:12]


def ingest_for_evaluation(dataset: RetrievalDataset, settings, store, progress: bool | None = None) -> bool:
    """Ingest the corpus into store unless it already holds exactly this corpus. True if it ingested."""
    from kg.pipeline import Pipeline

    stats = store.stats()
    if stats["documents"] == len(dataset.documents) and stats["chunks"] > 0:
        return False
    store.clear()
    report = Pipeline.from_settings(settings, store).ingest(dataset.documents, progress=progress,
                                                             total=len(dataset.documents))
    if report.errors:
        raise DatasetError(f"{dataset.name}: {len(report.errors)} passages were refused: {report.errors[0]}")
    return True


def distinct_documents(chunk_docs: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(chunk_docs))


def recall_at(ranked_docs: list[str], gold: set[str], k: int) -> float:
    return len(set(ranked_docs[:k]) & gold) / len(gold)


def rank_documents(retriever: Retriever, question: str, method: str, depth: int) -> list[str]:
    result = retriever.retrieve(question, k=depth, method=method)
    return distinct_documents(p.doc_id for p in result.passages)


def evaluate(retriever: Retriever, dataset: RetrievalDataset, depth: int = 30,
             progress: Callable[[Iterable], Iterable] = lambda x: x) -> RetrievalReport:
    """Every question with every method, in one run; depth: passages ranked per question."""
    recall = {m: {k: [] for k in KS} for m in METHODS}
    latencies, linked = [], 0
    retriever.graph()  # built once before timing: a cold start is not a query's latency
    for qa in progress(dataset.questions):
        for method in METHODS:
            t0 = time.perf_counter()
            result = retriever.retrieve(qa.question, k=depth, method=method)
            if method == "graph":
                latencies.append(time.perf_counter() - t0)
                linked += result.method == "graph"
            ranked = distinct_documents(p.doc_id for p in result.passages)
            for k in KS:
                recall[method][k].append(recall_at(ranked, qa.gold, k))
    return RetrievalReport(
        dataset.name, len(dataset.questions), len(dataset.documents),
        {m: {k: round(100 * float(np.mean(v)), 1) for k, v in ks.items()} for m, ks in recall.items()},
        {"p50": round(1000 * float(np.percentile(latencies, 50)), 1),
         "p95": round(1000 * float(np.percentile(latencies, 95)), 1)},
        linked,
        {"damping": retriever.params.damping, "passage_seed": retriever.params.passage_seed,
         "mix": retriever.params.mix, "degree_norm": retriever.params.degree_norm},
    )


def format_report(report: RetrievalReport) -> str:
    lines = [f"{report.dataset}: {report.questions} questions, {report.passages} passages "
             f"({report.graph_questions} questions linked to the graph; the others fall back to dense)",
             f"{'method':<10}" + "".join(f"{'R@' + str(k):>8}" for k in KS)]
    for m in METHODS:
        lines.append(f"{m:<10}" + "".join(f"{report.recall[m][k]:>8.1f}" for k in KS))
    gain = {k: report.recall["graph"][k] - report.recall["dense"][k] for k in KS}
    lines.append("graph - dense" + "".join(f"{gain[k]:>+8.1f}" for k in KS)[3:])
    lines.append(f"latency of a graph retrieve call: p50 {report.latency_ms['p50']:.1f} ms, "
                 f"p95 {report.latency_ms['p95']:.1f} ms")
    return "\n".join(lines)
