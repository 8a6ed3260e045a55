"""The transformer NER (extractors/transformer_ner.py): casing features, BIO codec and
Viterbi, a tiny real training run through the CLI, and the shipped CoNLL04 model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from extractors import datasets as ds
from extractors.ner import load_entity_extractor
from extractors.relation_model import load_base
from extractors.transformer_ner import (
    CASES,
    TagCodec,
    TransformerEntityExtractor,
    case_class,
    is_token_ner_model,
)
from graph_schema import load_schema
from kg.cli import main
from kg.config import get_settings
from kg.types import Chunk

DATA = Path(get_settings().datasets_dir)
SHIPPED = Path(__file__).resolve().parent.parent / "extractors" / "weights" / "ner-conll04-minilm"


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


def _tiny_jsonl(tmp_path: Path) -> Path:
    rows = []
    for i, (who, where) in enumerate([("John Smith", "Boston"), ("Mary Jones", "Paris"), ("Ada Lovelace", "London"),
                                      ("Alan Turing", "Wilmslow")] * 3):
        text = f"{who} lives in {where} ."
        rows.append({"id": str(i), "text": text, "entities": [
            {"start": 0, "end": len(who), "type": "Peop"},
            {"start": text.index(where), "end": text.index(where) + len(where), "type": "Loc"}]})
    p = tmp_path / "tiny.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


def test_cli_train_transformer_ner_and_eval(tmp_path, capsys):
    data = _tiny_jsonl(tmp_path)
    out = tmp_path / "tagger"
    rc = main(["train", "ner", "--arch", "transformer", "--data", str(data), "--dev", str(data), "--out", str(out),
               "--epochs", "2", "--layers", "1", "--batch-size", "4", "--seed", "3"])
    res = capsys.readouterr()
    assert rc == 0, res.err
    assert is_token_ner_model(out) and (out / "model.safetensors").stat().st_size < 50e6
    card = (out / "MODEL_CARD.md").read_text()
    assert "--arch transformer" in card and "Peop" in card
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["entity_types"] == ["Loc", "Peop"] and len(cfg["training"]["history"]) == 2
    rc = main(["eval", "ner", "--dataset", str(data), "--model", str(out), "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0 and rep["sentences"] == 12 and 0.0 <= rep["f1"] <= 1.0
    # --init: start from that model's encoder (its layer count and features), new head for new types
    relabeled = tmp_path / "relabeled.jsonl"
    relabeled.write_text(data.read_text().replace('"Peop"', '"Person"'), encoding="utf-8")
    rc = main(["train", "ner", "--arch", "transformer", "--data", str(relabeled), "--out", str(tmp_path / "b"),
               "--init", str(out), "--max-steps", "1", "--batch-size", "4"])
    capsys.readouterr()
    cfg_b = json.loads((tmp_path / "b" / "config.json").read_text())
    assert rc == 0 and cfg_b["num_layers"] == 1 and cfg_b["entity_types"] == ["Loc", "Person"]
    assert cfg_b["training"]["init_from"] == str(out) and "--init" in cfg_b["training"]["command"]
    rc = main(["train", "ner", "--arch", "transformer", "--data", str(data), "--out", str(tmp_path / "c"),
               "--init", str(tmp_path / "nothing-here")])
    assert rc == 2 and "no NER model" in capsys.readouterr().err
    # loadable wherever a NER model path is taken; offsets are document offsets
    ext = load_entity_extractor(str(out), load_schema("conll04"))
    assert isinstance(ext, TransformerEntityExtractor)
    text = "John Smith lives in Boston ."
    [ms] = ext.extract([Chunk("d:1", "d", 1, text, 100, 100 + len(text))])
    for m in ms:
        assert text[m.start - 100:m.end - 100] == m.text and m.type in ("Peop", "Loc") and 0 < m.score <= 1


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


@pytest.mark.skipif(not (DATA / "conll04").exists(), reason="shared datasets not present")
def test_shipped_model_dev_f1(capsys):
    rc = main(["eval", "ner", "--dataset", "conll04", "--split", "dev", "--model", str(SHIPPED), "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0 and rep["sentences"] == 231
    assert rep["f1"] > 0.84, rep["f1"]  # spaCy's ner-conll04 scores 0.824 here


def test_pipeline_uses_kg_ner_model(monkeypatch):
    from kg.config import REPO_ROOT, Settings
    from kg.documents import make_document
    from kg.pipeline import Pipeline

    monkeypatch.setenv("KG_NER_MODEL", str(SHIPPED))
    settings = Settings(schema_path=REPO_ROOT / "graph_schema" / "conll04.yaml",
                        relation_model=str(REPO_ROOT / "extractors" / "weights" / "relations-conll04"))
    assert settings.ner_model == str(SHIPPED)
    p = Pipeline.from_settings(settings)
    assert isinstance(p.entities, TransformerEntityExtractor)
    text = "Mary Jones , a chemist who works for Dow Chemical Co. , lives in Midland , Michigan ."
    [res] = p.extract([make_document(text, id="d")])
    [ms], [rels] = res.mentions, res.relations
    assert {("Mary Jones", "Peop"), ("Midland", "Loc")} <= {(m.text, m.type) for m in ms}
    facts = {(ms[r.head].text, r.type, ms[r.tail].text) for r in rels}
    assert {("Mary Jones", "Work_For", "Dow Chemical Co."), ("Midland", "Located_In", "Michigan")} <= facts
