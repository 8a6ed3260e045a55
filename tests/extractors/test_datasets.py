"""Dataset readers (extractors/datasets.py): the public datasets' converters on real rows, CoNLL-2003."""

from __future__ import annotations

import json

import pytest

from extractors import datasets as ds
from extractors.datasets import Example, read_conll2003
from tests.datasets import DATA, needs_datasets

CONLL03 = DATA / "conll2003"
needs_conll03 = pytest.mark.skipif(not (CONLL03 / "eng.testb").exists(), reason="CoNLL-2003 not in datasets_dir")


def _span(ex, ent_id):
    e = next(e for e in ex.entities if e.id == ent_id)
    return ex.text[e.start:e.end], e.type


def _triples(ex):
    return {(_span(ex, r.head)[0], r.type, _span(ex, r.tail)[0]) for r in ex.relations}


# --- converters on real rows ---

@needs_datasets
def test_conll04_default_mapping():
    ex = ds.load_dataset("conll04", "train", "default")[0]
    assert ex.text.startswith("Newspaper ` Explains ' U.S. Interests Section")
    assert ("Radio Reloj Network", "Organization") in {_span(ex, e.id) for e in ex.entities}
    assert ("13 Feb 94", "Misc") in {_span(ex, e.id) for e in ex.entities}
    assert _triples(ex) == {("Radio Reloj Network", "BASED_IN", "Havana")}
    native = ds.load_dataset("conll04:train", None, "conll04")[0]
    assert _triples(native) == {("Radio Reloj Network", "OrgBased_In", "Havana")}
    assert _span(native, "e2") == ("Radio Reloj Network", "Org")


@needs_datasets
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


@needs_datasets
def test_casrel_last_word_spans_and_inferred_types():
    ex = next(ds.from_casrel(DATA / "webnlg_star" / "train_triples.json"))
    # 'Alan Bean ... born in Wheeler , Texas': entities are marked on their last word
    assert {_span(ex, e.id) for e in ex.entities} == {("Bean", "Person"), ("Texas", "Location")}
    assert _triples(ex) == {("Bean", "BORN_IN", "Texas")}
    # an inverted mapping: "<club> manager <person>" -> person WORKS_FOR club
    rows = ds.load_dataset("webnlg_star", "train", "default")
    assert any(r.type == "WORKS_FOR" and _span(x, r.head)[1] == "Person" for x in rows for r in x.relations)


# --- CoNLL-2003 ---

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
