"""BM25 over the chunks' text (Robertson & Zaragoza), kept in memory with the retrieval graph.

The store's full-text index scores by plain TF-IDF, so a long question is ranked by its most
frequent common words ("first president" in a list of presidents); BM25 saturates term
frequency and normalises for length, which is what full-text search over passages needs.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import scipy.sparse as sp

_TOKEN = re.compile(r"[^\W_]+")
STOPWORDS = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how in into is it its "
    "of on or she that the their them they this to was were what when where which who whom whose why "
    "will with would".split())


def tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


class BM25:
    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75):
        vocab: dict[str, int] = {}
        rows, cols, data = [], [], []
        lengths = np.zeros(len(texts))
        for i, text in enumerate(texts):
            counts: dict[int, int] = {}
            toks = tokens(text)
            lengths[i] = len(toks)
            for t in toks:
                j = vocab.setdefault(t, len(vocab))
                counts[j] = counts.get(j, 0) + 1
            for j, c in counts.items():
                rows.append(i)
                cols.append(j)
                data.append(c)
        n = len(texts)
        tf = sp.csr_matrix((np.array(data, dtype=np.float64), (rows, cols)), shape=(n, len(vocab)))
        df = np.bincount(np.array(cols, dtype=np.int64), minlength=len(vocab)) if cols else np.zeros(0)
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avg = lengths.mean() if n else 1.0
        # the BM25 term weight of every (chunk, term) pair, computed once
        norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        tf = tf.tocoo()
        weights = tf.data * (k1 + 1) / (tf.data + norm[tf.row]) * self.idf[tf.col]
        self.matrix = sp.csc_matrix((weights, (tf.row, tf.col)), shape=tf.shape)
        self.rows = self.matrix.tocsr()  # by chunk: a few chunks' scores without touching the others
        self.vocab = vocab

    def _terms(self, query: str) -> list[int]:
        return sorted({self.vocab[t] for t in tokens(query) if t in self.vocab})

    def scores(self, query: str) -> np.ndarray:
        """Every chunk's score, in chunk order."""
        terms = self._terms(query)
        if not terms:
            return np.zeros(self.matrix.shape[0])
        return np.asarray(self.matrix[:, terms].sum(axis=1)).ravel()

    def scores_of(self, query: str, chunks: Sequence[int]) -> np.ndarray:
        """The scores of the given chunks only (by their row), as `scores` gives them."""
        terms = self._terms(query)
        if not terms or not len(chunks):
            return np.zeros(len(chunks))
        return np.asarray(self.rows[list(chunks)][:, terms].sum(axis=1)).ravel()
