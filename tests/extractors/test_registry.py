"""The registry (extractors/registry.py): configuration values -> extractors, and the pipeline's use of it."""

from __future__ import annotations

from extractors.encoder.base import WEIGHTS_DIR
from extractors.entities.tagger import TransformerEntityExtractor

SHIPPED = WEIGHTS_DIR / "ner-conll04-minilm"


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


def test_configuration_values_name_the_extractors():
    from extractors.entities.spacy import SpacyEntityExtractor
    from extractors.registry import load_entity_extractor, load_relation_extractor
    from extractors.relations.dependency import DependencyRelationExtractor
    from extractors.relations.marker import MarkerRelationExtractor
    from graph_schema import load_schema

    schema = load_schema("conll04")
    for name in ("dep", "baseline", "dep-baseline"):
        assert isinstance(load_relation_extractor(name, schema), DependencyRelationExtractor)
    auto = load_relation_extractor("auto", schema)
    assert isinstance(auto, MarkerRelationExtractor) and auto.name == "relations-default"
    model = load_relation_extractor(str(WEIGHTS_DIR / "relations-conll04"), schema, threshold=0.9, precision="fp32")
    assert model.name == "relations-conll04" and model.threshold == 0.9 and model.precision == "fp32"
    assert isinstance(load_entity_extractor(SHIPPED, schema), TransformerEntityExtractor)
    assert isinstance(load_entity_extractor(WEIGHTS_DIR / "ner-conll04", schema), SpacyEntityExtractor)
