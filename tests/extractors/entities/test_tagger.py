"""The transformer NER tagger (extractors/entities/tagger.py): casing features, BIO codec and
Viterbi, and the shipped CoNLL04 model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from extractors.encoder.base import WEIGHTS_DIR, load_base
from extractors.entities.tagger import (
    CASES,
    TagCodec,
    TransformerEntityExtractor,
    case_class,
    is_token_ner_model,
)
from graph_schema import load_schema
from kg.cli import main
from kg.types import Chunk
from tests.datasets import needs_datasets

SHIPPED = WEIGHTS_DIR / "ner-conll04-minilm"


@pytest.fixture(scope="module")
def codec():
    tok, _ = load_base(1)
    return TagCodec(tok, ["Peop", "Loc"], max_length=16)


def test_case_classes():
    assert [CASES[case_class(s)] for s in ("smith", "Smith", "IBM", "McDonald", "1994", ",", "A")] == \
        ["lower", "title", "upper", "mixed", "digit", "other", "title"]


def test_gold_tags_round_trip_to_spans(codec):
    text = "John Smith lives in New York City ."
    gold = [(0, 10, "Peop"), (20, 33, "Loc")]
    [w] = codec.encode([text], [gold])
    tags = w.tags[1:-1]
    assert [codec.tags[t] for t in tags][:2] == ["B-Peop", "I-Peop"]
    assert [(s, e, t) for s, e, t, _ in codec.spans(tags, w.offsets)] == gold
    assert w.cases[1:3] == [CASES.index("title")] * 2 and w.cases[0] == 0  # CLS is padding-class


def test_long_text_is_split_into_windows(codec):
    text = " ".join(f"Word{i}" for i in range(40))
    windows = codec.encode([text])
    assert len(windows) > 1 and all(len(w.ids) <= 16 for w in windows)
    assert windows[0].offsets[0][0] == 0 and windows[-1].offsets[-1][1] == len(text)


def test_viterbi_only_emits_valid_bio(codec):
    rng = np.random.default_rng(0)
    for _ in range(50):
        logp = np.log(rng.dirichlet(np.ones(len(codec.tags)), size=12))
        path = codec.viterbi(logp)
        names = ["O"] + [codec.tags[t] for t in path]
        for prev, cur in zip(names, names[1:]):
            if cur.startswith("I-"):
                assert prev in (f"B-{cur[2:]}", cur), names


def test_shipped_model_finds_people_and_places():
    assert is_token_ner_model(SHIPPED), "extractors/weights/ner-conll04-minilm must ship with the repository"
    assert (SHIPPED / "model.safetensors").stat().st_size < 50e6 and (SHIPPED / "MODEL_CARD.md").exists()
    ext = TransformerEntityExtractor.load(SHIPPED, load_schema("conll04"))
    text = "John Smith , a lawyer at Acme Corp. , lives in Boston , Massachusetts ."
    [ms] = ext.extract([Chunk("d:0", "d", 0, text, 0, len(text))])
    found = {(m.text, m.type) for m in ms}
    assert {("John Smith", "Peop"), ("Boston", "Loc"), ("Massachusetts", "Loc")} <= found
    # types outside the pipeline schema are dropped: the default schema maps none of Peop/Loc/...
    # except through labels, so a schema without them yields nothing
    default = TransformerEntityExtractor.load(SHIPPED, load_schema("default"))
    assert all(m.type in load_schema("default").entity_types for m in default.extract(
        [Chunk("d:0", "d", 0, text, 0, len(text))])[0])


@needs_datasets
def test_shipped_model_dev_f1(capsys):
    rc = main(["eval", "ner", "--dataset", "conll04", "--split", "dev", "--model", str(SHIPPED), "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0 and rep["sentences"] == 231
    assert rep["f1"] > 0.84, rep["f1"]  # spaCy's ner-conll04 scores 0.824 here
