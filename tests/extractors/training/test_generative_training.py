"""Training data and the LoRA loop of the generative relation extractor, on a tiny randomly
initialised Gemma-shaped model with the real Gemma 3 tokenizer."""

from __future__ import annotations

import json
import random

import pytest

from extractors.relations.generative_format import Codec
from extractors.training.generative import (HELD_OUT_ONTOLOGIES, GenItem, load_items, make_example,
                                            train_generative)
from extractors.relations.generative_format import RelationSpec
from tests.datasets import needs_datasets


@pytest.fixture(scope="module")
def tok():
    from extractors.relations.gemma import load_tokenizer

    return load_tokenizer()


@needs_datasets
def test_dataset_items_have_spans_of_their_text():
    webnlg = load_items("webnlg_star:dev")
    assert len(webnlg) == 500
    # "Bean" (WebNLG* names the last word) is widened to the capitalised words before it
    assert any(it.text[h[0]:h[1]] == "Alan Bean" for it in load_items("webnlg_star:train")[:5] for h, _, _ in it.triples)
    t2kb = load_items("text2kgbench:train")
    assert {it.source.partition(":")[2] for it in t2kb}.isdisjoint(HELD_OUT_ONTOLOGIES)
    held = load_items("text2kgbench:test:" + HELD_OUT_ONTOLOGIES[1])
    assert held and all(it.source.endswith(HELD_OUT_ONTOLOGIES[1]) for it in held)
    for it in webnlg[:50] + t2kb[:200] + held + load_items("conll04:dev")[:50]:
        names = {s.name for s in it.inventory}
        for (hs, he), r, (ts, te) in it.triples:
            assert 0 <= hs < he <= len(it.text) and 0 <= ts < te <= len(it.text) and r in names
    # Text2KGBench test triples whose ends are not in the sentence are kept for the denominator
    assert sum(len(it.unmatched) for it in held) > 0
    # Re-DocRED: sentence-level items in the default schema; in train, only sentences with a label
    docred = load_items("re-docred:train")
    assert docred and all(it.triples for it in docred) and len(load_items("re-docred:validation")) > 0
    assert {s.name for s in docred[0].inventory} >= {"BORN_IN", "LOCATED_IN"} and "Person" in docred[0].describe
    for it in docred[:200]:
        names = {s.name for s in it.inventory}
        for (hs, he), r, (ts, te) in it.triples:
            assert 0 <= hs < he <= len(it.text) and 0 <= ts < te <= len(it.text) and r in names


def test_examples_list_a_varied_relation_set_and_answer_only_listed_relations(tok):
    codec = Codec(tok)
    inv = [RelationSpec(n, ("Person",), ("Place",)) for n in ("born_in", "lives_in", "died_in", "works_in")]
    item = GenItem("Ada Lovelace was born in London .", [((0, 12), "born_in", (25, 31))], inv, {"Place": "place"})
    rng = random.Random(0)
    seen_lists, dropped = set(), 0
    for _ in range(60):
        prompt, answer = make_example(item, codec, rng)
        text = tok.decode(prompt)
        listed = tuple(n for n in ("born_in", "lives_in", "died_in", "works_in") if f" {n} (" in text)
        seen_lists.add(listed)
        assert "(Person, place)" in text  # types named by their descriptions
        if "born_in" in listed:
            assert tok.decode(answer) == "Ada Lovelace | born_in | London\n<eos>"
        else:
            dropped += 1
            assert answer == [codec.eos]
    assert len(seen_lists) > 5 and 0 < dropped < 30


@needs_datasets
def test_lora_training_is_seeded_and_saves_a_loadable_adapter(tok, tmp_path):
    from peft import PeftModel

    from extractors.relations.gemma import tiny_model

    items = load_items("conll04:dev")[:24]
    runs = []
    for k in range(2):
        cfg = train_generative(items, tmp_path / f"run{k}", model=tiny_model(len(tok)), tokenizer=tok, max_steps=3,
                               batch_size=4, save_every=2, log=lambda m: None)
        runs.append(cfg["training"])
    a, b = runs
    assert a["steps"] == 3 and a["loss_curve"][-1][0] == 3
    assert [v for _, v in a["loss_curve"]] == pytest.approx([v for _, v in b["loss_curve"]], rel=1e-4)
    saved = json.loads((tmp_path / "run0" / "config.json").read_text())
    assert saved["format"] == "kg-generative-relations/1" and saved["training"]["steps"] == 3
    m = PeftModel.from_pretrained(tiny_model(len(tok)), str(tmp_path / "run0"))
    assert sum(p.numel() for n, p in m.named_parameters() if "lora_" in n) == a["trainable_parameters"]


@needs_datasets
def test_leave_relations_out_split_partitions_webnlg():
    from extractors.training.generative import left_out_relations

    whole = load_items("webnlg_star:dev")
    seen, unseen = load_items("webnlg_star:dev:seen"), load_items("webnlg_star:dev:unseen")
    out = left_out_relations(whole)
    assert len(out) == 35 and len(seen) + len(unseen) == len(whole) and seen and unseen
    assert {s.name for s in seen[0].inventory}.isdisjoint(out)
    assert all(r not in out for it in seen for _, r, _ in it.triples)
    assert {s.name for s in unseen[0].inventory} == out
    assert all(it.triples and all(r in out for _, r, _ in it.triples) for it in unseen)
    with pytest.raises(Exception, match="seen and unseen"):
        load_items("webnlg_star:dev:other")
