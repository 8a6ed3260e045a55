"""spaCy NER as an entity extractor (extractors/entities/spacy.py): the shipped CoNLL04 pipeline."""

from __future__ import annotations

import pytest

from extractors.encoder.base import WEIGHTS_DIR

SHIPPED = WEIGHTS_DIR / "ner-conll04"


@pytest.mark.skipif(not (SHIPPED / "meta.json").exists(), reason="ner-conll04 not trained yet")
def test_shipped_conll04_model():
    from extractors.entities.spacy import SpacyEntityExtractor
    from graph_schema import load_schema
    from kg.types import Chunk

    from extractors.training.spacy_ner import dir_size

    assert dir_size(SHIPPED) < 20_000_000
    assert (SHIPPED / "MODEL_CARD.md").exists()
    ex = SpacyEntityExtractor(load_schema("conll04"), model=SHIPPED)
    text = "John Smith lives in Boston ."
    [mentions] = ex.extract([Chunk("d:0", "d", 0, text, 0, len(text))])
    found = {(m.text, m.type) for m in mentions}
    assert ("John Smith", "Peop") in found
    assert {m.type for m in mentions} <= {"Peop", "Org", "Loc", "Other"}
