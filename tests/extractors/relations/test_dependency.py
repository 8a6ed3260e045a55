"""The dependency-path baseline (extractors/relations/dependency.py) reads its cue words from the schema."""

from __future__ import annotations

from extractors.relations.dependency import DependencyRelationExtractor
from graph_schema import load_schema
from graph_schema.schema import Schema
from kg.types import Chunk, Mention

TEXT = "John Smith is the president of Acme Corporation."


def _found(schema: Schema) -> set[tuple[str, str, str]]:
    chunk = Chunk("d:0", "d", 0, TEXT, 0, len(TEXT), sentences=[(0, len(TEXT))])
    ms = [Mention("John Smith", "Person", 0, 10, "d:0"), Mention("Acme Corporation", "Organization", 31, 47, "d:0")]
    [rels] = DependencyRelationExtractor(schema).extract([chunk], [ms])
    return {(ms[r.head].text, r.type, ms[r.tail].text) for r in rels}


def _schema(relation: str, cues: list[str]) -> Schema:
    return Schema.from_dict({"name": "test", "entity_types": {"Person": {}, "Organization": {}},
                             "relation_types": {relation: {"head": ["Person"], "tail": ["Organization"],
                                                           "cues": cues}}})


def test_cues_come_from_the_schema():
    assert _found(load_schema("default")) == {("John Smith", "WORKS_FOR", "Acme Corporation")}
    # the relation's name means nothing: a renamed relation with the same cue is found, one without none
    assert _found(_schema("EMPLOYED_BY", ["president"])) == {("John Smith", "EMPLOYED_BY", "Acme Corporation")}
    assert _found(_schema("WORKS_FOR", [])) == set()
