"""Training the marker relation model (extractors/training/relations.py): a tiny real run, seeds."""

from __future__ import annotations

import json

from extractors import datasets as ds
from extractors.relations.marker import MarkerRelationExtractor
from extractors.training.relations import train_relation_model
from graph_schema import load_schema
from kg.types import Chunk, Mention
from tests.datasets import needs_datasets


@needs_datasets
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


@needs_datasets
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
