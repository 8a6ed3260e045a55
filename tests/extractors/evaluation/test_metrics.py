"""Shared strict metrics (extractors/evaluation/metrics.py)."""

from __future__ import annotations

from extractors.evaluation.metrics import score_spans


def test_scoring_is_strict():
    gold = [[(0, 10, "PER"), (20, 26, "LOC")]]
    micro, per = score_spans(gold, [[(0, 10, "PER"), (20, 26, "LOC")]])
    assert micro.f1 == 1.0
    micro, per = score_spans(gold, [[(0, 9, "PER"), (20, 26, "ORG")]])  # off by one, wrong type
    assert (micro.tp, micro.fp, micro.fn, micro.f1) == (0, 2, 2, 0.0)
    micro, per = score_spans(gold, [[(0, 10, "PER")]])
    assert micro.precision == 1.0 and micro.recall == 0.5 and per["LOC"].recall == 0.0
