"""The retrieval graph: chunks, entities and phrases as one sparse matrix, for personalised
PageRank (HippoRAG 2's passage-phrase graph, with this store's entities and relations).

Nodes: every chunk, every entity, every phrase. Edges (undirected, weight 1): an entity and each
chunk that mentions it, a phrase and each chunk that contains it, two entities a relation
joins. The column-normalised transition matrix is built once per graph generation
(`GraphStore.generation()`) and kept; a query is a few sparse matrix-vector products, so no
graph library runs per query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from extractors.entities.phrases import phrase_key
from kg.retrieval.lexical import BM25
from kg.types import GraphEdges


@dataclass
class RetrievalGraph:
    generation: str
    chunk_ids: list[str]
    chunk_docs: list[str]
    entity_ids: list[str]
    phrase_keys: list[str]
    transition: sp.csr_matrix  # column-stochastic, nodes: chunks, then entities, then phrases
    chunks_per_node: np.ndarray  # how many chunks name each node (1 for a chunk)
    index: dict[str, int]  # "c:<chunk id>", "e:<entity id>", "p:<phrase key>" -> node
    bm25: BM25  # full-text scores of the chunks, in chunk order
    degree: np.ndarray  # edges per node
    _phrase_nodes: dict[str, str] | None = None

    def phrase_nodes(self) -> dict[str, str]:
        """phrase key -> its node's name: "p:<key>", or "e:<id>" for a phrase that names an entity."""
        if self._phrase_nodes is None:
            n, m = self.n_chunks, len(self.entity_ids)
            self._phrase_nodes = {key[2:]: (f"e:{self.entity_ids[i - n]}" if n <= i < n + m else key)
                                  for key, i in self.index.items() if key.startswith("p:")}
        return self._phrase_nodes

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_ids)

    @property
    def size(self) -> int:
        return self.transition.shape[0]

    @classmethod
    def build(cls, edges: GraphEdges, generation: str, relation_edges: bool = True) -> "RetrievalGraph":
        """A phrase whose key is the name of exactly one entity is that entity's node: "carl rogers"
        in a chunk where NER missed it still leads to the entity Carl Rogers."""
        chunk_ids = [c for c, _ in edges.chunks]
        entity_ids = sorted({e for e, _ in edges.mentions})
        owners: dict[str, set[str]] = {}
        for eid, name in edges.names:
            owners.setdefault(phrase_key(name.split()), set()).add(eid)
        entity_of = {key: next(iter(ids)) for key, ids in owners.items() if len(ids) == 1}
        phrase_keys = sorted({k for _, k in edges.phrases if k not in entity_of})
        index: dict[str, int] = {}
        for prefix, names in (("c", chunk_ids), ("e", entity_ids), ("p", phrase_keys)):
            for name in names:
                index[f"{prefix}:{name}"] = len(index)
        for key, eid in entity_of.items():  # the phrase's name finds the entity's node
            if f"e:{eid}" in index:
                index[f"p:{key}"] = index[f"e:{eid}"]
        pairs = [(index[f"e:{e}"], index[f"c:{c}"]) for e, c in edges.mentions if f"c:{c}" in index]
        pairs += [(index[f"p:{k}"], index[f"c:{c}"]) for c, k in edges.phrases
                  if f"c:{c}" in index and f"p:{k}" in index]
        n_chunk_edges = len(pairs)
        if relation_edges:
            pairs += [(index[f"e:{h}"], index[f"e:{t}"]) for h, _, t in edges.relations
                      if f"e:{h}" in index and f"e:{t}" in index and h != t]
        n = len(chunk_ids) + len(entity_ids) + len(phrase_keys)
        if pairs:
            rows, cols = np.array(pairs, dtype=np.int64).T
        else:
            rows = cols = np.zeros(0, dtype=np.int64)
        a = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
        a = ((a + a.T) > 0).astype(np.float64)  # undirected; a pair said twice is one edge
        degree = np.asarray(a.sum(axis=0)).ravel()
        degree[degree == 0] = 1.0
        transition = (a @ sp.diags(1.0 / degree)).tocsr()
        # chunks per entity/phrase node: its distinct chunk neighbours (relation edges left out)
        node_chunks = np.ones(n)
        if n_chunk_edges:
            named = np.asarray(a[: len(chunk_ids)].sum(axis=0)).ravel()
            node_chunks[len(chunk_ids):] = np.maximum(named[len(chunk_ids):], 1.0)
        bm25 = BM25([edges.texts.get(c, "") for c in chunk_ids])
        return cls(generation, chunk_ids, [d for _, d in edges.chunks], entity_ids, phrase_keys, transition,
                   node_chunks, index, bm25, degree)

    def personalized_pagerank(self, seeds: np.ndarray, damping: float, iterations: int = 30,
                              tolerance: float = 1e-8) -> np.ndarray:
        """r = (1 - damping) * s + damping * T r, from a seed vector s (normalised here)."""
        total = seeds.sum()
        if total <= 0:
            return np.zeros(self.size)
        s = seeds / total
        r = s.copy()
        for _ in range(iterations):
            nxt = (1.0 - damping) * s + damping * (self.transition @ r)
            if np.abs(nxt - r).sum() < tolerance:
                return nxt
            r = nxt
        return r
