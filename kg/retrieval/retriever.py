"""Graph-augmented retrieval for agentic RAG: passages, facts and entities with citations, no LLM.

    question -> dense search over chunks (vector index; each chunk embedded under its title)
             -> full-text search over chunks (reported with each passage, not fused by default)
             -> link the question's phrases to entities and phrases (linking.py)
             -> personalised PageRank from the linked nodes (graph.py), optionally also seeded from
                every dense candidate; a chunk's mass divided by its degree
             -> rank = mix * minmax(dense) + (1 - mix) * minmax(PageRank)
             -> passages, facts among the top entities, entities with why they are there,
                and a context block with numbered citations (context.py)

The recipe follows HippoRAG 2 (seed weight = similarity / chunks naming the node, passages
seeded by their dense score, mixed ranks). Its parameters were chosen by 5-fold cross-validation
over musique_subset's questions (bench/retrieval_cv.py): damping 0.85, no passage seeds, 0.3 of
dense in the mix, and a chunk's PageRank mass divided by its degree (PageRank otherwise favours
well-connected chunks). A question that links to nothing is answered from dense search alone.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kg.retrieval.citations import quoted_evidence
from kg.retrieval.context import format_context
from kg.retrieval.graph import RetrievalGraph
from kg.retrieval.linking import Link, QuestionLinker, unknown
from kg.retrieval.types import Citation, EntityHit, Fact, Filters, Passage, RetrievalResult
from kg.errors import UsageError
from kg.stores.base import GraphStore


METHODS = ("graph", "dense", "fulltext")


@dataclass
class Evidence:
    dense: dict[str, float]  # chunk id -> cosine similarity, the dense candidates
    fulltext: dict[str, float]  # chunk id -> full-text score
    links: list[Link]
    graph: RetrievalGraph | None = None  # the graph the links point into (one graph for the whole call)


@dataclass
class Ranking:
    scores: dict[str, float]  # chunk id -> the score passages are ranked by
    ppr: dict[str, float]  # chunk id -> PageRank mass (graph method only)
    entity_mass: dict[str, float]  # entity id -> PageRank mass
    method: str  # the method that ranked: "dense" when "graph" found nothing to link


@dataclass(frozen=True)
class RetrievalParams:
    # defaults chosen by 5-fold cross-validation over musique_subset's questions (bench/retrieval_cv.py)
    damping: float = 0.85  # probability of following an edge (1 - restart probability)
    passage_seed: float = 0.0  # every dense candidate's seed weight, times minmax(dense)
    mix: float = 0.3  # weight of dense in the final rank; 1 - mix for PageRank
    candidates: int = 200  # dense and full-text candidates read from the indexes
    ppr_epsilon: float = 1e-5  # PageRank push stops when no node's residual exceeds this x its degree
    entities: int = 10  # entities reported (linked ones first, then by PageRank)
    facts: int = 20
    relation_edges: bool = True  # relations between entities are edges of the graph too
    min_link: float = 0.0  # question phrases linked less similar than this are left out
    fulltext_weight: float = 0.0  # weight of minmax(BM25) added to the final rank
    degree_norm: float = 1.0  # a chunk's PageRank mass is divided by its degree to this power


class Laps:
    """Milliseconds per stage of one call, added into `into` (nothing kept when it is None)."""

    def __init__(self, into: dict[str, float] | None = None):
        self.into = into
        self.t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self.into is not None:
            self.into[stage] = self.into.get(stage, 0.0) + 1000 * (now - self.t)
        self.t = now


def _top(values: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest positive values, largest first, ties by index. Sorts only the
    positive ones: PageRank by push reaches a neighbourhood, most of a large graph holds 0."""
    positive = np.flatnonzero(values > 0)
    return positive[np.argsort(-values[positive], kind="stable")[:n]]


def _minmax(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    if hi <= lo:
        return {k: 1.0 for k in values}
    return {k: (v - lo) / (hi - lo) for k, v in values.items()}


class Retriever:
    def __init__(self, store: GraphStore, embedder, linker: QuestionLinker, params: RetrievalParams | None = None):
        self.store = store
        self.embedder = embedder
        self.linker = linker
        self.params = params or RetrievalParams()
        self._graph: RetrievalGraph | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, store: GraphStore) -> "Retriever":
        from extractors.registry import load_entity_extractor
        from extractors.entities.phrases import NounPhraseExtractor
        from graph_schema import load_schema
        from kg.embed import get_embedder

        embedder = get_embedder(settings.embedding_model, settings.device, settings.embedding_precision)
        schema = load_schema(settings.schema_path)
        entities = load_entity_extractor(settings.ner_model or settings.spacy_model, schema, device=settings.device)
        phrases = NounPhraseExtractor(settings.spacy_model)
        params = RetrievalParams(damping=settings.retrieval_damping, passage_seed=settings.retrieval_passage_seed,
                                 mix=settings.retrieval_mix, degree_norm=settings.retrieval_degree_norm)
        return cls(store, embedder, QuestionLinker(store, embedder, entities, phrases), params)

    # ------------------------------------------------------------------ the graph index

    def graph(self) -> RetrievalGraph:
        """The sparse graph of the store as it is now: rebuilt only when the store's generation moved."""
        generation = self.store.generation()
        with self._lock:
            if self._graph is None or self._graph.generation != generation:
                self._graph = RetrievalGraph.build(self.store.graph_edges(), generation,
                                                   relation_edges=self.params.relation_edges)
            return self._graph

    # ------------------------------------------------------------------ one question

    def retrieve(self, question: str, k: int = 5, filters: Filters | None = None,
                 method: str = "graph", timings: dict[str, float] | None = None) -> RetrievalResult:
        """Rank passages for the question. method: "graph" (the full recipe), "dense" or "fulltext"
        (one method alone, for comparison). timings, when given, gets the milliseconds of each
        stage: question, dense, fulltext, linking, ranking, assembly."""
        if method not in METHODS:
            raise UsageError(f"unknown retrieval method {method!r}; choose one of {', '.join(METHODS)}")
        t0 = time.perf_counter()
        laps = Laps(timings)
        filters = filters or Filters()
        # the full-text ranking only when it ranks; otherwise only the listed passages are scored
        ranked_fulltext = method == "fulltext" or bool(self.params.fulltext_weight)
        evidence = self.gather(question, filters, links=method == "graph", fulltext=ranked_fulltext, laps=laps)
        ranking = self.rank(evidence, method, self.params)
        laps.lap("ranking")
        allowed = self._allowed_chunks(set(ranking.scores), filters)
        best = sorted((c for c in ranking.scores if c in allowed), key=lambda c: (-ranking.scores[c], c))[:k]
        fulltext = evidence.fulltext if ranked_fulltext else self._fulltext_of(evidence, question, best)
        passages = self._passages(best, ranking.scores, evidence.dense, fulltext, ranking.ppr)
        entities = self._entities(evidence.links, ranking.entity_mass, passages, filters)
        facts = self._facts(entities, passages, filters)
        result = RetrievalResult(question, "", passages, facts, entities, ranking.method)
        result.context = format_context(result)
        laps.lap("assembly")
        result.seconds = round(time.perf_counter() - t0, 4)
        return result

    def gather(self, question: str, filters: Filters | None = None, links: bool = True, fulltext: bool = True,
               laps: Laps | None = None) -> Evidence:
        """What the indexes say about the question, before any ranking: dense and full-text
        candidates (fulltext=False: none, when full-text search does not rank) and the
        question's links into the graph."""
        filters = filters or Filters()
        laps = laps or Laps()
        p = self.params
        graph = self.graph()
        phrases = self.linker.question_phrases(question) if links else []
        known = graph.phrase_nodes() if phrases else {}
        searched = unknown(phrases, known)  # a phrase that is a stored key links without a vector
        vectors = self.embedder.embed_queries([question, *searched])  # one call: the question and those phrases
        qvec = vectors[0].tolist()
        laps.lap("question")
        dense = {h.item: float(h.score) for h in self.store.nearest_chunk_ids(qvec, p.candidates)}
        laps.lap("dense")
        ranked: dict[str, float] = {}
        if fulltext:
            bm25 = graph.bm25.scores(question)
            ranked = {graph.chunk_ids[i]: float(bm25[i]) for i in _top(bm25, p.candidates)}
        laps.lap("fulltext")
        linked = self.linker.link_phrases(phrases, vectors[1:], filters.entity_types, known) if phrases else []
        laps.lap("linking")
        return Evidence(dense, ranked, linked, graph)

    def _fulltext_of(self, evidence: Evidence, question: str, chunk_ids: list[str]) -> dict[str, float]:
        """The BM25 scores of these chunks alone (what each passage reports of full-text search)."""
        graph = evidence.graph or self.graph()
        rows = [(c, graph.index[f"c:{c}"]) for c in chunk_ids if f"c:{c}" in graph.index]
        scores = graph.bm25.scores_of(question, [i for _, i in rows])
        return {c: float(s) for (c, _), s in zip(rows, scores) if s > 0}

    def rank(self, evidence: Evidence, method: str, params: RetrievalParams) -> Ranking:
        """Scores of the candidate chunks by one method, under the given parameters."""
        if method == "fulltext":
            return Ranking(dict(evidence.fulltext), {}, {}, method)
        dense = _minmax(evidence.dense)
        if method == "dense":
            return Ranking(dense, {}, {}, method)
        graph = evidence.graph or self.graph()
        seeds = np.zeros(graph.size)
        for link in evidence.links:
            node = graph.index.get(link.node)
            if node is not None and link.similarity >= params.min_link:
                seeds[node] += link.similarity / graph.chunks_per_node[node]
        if seeds.sum() <= 0:  # the question names nothing the graph holds
            return Ranking(dense, {}, {}, "dense")
        for cid, score in dense.items():
            if (node := graph.index.get(f"c:{cid}")) is not None:
                seeds[node] += params.passage_seed * score
        r = graph.personalized_pagerank(seeds, params.damping, params.ppr_epsilon)
        chunk_r = r[: graph.n_chunks]
        if params.degree_norm:  # PageRank favours well-connected chunks; this takes some of that back
            chunk_r = chunk_r / graph.degree[: graph.n_chunks] ** params.degree_norm
        ppr = {graph.chunk_ids[i]: float(chunk_r[i]) for i in _top(chunk_r, params.candidates)}
        g = _minmax(ppr)
        scores = {c: params.mix * dense.get(c, 0.0) + (1 - params.mix) * g.get(c, 0.0) for c in set(dense) | set(g)}
        if params.fulltext_weight:
            for c, s in _minmax(evidence.fulltext).items():
                scores[c] = scores.get(c, 0.0) + params.fulltext_weight * s
        entity_r = r[graph.n_chunks: graph.n_chunks + len(graph.entity_ids)]
        mass = {graph.entity_ids[i]: float(entity_r[i]) for i in _top(entity_r, 5 * params.entities)}
        return Ranking(scores, ppr, mass, "graph")

    def _allowed_chunks(self, chunk_ids: set[str], filters: Filters) -> set[str]:
        if not filters_active(filters) or not chunk_ids:
            return set(chunk_ids)
        chunks = self.store.get_chunks(sorted(chunk_ids))
        docs = self.store.get_documents({c.doc_id for c in chunks}) if filters.metadata else {}
        out = set()
        for c in chunks:
            if filters.doc_ids and c.doc_id not in filters.doc_ids:
                continue
            if filters.metadata:
                meta = docs[c.doc_id].metadata if c.doc_id in docs else {}
                if any(meta.get(key) != value for key, value in filters.metadata.items()):
                    continue
            out.add(c.id)
        return out

    # ------------------------------------------------------------------ the answer's parts

    def _passages(self, best: list[str], scores: dict[str, float], dense: dict[str, float],
                  fulltext: dict[str, float], ppr: dict[str, float]) -> list[Passage]:
        chunks = {c.id: c for c in self.store.get_chunks(best)}
        docs = self.store.get_documents({c.doc_id for c in chunks.values()})
        out = []
        for cid in best:
            c = chunks.get(cid)
            if c is None:  # deleted since the indexes answered
                continue
            doc = docs.get(c.doc_id)
            out.append(Passage(len(out) + 1, c.id, c.doc_id, doc.title if doc else "", doc.source if doc else "",
                               c.text, c.start, c.end, round(scores[cid], 6), round(dense.get(cid, 0.0), 6),
                               round(fulltext.get(cid, 0.0), 6), round(ppr.get(cid, 0.0), 8)))
        return out

    def _entities(self, links: Sequence[Link], mass: dict[str, float], passages: list[Passage],
                  filters: Filters) -> list[EntityHit]:
        linked = {}
        for link in links:
            if link.node.startswith("e:"):
                linked.setdefault(link.node[2:], link)
        ranked = list(linked) + [e for e in sorted(mass, key=lambda e: (-mass[e], e)) if e not in linked and mass[e] > 0]
        found = {e.id: e for e in self.store.get_entities(ranked[: self.params.entities * 3], with_embedding=False)}
        in_passage = self._mentioned_in(found, passages)
        out = []
        for eid in ranked:
            e = found.get(eid)
            if e is None or (filters.entity_types and e.type not in filters.entity_types):
                continue
            if eid in linked:
                why = f"linked from the question's '{linked[eid].phrase}' (similarity {linked[eid].similarity:.2f})"
            elif eid in in_passage:
                why = f"mentioned in passage [{in_passage[eid]}], reached by graph expansion"
            else:
                why = "reached by graph expansion from the linked entities and phrases"
            out.append(EntityHit(e.id, e.name, e.type, e.aliases, why, round(mass.get(eid, 0.0), 8)))
            if len(out) >= self.params.entities:
                break
        return out

    def _mentioned_in(self, entities: dict[str, Any], passages: list[Passage]) -> dict[str, int]:
        if not entities or not passages:
            return {}
        rows = self.store.query("UNWIND $ids AS i MATCH (e:Entity {id: i})-[:MENTIONED_IN]->(c:Chunk) "
                                "WHERE c.id IN $chunks RETURN e.id AS e, c.id AS c",
                                {"ids": sorted(entities), "chunks": [p.chunk_id for p in passages]})
        number = {p.chunk_id: p.n for p in passages}
        out: dict[str, int] = {}
        for r in rows:
            out[r["e"]] = min(out.get(r["e"], 10**9), number[r["c"]])
        return out

    def _facts(self, entities: list[EntityHit], passages: list[Passage], filters: Filters) -> list[Fact]:
        """Relations among the reported entities, each with the sentences that state it."""
        if len(entities) < 2:
            return []
        names = {e.id: e.name for e in entities}
        rows = self.store.query("MATCH (h:Entity)-[x]->(t:Entity) WHERE h.id IN $ids AND t.id IN $ids "
                                "RETURN h.id AS h, type(x) AS type, t.id AS t, x.confidence AS confidence, "
                                "x.evidence AS evidence", {"ids": sorted(names)})
        spans = dict(zip(((r["h"], r["type"], r["t"]) for r in rows),
                         quoted_evidence(self.store, [r["evidence"] for r in rows])))
        allowed = self._allowed_chunks({s.chunk.id for ss in spans.values() for s in ss}, filters)
        number = {p.chunk_id: p.n for p in passages}
        facts = []
        for r in sorted(rows, key=lambda r: (-(r["confidence"] or 0.0), r["h"], r["type"], r["t"])):
            cites = [Citation(s.chunk.doc_id, s.chunk.id, s.start, s.end, s.quote, number.get(s.chunk.id))
                     for s in spans[(r["h"], r["type"], r["t"])] if s.chunk.id in allowed]
            if cites:
                facts.append(Fact(names[r["h"]], r["type"], names[r["t"]], r["h"], r["t"],
                                  round(float(r["confidence"] or 0.0), 4), cites))
            if len(facts) >= self.params.facts:
                break
        return facts


def filters_active(filters: Filters) -> bool:
    return bool(filters.doc_ids or filters.metadata)
