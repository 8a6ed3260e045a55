"""Training the transformer NER tagger (extractors/training/tagger.py): a tiny real run through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from extractors.entities.tagger import TransformerEntityExtractor, is_token_ner_model
from extractors.registry import load_entity_extractor
from graph_schema import load_schema
from kg.cli import main
from kg.types import Chunk


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
