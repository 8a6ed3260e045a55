import pytest

from graph_schema import SchemaError, load_schema
from graph_schema.schema import Schema


def test_default_schema_loads_and_constrains_pairs():
    s = load_schema()
    assert s.entity_type_for_label("GPE") == "Location" and s.entity_type_for_label("DATE") is None
    assert "WORKS_FOR" in s.relations_for("Person", "Organization")
    assert not s.allowed("WORKS_FOR", "Organization", "Person")


def _schema(rel_name, head=("A",)):
    return {"entity_types": {"A": {}, "B": {}}, "relation_types": {rel_name: {"head": list(head), "tail": ["B"]}}}


@pytest.mark.parametrize("bad, msg", [
    (_schema("PART_OF"), "reserved"),
    (_schema("MENTIONED_IN"), "reserved"),
    (_schema("has space"), "identifier"),
    (_schema("R", head=("Nope",)), "unknown entity type"),
    ({"entity_types": {}}, "non-empty"),
])
def test_bad_schemas_are_refused(bad, msg):
    with pytest.raises(SchemaError, match=msg):
        Schema.from_dict(bad)


def test_missing_schema_file():
    with pytest.raises(SchemaError, match="not found"):
        load_schema("/no/such/schema.yaml")


def test_entity_type_resolution_flags():
    s = load_schema()
    assert s.entity_types["Person"].person_name and not s.entity_types["Person"].acronyms
    assert s.entity_types["Organization"].acronyms and not s.entity_types["Group"].acronyms
    conll = load_schema("conll04")
    assert conll.entity_types["Peop"].person_name and conll.entity_types["Other"].acronyms
    assert Schema.from_dict(s.to_dict()).entity_types == s.entity_types  # written and read back
    with pytest.raises(SchemaError, match="person_name must be true or false"):
        Schema.from_dict({"entity_types": {"A": {"person_name": "false"}}})


def test_relation_cues_are_read_and_written():
    s = load_schema()
    assert {"work", "employ", "ceo"} <= set(s.relation_types["WORKS_FOR"].cues)
    assert set(load_schema("conll04").relation_types["Work_For"].cues) == set(s.relation_types["WORKS_FOR"].cues)
    assert Schema.from_dict(s.to_dict()).relation_types == s.relation_types  # written and read back
    plain = Schema.from_dict(_schema("R"))
    assert plain.relation_types["R"].cues == () and "cues" not in plain.to_dict()["relation_types"]["R"]
    bad = _schema("R")
    bad["relation_types"]["R"]["cues"] = "work"
    with pytest.raises(SchemaError, match="cues must be a list of words"):
        Schema.from_dict(bad)
