"""The embedder: a vector depends only on its text and the model, never on batch-mates or threads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kg.embed import SentenceTransformerEmbedder, default_model_path
from kg.config import REPO_ROOT

SAMPLES = REPO_ROOT / "samples" / "wikipedia_passages.jsonl"
SHORT = ["Tim Cook", "Apple", "IBM", "International Business Machines", "Palo Alto, California",
         "Tim Cook is the chief executive of Apple.", "Who founded the company that employs Arvind Krishna?"]


@pytest.fixture(scope="module", params=["fp32", "int8"])
def embedder(request):
    return SentenceTransformerEmbedder(precision=request.param)


@pytest.fixture(scope="module")
def texts():
    passages = [json.loads(line)["text"] for line in SAMPLES.read_text(encoding="utf-8").splitlines()]
    return SHORT + passages[:20] + ["word " * 400]  # the last one is truncated at 256 tokens


def test_vectors_do_not_depend_on_batch_mates_or_threads(embedder, texts):
    reference = embedder.embed(texts)
    assert reference.shape == (len(texts), 384) and reference.dtype == np.float32
    assert np.allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-5)
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    assert np.array_equal(alone, reference)
    rng = np.random.default_rng(0)
    for size in (2, 3, 7, len(texts)):  # batches of mixed lengths and sizes, in shuffled orders
        order = rng.permutation(len(texts))[:size]
        assert np.array_equal(embedder.embed([texts[i] for i in order]), reference[order])
    threads = torch.get_num_threads()
    try:
        for n in (1, 3):
            torch.set_num_threads(n)
            assert np.array_equal(embedder.embed(texts[::-1]), reference[::-1])
    finally:
        torch.set_num_threads(threads)


def test_query_vectors_are_computed_alone_and_match_stored_ones(embedder, texts):
    """embed_queries skips the filler rows: each text alone, so batch-mates and threads still change
    nothing, and the vector is embed's up to rounding (another matmul shape)."""
    short = texts[:9]
    reference = embedder.embed_queries(short)
    assert np.array_equal(np.stack([embedder.embed_queries([t])[0] for t in short]), reference)
    assert np.array_equal(embedder.embed_queries(short[::-1]), reference[::-1])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert np.array_equal(embedder.embed_queries(short), reference)
    finally:
        torch.set_num_threads(threads)
    assert (reference * embedder.embed(short)).sum(1).min() > 0.99999


def test_one_computation_per_distinct_token_sequence(embedder, texts):
    """An uncased model reads "TIM COOK" and "Tim Cook" as one text: computed once in a call,
    and the vector is the one computed alone."""
    alone = embedder.embed(["Tim Cook"])
    calls = []
    forward = embedder.bert.forward
    embedder.bert.forward = lambda *a, **k: calls.append(1) or forward(*a, **k)
    try:
        both = embedder.embed(["TIM COOK", "Tim Cook", "tim cook"])
    finally:
        del embedder.bert.forward
    assert len(calls) == 1 and all(np.array_equal(v, alone[0]) for v in both)


def test_same_vectors_as_sentence_transformers(texts):
    """fp32 is the reference model itself; int8 stays close to it."""
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(default_model_path(), device="cpu").encode(
        texts, normalize_embeddings=True, convert_to_numpy=True)
    fp32 = SentenceTransformerEmbedder(precision="fp32").embed(texts)
    int8 = SentenceTransformerEmbedder(precision="int8").embed(texts)
    assert (fp32 * ref).sum(1).min() > 0.99999
    assert (int8 * ref).sum(1).min() > 0.99


def test_empty_input():
    assert SentenceTransformerEmbedder().embed([]).shape == (0, 384)
