"""Rank fusion, the same for every store and every retriever."""

from __future__ import annotations

from collections import defaultdict
from typing import Hashable, Sequence

RRF_K = 60  # reciprocal rank fusion constant (Cormack et al. 2009)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hashable]], k: int = RRF_K) -> list[tuple[Hashable, float]]:
    """(item, fused score) best first: each ranking adds 1 / (k + rank); ties go to the smaller item."""
    fused: dict[Hashable, float] = defaultdict(float)
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] += 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
