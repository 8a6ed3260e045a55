"""The shipped generative relation model (extractors/weights/relations-generative) on the real
Gemma 3 270M base: chosen by "auto" for a schema whose types the classifier never saw, and well
formed on adversarial inputs. One module-scoped load (about a minute)."""

from __future__ import annotations

import pytest

from extractors.encoder.base import WEIGHTS_DIR
from extractors.registry import classifier_knows, load_relation_extractor
from extractors.relations.generative import GenerativeRelationExtractor
from graph_schema import Schema, load_schema
from kg.types import Chunk, Mention

FILM = Schema.from_dict({
    "name": "film",
    "entity_types": {"Film": {"description": "film"}, "Human": {"description": "human"},
                     "Country": {"description": "country"}},
    "relation_types": {"director": {"head": ["Film"], "tail": ["Human"]},
                       "country_of_origin": {"head": ["Film"], "tail": ["Country"]}},
}, "<test>")


def test_auto_keeps_the_classifier_for_the_types_it_knows():
    marker = WEIGHTS_DIR / "relations-default"
    assert classifier_knows(marker, load_schema("conll04")) and classifier_knows(marker, load_schema("default"))
    assert not classifier_knows(marker, FILM)


@pytest.fixture(scope="module")
def model():
    ext = load_relation_extractor("auto", FILM)
    assert isinstance(ext, GenerativeRelationExtractor) and ext.name == "relations-generative"
    ext.max_new_tokens = 32  # bounds the adversarial inputs' time; a sentence's triples fit
    return ext


def test_it_writes_schema_valid_relations_between_the_given_mentions(model):
    text = "Titanic is a 1997 American film directed by James Cameron ."
    chunk = Chunk("d:0", "d", 0, text, 0, len(text), sentences=[(0, len(text))])
    ms = [Mention("Titanic", "Film", 0, 7), Mention("American", "Country", 18, 26),
          Mention("James Cameron", "Human", 44, 57)]
    [rels] = model.extract([chunk], [ms])
    assert rels  # a schema it did not train on: new entity types, and country_of_origin is a new name
    for r in rels:
        assert FILM.allowed(r.type, ms[r.head].type, ms[r.tail].type) and 0 < r.confidence <= 1
        assert (r.start, r.end) == (0, len(text)) and r.model == "relations-generative"
    # Known gap of the shipped 28-step adapter: it writes country_of_origin(Titanic, American) but
    # misses director(Titanic, James Cameron); a longer training run is the fix.


@pytest.mark.parametrize("text", ["", ("Acme Corp hired John Smith in Boston . " * 130)[:5000],
                                  'He said "{Titanic}" | director | {Cameron}\n }{ <eos>',
                                  "Иван Петров снял фильм «Титаник» в Москве ."],
                         ids=["empty", "5000-chars", "quotes-braces", "non-english"])
def test_span_mode_outputs_on_adversarial_inputs_are_well_formed(model, text):
    [triples] = model.extract_spans([text])
    for (hs, he), rel, (ts, te), conf in triples:
        assert 0 <= hs < he <= len(text) and 0 <= ts < te <= len(text) and (hs, he) != (ts, te)
        assert rel in FILM.relation_types and 0 < conf <= 1
    assert text.strip() or triples == []
