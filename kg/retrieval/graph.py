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
    _csc: sp.csc_matrix | None = None

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

    def personalized_pagerank(self, seeds: np.ndarray, damping: float, epsilon: float = 1e-5) -> np.ndarray:
        """Personalised PageRank from a seed vector (normalised here), by forward push.

        The estimate p and the residual r start as p = 0, r = s. Every round, each node whose
        residual exceeds epsilon x its degree keeps (1 - damping) of it and spreads the rest evenly
        over its neighbours. When no node is left above that bar, every node's PageRank is within
        epsilon x its degree of p (Andersen, Chung and Lang, 2006). The work is bounded by
        1 / (epsilon (1 - damping)) edge visits whatever the graph's size, where power iteration
        multiplies the whole matrix every step (160 ms a query at 100k entities).
        """
        total = seeds.sum()
        if total <= 0:
            return np.zeros(self.size)
        columns = self._columns
        indptr, indices, weights = columns.indptr, columns.indices, columns.data
        bar = epsilon * self.degree
        p = np.zeros(self.size)
        r = seeds / total
        push = np.flatnonzero(r > bar)
        while push.size:
            mass = r[push]
            r[push] = 0.0
            p[push] += (1.0 - damping) * mass
            starts = indptr[push]
            counts = indptr[push + 1] - starts  # not np.diff(indptr): that is the whole graph, every round
            # the edges of the pushed nodes: a run of each one's column in the CSC arrays
            offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            targets = indices[offsets]
            share = damping * weights[offsets] * np.repeat(mass, counts)
            touched, inverse = np.unique(targets, return_inverse=True)
            r[touched] += np.bincount(inverse, weights=share, minlength=touched.size)
            push = touched[r[touched] > bar[touched]]
        return p

    @property
    def _columns(self) -> sp.csc_matrix:
        """The transition matrix by columns: a node's column lists its neighbours."""
        if self._csc is None:
            self._csc = self.transition.tocsc()
            self._csc.sort_indices()
        return self._csc
