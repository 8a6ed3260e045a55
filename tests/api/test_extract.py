"""POST /v1/extract: the dry run in the shape of `kg extract --json`, nothing stored."""

from tests.api.conftest import MAX_FILE_BYTES

TEXT = "Tim Cook works for Apple in Cupertino. Angela Merkel lives in Berlin."


def test_extract_gives_entities_and_relations_with_offsets_and_stores_nothing(client):
    before = client.get("/v1/stats").json()
    r = client.post("/v1/extract", json={"text": TEXT})
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"entities", "relations"}
    assert {(e["text"], e["type"]) for e in out["entities"]} >= {("Tim Cook", "Person"), ("Apple", "Organization"),
                                                                ("Angela Merkel", "Person"), ("Berlin", "Location")}
    ids = [e["id"] for e in out["entities"]]
    assert ids == [f"m{i}" for i in range(len(ids))]
    for e in out["entities"]:
        assert TEXT[e["start"]:e["end"]] == e["text"]
    names = {e["id"]: e["text"] for e in out["entities"]}
    triples = {(names[r["head"]], r["relation"], names[r["tail"]]) for r in out["relations"]}
    assert ("Angela Merkel", "LIVES_IN", "Berlin") in triples
    for rel in out["relations"]:
        assert 0 < rel["confidence"] <= 1 and TEXT[rel["start"]:rel["end"]].endswith(".")
    assert client.get("/v1/stats").json() == before


def test_extract_refuses_a_nul_whitespace_and_a_text_over_the_limit(client):
    r = client.post("/v1/extract", json={"text": "bad\u0000"})
    assert r.status_code == 422
    assert [(e["loc"], e["msg"]) for e in r.json()["detail"]] == [
        (["body", "text"], '"text" contains a NUL character (U+0000) at position 3')]
    assert client.post("/v1/extract", json={"text": "   "}).json()["detail"][0]["msg"] == '"text" has only whitespace'
    r = client.post("/v1/extract", json={"text": "x" * (MAX_FILE_BYTES + 1)})
    assert r.status_code == 413 and "20,000 byte limit" in r.json()["detail"]
