"""GET /v1/entities, /v1/entities/{id}, /v1/entities/{id}/neighbourhood."""

from tests.api.conftest import DOCS


def _search(client, q, **params):
    r = client.get("/v1/entities", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_search_finds_names_aliases_and_acronyms(client):
    apple = _search(client, "Apple Inc.")[0]
    assert (apple["name"], apple["type"], apple["score"]) == ("Apple", "Organization", 1.0)
    assert apple["aliases"] == ["Apple", "Apple Inc."]
    assert _search(client, "International Business Machines")[0]["name"] == "IBM"
    merkel = _search(client, "merkel", limit=3)
    assert merkel[0]["name"] == "Angela Merkel" and len(merkel) == 3
    assert all(h["type"] == "Location" for h in _search(client, "Apple", type="Location"))
    assert client.get("/v1/entities", params={"q": ""}).status_code == 422
    assert client.get("/v1/entities").status_code == 422


def test_an_entity_with_its_mentions_and_relations_quoting_the_sources(client):
    microsoft = _search(client, "Microsoft")[0]
    r = client.get(f"/v1/entities/{microsoft['id']}")
    assert r.status_code == 200, r.text
    e = r.json()
    assert (e["id"], e["name"], e["type"]) == (microsoft["id"], "Microsoft", "Organization")
    assert [m["doc_id"] for m in e["mentions"]] == ["news/3", "news/3"]
    for m in e["mentions"]:
        text = DOCS[m["doc_id"]]
        assert text[m["start"]:m["end"]] == m["text"] == "Microsoft"
        assert m["snippet"] in text and m["text"] in m["snippet"]
    triples = {(x["head"], x["relation"], x["tail"]) for x in e["relations"]}
    assert {("Satya Nadella", "WORKS_FOR", "Microsoft"), ("Microsoft", "BASED_IN", "Redmond")} <= triples
    for x in e["relations"]:
        assert 0 < x["confidence"] <= 1 and x["sources"]
        for s in x["sources"]:
            assert DOCS[s["doc_id"]][s["start"]:s["end"]] == s["quote"]
    capped = client.get(f"/v1/entities/{microsoft['id']}", params={"max_mentions": 1, "max_relations": 0}).json()
    assert len(capped["mentions"]) == 1 and capped["relations"] == []


def test_a_neighbourhood(client):
    nadella = _search(client, "Satya Nadella")[0]
    one = client.get(f"/v1/entities/{nadella['id']}/neighbourhood", params={"depth": 1}).json()
    names = [e["name"] for e in one["entities"]]
    assert names[0] == "Satya Nadella" and {"Microsoft", "IBM"} <= set(names)
    assert "Redmond" not in names
    two = client.get(f"/v1/entities/{nadella['id']}/neighbourhood", params={"depth": 2}).json()
    assert {"Redmond", "Armonk"} <= {e["name"] for e in two["entities"]}
    ids = {e["id"] for e in two["entities"]}
    for rel in two["relations"]:
        assert rel["head_id"] in ids and rel["tail_id"] in ids and rel["sources"]
        for start, end in rel["evidence"]:
            assert 0 <= start < end
    capped = client.get(f"/v1/entities/{nadella['id']}/neighbourhood", params={"depth": 2, "limit": 2}).json()
    assert len(capped["entities"]) == 2
    assert client.get(f"/v1/entities/{nadella['id']}/neighbourhood", params={"depth": 9}).status_code == 422


def test_unknown_entities_are_404(client):
    assert client.get("/v1/entities/ent-nobody").status_code == 404
    r = client.get("/v1/entities/ent-nobody/neighbourhood")
    assert r.status_code == 404 and r.json() == {"detail": "no entity with id 'ent-nobody'"}
