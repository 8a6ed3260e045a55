"""The retrieval graph and BM25 on hand-built data (no models)."""

from __future__ import annotations

import numpy as np

from kg.retrieval.graph import RetrievalGraph
from kg.retrieval.lexical import BM25
from kg.types import GraphEdges


def _edges() -> GraphEdges:
    # c1 mentions e1 and names the phrase "red apple"; c2 mentions e1 and e2; c3 mentions e3; e2 -> e3
    return GraphEdges(
        chunks=[("c1", "d1"), ("c2", "d2"), ("c3", "d3")],
        mentions=[("e1", "c1"), ("e1", "c2"), ("e2", "c2"), ("e3", "c3")],
        phrases=[("c1", "red apple"), ("c3", "cherry"), ("c2", "mira castellan")],
        relations=[("e2", "LOCATED_IN", "e3")],
        names=[("e1", "Mira Castellan"), ("e2", "Vellmora"), ("e3", "Quenia")],
        texts={"c1": "A red apple.", "c2": "Mira Castellan lives in Vellmora.", "c3": "Quenia grows cherries."},
    )


def test_graph_nodes_and_a_phrase_that_names_an_entity():
    g = RetrievalGraph.build(_edges(), "1")
    assert g.chunk_ids == ["c1", "c2", "c3"] and g.entity_ids == ["e1", "e2", "e3"]
    # "mira castellan" is the name of exactly one entity: its phrase node is the entity's node
    assert g.index["p:mira castellan"] == g.index["e:e1"] and "mira castellan" not in g.phrase_keys
    assert g.chunks_per_node[g.index["e:e1"]] == 2 and g.chunks_per_node[g.index["p:cherry"]] == 1
    # column-stochastic: every column of a node with edges sums to 1
    sums = np.asarray(g.transition.sum(axis=0)).ravel()
    assert np.allclose(sums, 1.0)


def test_pagerank_spreads_from_the_seeds_over_relations():
    g = RetrievalGraph.build(_edges(), "1")
    seeds = np.zeros(g.size)
    seeds[g.index["e:e2"]] = 1.0
    r = g.personalized_pagerank(seeds, damping=0.5, epsilon=1e-9)
    assert abs(r.sum() - 1.0) < 1e-6
    chunk = {c: r[g.index[f"c:{c}"]] for c in g.chunk_ids}
    # c2 mentions the seed; c3 is reached over the relation e2 -> e3; c1 only through e1
    assert chunk["c2"] > chunk["c3"] > 0 and chunk["c2"] > chunk["c1"]
    without = RetrievalGraph.build(_edges(), "1", relation_edges=False)
    r2 = without.personalized_pagerank(seeds, damping=0.5)
    assert r2[without.index["c:c3"]] == 0.0  # no relation edge: no path to c3


def test_push_is_within_its_bound_of_exact_pagerank():
    # a random graph; exact PPR solves (I - d T) x = (1 - d) s
    rng = np.random.default_rng(3)
    chunks = [(f"c{i}", f"d{i}") for i in range(60)]
    mentions = [(f"e{int(e)}", f"c{i}") for i in range(60) for e in rng.integers(0, 40, 3)]
    relations = [(f"e{int(a)}", "R", f"e{int(b)}") for a, b in rng.integers(0, 40, (50, 2))]
    g = RetrievalGraph.build(GraphEdges(chunks=chunks, mentions=mentions, relations=relations), "1")
    seeds = np.zeros(g.size)
    seeds[[g.index["e:e1"], g.index["e:e7"]]] = [0.7, 0.3]
    d = 0.85
    exact = np.linalg.solve(np.eye(g.size) - d * g.transition.toarray(), (1 - d) * seeds)
    for epsilon in (1e-3, 1e-5, 1e-8):
        p = g.personalized_pagerank(seeds, d, epsilon)
        assert np.all(p <= exact + 1e-12)  # push only ever under-estimates
        assert np.all(exact - p <= epsilon * g.degree + 1e-12)
    assert np.abs(g.personalized_pagerank(seeds, d, 1e-10) - exact).max() < 1e-8


def test_no_seed_no_mass():
    g = RetrievalGraph.build(_edges(), "1")
    assert g.personalized_pagerank(np.zeros(g.size), 0.5).sum() == 0.0


def test_bm25_ranks_by_rare_words_not_common_ones():
    bm = BM25(["the first president of the club was the first president",
               "the journal of psychotherapy integration is a journal",
               "a president of a journal"])
    scores = bm.scores("Who was the first president of the association which published the Journal of "
                       "Psychotherapy Integration?")
    assert int(np.argmax(scores)) == 1
    assert bm.scores("zzz").sum() == 0.0


def test_bm25_scores_of_some_chunks_are_their_scores_among_all():
    rng = np.random.default_rng(5)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    texts = [" ".join(rng.choice(words, int(rng.integers(1, 12)))) for _ in range(200)]
    bm = BM25(texts)
    query = "gamma theta and omega"
    rows = [17, 3, 150, 3, 99]
    assert np.allclose(bm.scores_of(query, rows), bm.scores(query)[rows], rtol=0, atol=1e-12)
    assert bm.scores_of("omega", rows).tolist() == [0.0] * 5 and bm.scores_of(query, []).size == 0
