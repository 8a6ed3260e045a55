"""Entity resolution on the real embedding model."""

import pytest

from kg.embed import get_embedder
from kg.resolve import DocMention, EntityResolver, alias_keys, lookup_keys, name_key
from kg.types import Mention


@pytest.fixture(scope="module")
def resolver():
    return EntityResolver(get_embedder(), threshold=0.9)


def _m(doc, text, type_):
    return DocMention(doc, Mention(text, type_, 0, len(text)))


def test_name_keys():
    assert name_key("The Apple Inc.") == name_key("apple") == "apple"
    assert name_key("Microsoft's") == "microsoft"
    # long names and short all-caps names meet through opposite acronym keys
    assert set(lookup_keys(["IBM"], "Organization")) & set(alias_keys(["International Business Machines"], "Organization"))
    assert not set(lookup_keys(["Misraq Gojjam"], "Location")) & set(alias_keys(["Mirab Gojjam"], "Location"))
    assert "~wo" not in alias_keys(["2002 Winter Olympics"], "Misc")


def test_merges_duplicates_and_keeps_aliases(resolver):
    ms = [
        _m("d1", "Tim Cook", "Person"), _m("d1", "Cook", "Person"),
        _m("d1", "IBM", "Organization"), _m("d2", "International Business Machines", "Organization"),
        _m("d2", "Apple Inc.", "Organization"), _m("d1", "Apple", "Organization"),
        _m("d2", "Barack Obama", "Person"), _m("d2", "Michelle Obama", "Person"),
        _m("d3", "Apple", "Misc"),  # another type: never merged with the company
    ]
    res = resolver.resolve(ms)
    ids = res.entity_ids
    assert ids[0] == ids[1]
    assert ids[2] == ids[3]
    assert ids[4] == ids[5]
    assert ids[6] != ids[7]
    assert ids[8] != ids[5]
    ibm = next(e for e in res.entities if e.id == ids[2])
    assert ibm.aliases == ["IBM", "International Business Machines"]


def test_ids_are_deterministic(resolver):
    ms = [_m("d1", "Acme Corporation", "Organization"), _m("d1", "Boston", "Location")]
    a = resolver.resolve(ms).entity_ids
    b = resolver.resolve(list(reversed(ms))).entity_ids
    assert a == list(reversed(b))  # the id depends on the entity, not on the order seen
