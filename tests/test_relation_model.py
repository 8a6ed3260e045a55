"""The marker relation model: dataset converters, a tiny real training run, the shipped
artifact, and clean CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extractors import datasets as ds
from extractors.relation_model import (
    MarkerRelationExtractor,
    default_relation_model_path,
    train_relation_model,
)
from graph_schema import load_schema
from kg.cli import main
from kg.config import get_settings
from kg.types import Chunk, Mention

DATA = Path(get_settings().datasets_dir)
needs_data = pytest.mark.skipif(not (DATA / "conll04").exists(), reason="shared datasets not present")


def _span(ex, ent_id):
    e = next(e for e in ex.entities if e.id == ent_id)
    return ex.text[e.start:e.end], e.type


def _triples(ex):
    return {(_span(ex, r.head)[0], r.type, _span(ex, r.tail)[0]) for r in ex.relations}


# --- converters on real rows ---

@needs_data
def test_conll04_default_mapping():
    ex = ds.load_dataset("conll04", "train", "default")[0]
    assert ex.text.startswith("Newspaper ` Explains ' U.S. Interests Section")
    assert ("Radio Reloj Network", "Organization") in {_span(ex, e.id) for e in ex.entities}
    assert ("13 Feb 94", "Misc") in {_span(ex, e.id) for e in ex.entities}
    assert _triples(ex) == {("Radio Reloj Network", "BASED_IN", "Havana")}
    native = ds.load_dataset("conll04:train", None, "conll04")[0]
    assert _triples(native) == {("Radio Reloj Network", "OrgBased_In", "Havana")}
    assert _span(native, "e2") == ("Radio Reloj Network", "Org")


@needs_data
def test_docred_sentence_examples_and_split():
    path = DATA / "re-docred" / "dev_revised.json"
    ex = next(ds.from_docred(path))
    assert ex.id == "Willi Schneider (skeleton racer)#0"
    ents = {_span(ex, e.id) for e in ex.entities}
    assert {('Wilfried " Willi " Schneider', "Person"), ("Mediaș", "Location"), ("Transylvania", "Location")} <= ents
    assert not any(t in ("TIME", "NUM") for _, t in ents) and "13 March 1963" not in {s for s, _ in ents}
    assert {('Wilfried " Willi " Schneider', "BORN_IN", "Mediaș"), ("Mediaș", "LOCATED_IN", "Transylvania")} <= _triples(ex)
    docs = json.loads(path.read_text(encoding="utf-8"))
    splits = [ds.docred_split(d["title"]) for d in docs]
    assert (splits.count("train"), splits.count("validation"), splits.count("test")) == (400, 50, 50)
    assert splits == [ds.docred_split(d["title"]) for d in docs]  # deterministic


@needs_data
def test_casrel_last_word_spans_and_inferred_types():
    ex = next(ds.from_casrel(DATA / "webnlg_star" / "train_triples.json"))
    # 'Alan Bean ... born in Wheeler , Texas': entities are marked on their last word
    assert {_span(ex, e.id) for e in ex.entities} == {("Bean", "Person"), ("Texas", "Location")}
    assert _triples(ex) == {("Bean", "BORN_IN", "Texas")}
    # an inverted mapping: "<club> manager <person>" -> person WORKS_FOR club
    rows = ds.load_dataset("webnlg_star", "train", "default")
    assert any(r.type == "WORKS_FOR" and _span(x, r.head)[1] == "Person" for x in rows for r in x.relations)


# --- training and the artifact ---

@needs_data
def test_tiny_training_run_saves_a_loadable_artifact(tmp_path):
    schema = load_schema("conll04")
    train = ds.load_dataset("conll04", "train", schema)[:30]
    dev = ds.load_dataset("conll04", "dev", schema)[:12]
    out = tmp_path / "tiny"
    summary = train_relation_model(train, schema, out, dev, epochs=3, batch_size=10, seed=1, progress=False,
                                   log=lambda m: None)
    losses = summary["losses"]
    assert len(losses) == 9
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert (out / "model.safetensors").stat().st_size < 50e6
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["temperature"] > 0 and 0 < cfg["threshold"] < 1
    model = MarkerRelationExtractor.load(out)
    assert model.name == "tiny" and model.relations == list(schema.relation_types)
    ex = dev[0]
    chunk = Chunk("d:0", "d", 0, ex.text, 0, len(ex.text))
    ms = [Mention(ex.text[e.start:e.end], e.type, e.start, e.end) for e in ex.entities]
    rels = model.extract([chunk], [ms])[0]
    for r in rels:
        assert 0 <= r.confidence <= 1 and (r.start, r.end) == (0, len(ex.text)) and r.model == "tiny"
        assert schema.allowed(r.type, ms[r.head].type, ms[r.tail].type)


def test_shipped_default_model_finds_works_for():
    path = default_relation_model_path()
    assert path is not None, "extractors/weights/relations-default must ship with the repository"
    model = MarkerRelationExtractor.load(path)
    text = "John Smith is an engineer at Acme Corporation in Boston. Mary Jones lives in Paris."
    s1 = text.index(".") + 1
    chunk = Chunk("d:0", "d", 0, text, 0, len(text), sentences=[(0, s1), (s1 + 1, len(text))])

    def m(name, typ, label):
        i = text.index(name)
        return Mention(name, typ, i, i + len(name), "d:0", label)

    ms = [m("John Smith", "Person", "PERSON"), m("Acme Corporation", "Organization", "ORG"),
          m("Boston", "Location", "GPE"), m("Mary Jones", "Person", "PERSON"), m("Paris", "Location", "GPE")]
    rels = model.extract([chunk], [ms])[0]
    found = {(ms[r.head].text, r.type, ms[r.tail].text) for r in rels}
    assert ("John Smith", "WORKS_FOR", "Acme Corporation") in found
    works = next(r for r in rels if r.type == "WORKS_FOR" and ms[r.head].text == "John Smith")
    assert (works.start, works.end) == (0, s1) and works.model == "relations-default" and 0.5 < works.confidence <= 1
    # Known weakness (README): a bare "X works for Y" scores under the dev-tuned threshold, but
    # WORKS_FOR still ranks first for that pair.
    plain = "Tim Cook works for Apple."
    low = MarkerRelationExtractor.load(path, threshold=0.0)
    pm = [Mention("Tim Cook", "Person", 0, 8, "p:0"), Mention("Apple", "Organization", 19, 24, "p:0")]
    scored = low.extract([Chunk("p:0", "p", 0, plain, 0, len(plain), sentences=[(0, len(plain))])], [pm])[0]
    best = max((r for r in scored if r.head == 0 and r.tail == 1), key=lambda r: r.confidence)
    assert best.type == "WORKS_FOR"
    # never across sentences
    assert not any({ms[r.head].text, ms[r.tail].text} & {"Mary Jones", "Paris"}
                   and {ms[r.head].text, ms[r.tail].text} & {"John Smith", "Acme Corporation", "Boston"} for r in rels)


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


@needs_data
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


@needs_data
@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_scores_do_not_depend_on_batch_mates(precision):
    """A sentence scored alone and inside a batch of others gets the same probabilities
    (per-tensor dynamic int8, tried before, moved one fact from 0.47 to 0.59)."""
    import numpy as np

    from extractors.relation_model import WEIGHTS_DIR

    model = MarkerRelationExtractor.load(WEIGHTS_DIR / "relations-conll04", precision=precision)
    assert model.precision == precision
    dev = ds.load_dataset("conll04", "dev", model.schema)[:60]
    insts = model.encode([ex.text for ex in dev], [[(e.start, e.end, e.type) for e in ex.entities] for ex in dev])
    together = model.score_instances(insts)
    for i in range(0, 60, 6):
        alone = model.score_instances([insts[i]])[0]
        assert alone.shape == together[i].shape
        assert np.abs(alone - together[i]).max(initial=0.0) < 1e-6


@needs_data
def test_cli_calibration_refits_for_a_precision(tmp_path, capsys):
    import shutil

    from extractors.relation_model import WEIGHTS_DIR

    model = tmp_path / "rel"
    shutil.copytree(WEIGHTS_DIR / "relations-conll04", model)
    rc = main(["train", "calibration", "--model", str(model), "--dev", "conll04:dev", "--precision", "fp32"])
    out = capsys.readouterr().out
    assert rc == 0 and "fp32" in out and "dev P" in out
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["precision"] == "fp32" and 0 < cfg["threshold"] < 1 and cfg["temperature"] > 0
    assert "kg train calibration" in (model / "MODEL_CARD.md").read_text()
    assert MarkerRelationExtractor.load(model).precision == "fp32"
    msg = _one_line_error(capsys, ["train", "calibration", "--model", str(tmp_path / "none"), "--dev", "conll04:dev"])
    assert "no relation model" in msg


def test_data_seed_changes_only_the_batch_order(tmp_path):
    """--data-seed reorders batches; --seed alone fixes the initial weights, so runs that differ
    only in data seed can be averaged (kg train average)."""
    schema = load_schema("conll04")
    train = ds.load_dataset("conll04", "train", schema)[:40]

    def run(name, data_seed):
        return train_relation_model(train, schema, tmp_path / name, None, epochs=1, batch_size=10, seed=1,
                                    data_seed=data_seed, num_layers=1, progress=False, log=lambda m: None)

    default, same, other = run("a", None), run("b", 1), run("c", 2)
    assert default["losses"] == same["losses"]  # the data seed defaults to --seed
    assert default["losses"] != other["losses"]
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    assert cfg["training"]["seed"] == 1 and cfg["training"]["data_seed"] == 2
