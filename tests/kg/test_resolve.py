"""Entity resolution on the real embedding model."""

import pytest

from graph_schema import load_schema
from kg.embed import get_embedder
from kg.resolve import DocMention, EntityResolver, alias_keys, lookup_keys, name_key
from kg.types import Mention

TYPES = load_schema().entity_types


@pytest.fixture(scope="module")
def resolver():
    return EntityResolver(get_embedder(), threshold=0.9)


def _m(doc, text, type_):
    return DocMention(doc, Mention(text, type_, 0, len(text)))


def test_name_keys():
    assert name_key("The Apple Inc.") == name_key("apple") == "apple"
    assert name_key("Microsoft's") == "microsoft"
    # long names and short all-caps names meet through opposite acronym keys
    org, loc, misc = TYPES["Organization"], TYPES["Location"], TYPES["Misc"]
    assert set(lookup_keys(["IBM"], org)) & set(alias_keys(["International Business Machines"], org))
    assert not set(lookup_keys(["Misraq Gojjam"], loc)) & set(alias_keys(["Mirab Gojjam"], loc))
    assert "~wo" not in alias_keys(["2002 Winter Olympics"], misc)


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


# --- distinct entities that merely share a word -------------------------------------------

FIRST_NAMES = ["Richard", "John", "Michael", "Robert", "Donald"]


def _corpus() -> list[DocMention]:
    """Short generated documents: five Nguyens, each twice, named in full then by surname alone;
    organisations that share a first word; an acronym; a surname alone in a document of its own."""
    docs: list[tuple[str, str, list[str]]] = []
    for round_ in range(2):
        for first in FIRST_NAMES:
            docs.append((f"{first.lower()}-{round_}", "Person", [f"{first} Nguyen", "Nguyen", "Nguyen"]))
    docs += [
        ("acme-1", "Organization", ["Acme Corporation", "Acme Corp."]),
        ("acme-2", "Organization", ["Acme Industries", "Acme Industries"]),
        ("acme-3", "Organization", ["Acme Corporation"]),
        ("ibm-1", "Organization", ["IBM", "IBM"]),
        ("ibm-2", "Organization", ["International Business Machines"]),
        ("cook-1", "Person", ["Tim Cook", "Cook"]),
        ("cook-2", "Person", ["Cook"]),  # no full name here: never joins "Tim Cook"
        ("obama-1", "Person", ["Barack Obama", "Michelle Obama", "Obama"]),  # ambiguous "Obama"
    ]
    return [DocMention(doc, Mention(name, type_, 0, len(name))) for doc, type_, names in docs for name in names]


def _entities(res) -> set[tuple]:
    return {(e.id, e.name, e.type, tuple(e.aliases), tuple(e.keys)) for e in res.entities}


def _by_name(entities) -> dict[str, list]:
    out: dict[str, list] = {}
    for e in entities:
        out.setdefault(e.name, []).append(e)
    return out


def test_compatible_names():
    from kg.resolve import compatible_names

    for a, b in [("Nguyen, Richard", "Richard Nguyen"), ("Acme Corp.", "Acme Corporation"),
                 ("Müller GmbH", "muller"), ("J. H. Dearle", "John Henry Dearle")]:
        assert compatible_names(a, b), (a, b)
    for a, b in [("Richard Nguyen", "John Nguyen"), ("Acme Corporation", "Acme Industries"),
                 ("World War I", "World War II"), ("U.S.", "Soviet Union"), ("Galaxy S", "Galaxy S9")]:
        assert not compatible_names(a, b), (a, b)


def test_keys_follow_the_schema_flags():
    person, org, group = TYPES["Person"], TYPES["Organization"], TYPES["Group"]
    # a one-word person name is no key of an entity with a full name, unless it is all the entity has
    assert alias_keys(["Richard Nguyen", "Nguyen"], person) == ["richard nguyen"]
    assert alias_keys(["R. Nguyen", "Richard Nguyen"], person) == ["richard nguyen"]
    assert alias_keys(["Nguyen"], person) == ["nguyen"]
    assert alias_keys(["Richard Nguyen", "Nguyen"], group) == ["nguyen", "richard nguyen"]
    assert "^ibm" in alias_keys(["IBM"], org) and alias_keys(["IBM"], person) == ["ibm"]


def test_schema_without_flags_takes_neither_rule():
    from graph_schema.schema import Schema

    plain = Schema.from_dict({"entity_types": {"Person": {}, "Organization": {}}, "relation_types": {}})
    res = EntityResolver(get_embedder(), threshold=0.9, schema=plain).resolve([
        _m("d1", "Tim Cook", "Person"), _m("d1", "Cook", "Person"),
        _m("d1", "IBM", "Organization"), _m("d1", "International Business Machines", "Organization")])
    assert len(set(res.entity_ids)) == 4


def test_names_sharing_a_word_stay_apart_in_one_batch(resolver):
    res = resolver.resolve(_corpus())
    by_name = _by_name(res.entities)
    for first in FIRST_NAMES:  # one entity per full name, each with its own "Nguyen"
        (e,) = by_name[f"{first} Nguyen"]
        assert e.aliases == sorted([f"{first} Nguyen", "Nguyen"]) and e.keys == [f"{first.lower()} nguyen"]
    (acme,) = by_name["Acme Corporation"]
    assert acme.aliases == ["Acme Corp.", "Acme Corporation"]
    assert by_name["Acme Industries"][0].id != acme.id
    (ibm,) = by_name["IBM"]
    assert ibm.aliases == ["IBM", "International Business Machines"]
    (cook,) = by_name["Tim Cook"]
    assert cook.aliases == ["Cook", "Tim Cook"]
    assert len(by_name["Cook"]) == 1 and by_name["Cook"][0].aliases == ["Cook"]  # cook-2's, alone
    (obama,) = by_name["Obama"]  # ambiguous in its document: an entity of that document, never looked up
    assert obama.aliases == ["Obama"] and obama.keys == []
    assert {e.name for e in res.entities} == {*(f"{f} Nguyen" for f in FIRST_NAMES), "Acme Corporation",
                                              "Acme Industries", "IBM", "Tim Cook", "Cook", "Barack Obama",
                                              "Michelle Obama", "Obama"}


def test_result_does_not_depend_on_mention_order(resolver):
    import random

    mentions = _corpus()
    expected = resolver.resolve(mentions)
    by_mention = {(dm.doc_id, dm.mention.text): eid for dm, eid in zip(mentions, expected.entity_ids)}
    for seed in range(4):
        shuffled = list(mentions)
        random.Random(seed).shuffle(shuffled)
        res = resolver.resolve(shuffled)
        assert _entities(res) == _entities(expected)
        assert {(dm.doc_id, dm.mention.text): eid for dm, eid in zip(shuffled, res.entity_ids)} == by_mention


def test_mention_name_is_the_surface_form(resolver):
    ms = [DocMention("d1", Mention("Tim Cook's", "Person", 0, 10, name="Tim Cook")),
          DocMention("d1", Mention("Cook", "Person", 20, 24))]
    res = resolver.resolve(ms)
    assert res.entity_ids[0] == res.entity_ids[1] and res.entities[0].aliases == ["Cook", "Tim Cook"]


# --- across runs, on the real embedded store ----------------------------------------------

def _run(resolver, store, mentions):
    """One ingest run as far as entities go: resolve against the store, then write."""
    from kg.types import GraphBatch

    res = resolver.resolve(mentions, store)
    store.upsert(GraphBatch(entities=res.entities))
    return res


def _stored(store) -> list:
    return store.get_entities([r["id"] for r in store.query("MATCH (e:Entity) RETURN e.id AS id ORDER BY id")])


def _halves(mentions):
    """Two batches: each Nguyen's two documents in different ones, "IBM" apart from its long name,
    "Tim Cook" apart from the lone "Cook"."""
    first_docs = {f"{f.lower()}-0" for f in FIRST_NAMES} | {"acme-1", "ibm-1", "cook-2", "obama-1"}
    return ([dm for dm in mentions if dm.doc_id in first_docs],
            [dm for dm in mentions if dm.doc_id not in first_docs])


def test_names_sharing_a_word_stay_apart_across_runs(resolver, store):
    for batch in _halves(_corpus()):
        _run(resolver, store, batch)
    by_name = _by_name(_stored(store))
    for first in FIRST_NAMES:
        (e,) = by_name[f"{first} Nguyen"]
        assert e.aliases == sorted([f"{first} Nguyen", "Nguyen"]) and e.keys == [f"{first.lower()} nguyen"]
    (ibm,) = by_name["IBM"]  # ibm-1 came first
    assert ibm.aliases == ["IBM", "International Business Machines"]
    (acme,) = by_name["Acme Corporation"]
    (industries,) = by_name["Acme Industries"]
    assert acme.aliases == ["Acme Corp.", "Acme Corporation"] and industries.aliases == ["Acme Industries"]
    assert by_name["Tim Cook"][0].aliases == ["Cook", "Tim Cook"] and by_name["Cook"][0].aliases == ["Cook"]

    later = _run(resolver, store, [_m("c1", "Nguyen", "Person"), _m("c2", "R. Nguyen", "Person"),
                                   _m("c3", "Nguyen, Richard", "Person"), _m("c4", "Acme Corp.", "Organization"),
                                   _m("c5", "Acme Industries Inc.", "Organization")])
    full_ids = {by_name[f"{f} Nguyen"][0].id for f in FIRST_NAMES}
    lone, initial, inverted, corp, inc = later.entity_ids
    assert lone not in full_ids and initial not in full_ids  # partial names never join a stored full name
    assert inverted == by_name["Richard Nguyen"][0].id  # compatible names, similar embeddings
    assert corp == acme.id and inc == industries.id
    again = _run(resolver, store, [_m("c6", "Nguyen", "Person")])
    assert again.entity_ids == [lone]  # a surname alone meets the stored surname alone, by key


def test_batches_in_either_order_give_the_same_entities(resolver, store):
    a, b = _halves(_corpus())
    results = []
    for batches in ((a, b), (b, a)):
        store.clear()
        for batch in batches:
            _run(resolver, store, batch)
        results.append(_stored(store))
    partitions = [{tuple(e.aliases) for e in entities} for entities in results]
    assert partitions[0] == partitions[1]
    # a stored entity keeps its first name and id: the same in both orders where each batch names it alike
    people = [{(e.id, e.name, tuple(e.aliases)) for e in entities if e.name.endswith(" Nguyen")}
              for entities in results]
    assert people[0] == people[1] and len(people[0]) == len(FIRST_NAMES)


def test_a_stored_entity_takes_only_compatible_groups(store):
    # "J. Foods" fits both "Jelly Foods" and "Jam Foods", which conflict: only one may join it
    resolver = EntityResolver(get_embedder(), threshold=0.5)
    (stored,) = _run(resolver, store, [_m("d1", "J. Foods", "Organization")]).entities
    res = _run(resolver, store, [_m("d2", "Jelly Foods", "Organization"), _m("d3", "Jam Foods", "Organization")])
    jelly, jam = res.entity_ids
    assert jelly != jam and stored.id in (jelly, jam)
    assert len(_stored(store)) == 2
