"""`kg train` errors (kg/cli/train.py): one line on stderr, exit code 2."""

from __future__ import annotations

import json

import pytest

from kg.cli import main


# --- CLI errors: one line on stderr, exit code 2 ---

def _one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("kg: error:") and "Traceback" not in err[0]
    return err[0]


def test_cli_train_missing_file(capsys, tmp_path):
    msg = _one_line_error(capsys, ["train", "relations", "--data", str(tmp_path / "nope.jsonl"),
                                   "--schema", "conll04", "--out", str(tmp_path / "m")])
    assert "nope.jsonl" in msg


def test_cli_train_malformed_jsonl(capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "entities": []}\n{"text": oops}\n', encoding="utf-8")
    msg = _one_line_error(capsys, ["train", "relations", "--data", str(bad), "--schema", "conll04",
                                   "--out", str(tmp_path / "m")])
    assert "bad.jsonl:2" in msg and "invalid JSON" in msg


def test_cli_train_unknown_relation_type(capsys, tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps({"text": "Ada worked for Acme.", "entities": [
        {"id": "a", "start": 0, "end": 3, "type": "Peop"}, {"id": "b", "start": 15, "end": 19, "type": "Org"}],
        "relations": [{"head": "a", "tail": "b", "type": "EMPLOYED_BY"}]}) + "\n", encoding="utf-8")
    msg = _one_line_error(capsys, ["train", "relations", "--data", str(f), "--schema", "conll04",
                                   "--out", str(tmp_path / "m")])
    assert "EMPLOYED_BY" in msg and "conll04" in msg


def test_cli_unknown_dataset(capsys, tmp_path):
    msg = _one_line_error(capsys, ["train", "relations", "--data", "nosuchset:train", "--schema", "conll04",
                                   "--out", str(tmp_path / "m")])
    assert "nosuchset" in msg


@pytest.mark.parametrize("what", ["relations", "ner"])
def test_an_unwritable_out_is_refused_before_training(what, capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["train", what, "--data", "conll04:train", "--out", str(blocker / "model")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write there" in err and "Traceback" not in err
