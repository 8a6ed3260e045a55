"""POST /v1/retrieve: the RetrievalResult as JSON, citations quoting the sources exactly."""

from tests.api.conftest import DOCS


def _retrieve(client, **body):
    r = client.post("/v1/retrieve", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_retrieve_answers_with_passages_facts_and_entities_that_quote_the_sources(client):
    out = _retrieve(client, question="Where is the company that Satya Nadella works for based?", k=2)
    assert out["question"].startswith("Where is") and out["method"] in ("graph", "dense")
    assert out["passages"][0]["doc_id"] == "news/3" and len(out["passages"]) <= 2
    for p in out["passages"]:
        assert DOCS[p["doc_id"]][p["start"]:p["end"]] == p["text"]
        assert f"[{p['n']}]" in out["context"]
    assert out["facts"]
    for f in out["facts"]:
        for c in f["citations"]:
            assert DOCS[c["doc_id"]][c["start"]:c["end"]] == c["quote"]
    assert "Satya Nadella" in {e["name"] for e in out["entities"]}


def test_filters_by_document_metadata_and_entity_type(client):
    q = "Who lives in Berlin?"
    only = _retrieve(client, question=q, k=5, doc_ids=["news/1", "news/3"])
    assert only["passages"] and {p["doc_id"] for p in only["passages"]} <= {"news/1", "news/3"}
    tech = _retrieve(client, question=q, k=5, metadata={"topic": "tech"})
    assert {p["doc_id"] for p in tech["passages"]} <= {"news/1", "news/3"}
    people = _retrieve(client, question=q, k=5, entity_types=["Person"])
    assert people["entities"] and all(e["type"] == "Person" for e in people["entities"])


def test_bad_bodies_get_422(client):
    for body in ({"question": ""}, {"question": "x", "k": 0}, {"question": "x", "k": 51},
                 {"question": "x", "method": "dense"}, {"question": "   "}, {}):
        r = client.post("/v1/retrieve", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["msg"]
