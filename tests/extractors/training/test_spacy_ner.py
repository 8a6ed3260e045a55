"""Training spaCy NER with spaCy's own loop (extractors/training/spacy_ner.py)."""

from __future__ import annotations

import io

import pytest

from extractors.datasets import from_spert
from kg.config import get_settings

CONLL04 = get_settings().datasets_dir / "conll04"
needs_conll04 = pytest.mark.skipif(not (CONLL04 / "train_triples.json").exists(), reason="CoNLL04 not in datasets_dir")


@needs_conll04
def test_tiny_train_ner(tmp_path):
    import spacy

    from extractors.training.spacy_ner import train_ner

    exs = list(from_spert(CONLL04 / "train_triples.json"))
    train, dev = exs[:40], exs[40:60]
    log = io.StringIO()
    result = train_ner(train, dev, tmp_path / "ner", strategy="init-tok2vec", epochs=0, max_steps=4,
                       eval_frequency=2, seed=1, stdout=log)
    nlp = spacy.load(tmp_path / "ner")
    assert nlp.pipe_names == ["ner"]
    want = sorted({e.type for ex in train for e in ex.entities})
    assert sorted(nlp.get_pipe("ner").labels) == want == result.labels == ["Loc", "Org", "Other", "Peop"]
    assert result.alignment["train"].spans == sum(len(ex.entities) for ex in train)
    assert "ENTS_F" in log.getvalue()  # spaCy's own progress table
    assert result.size_bytes < 20_000_000
    nlp("John Smith lives in Boston .")  # runs
