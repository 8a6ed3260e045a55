"""POST /v1/cypher: read-only, with parameters, a time limit and a row limit; writes get 403."""

import pytest


def _cypher(client, **body):
    return client.post("/v1/cypher", json=body)


def test_a_read_query_with_parameters(client):
    r = _cypher(client, cypher="MATCH (d:Document) WHERE d.id IN $ids RETURN d.id AS id, d.title AS title "
                               "ORDER BY id", params={"ids": ["news/1", "news/3", "nobody"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": [{"id": "news/1", "title": "Story news/1"}, {"id": "news/3", "title": "Story news/3"}],
                        "truncated": False}


def test_rows_are_cut_at_max_rows(client):
    r = _cypher(client, cypher="UNWIND range(1, 10) AS n RETURN n", max_rows=3).json()
    assert r == {"rows": [{"n": 1}, {"n": 2}, {"n": 3}], "truncated": True}


@pytest.mark.parametrize("cypher", ["CREATE (:Entity {id: 'x'})", "MATCH (d:Document) DETACH DELETE d",
                                    "MATCH (e:Entity) SET e.name = 'y'"])
def test_a_write_is_refused_with_403(client, cypher):
    before = client.get("/v1/stats").json()
    r = _cypher(client, cypher=cypher)
    assert r.status_code == 403, r.text
    assert r.json() == {"detail": "this query writes to the graph; only read-only queries are allowed"}
    assert client.get("/v1/stats").json() == before


def test_refused_failed_and_limited_queries_get_400(client):
    r = _cypher(client, cypher="LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row")
    assert r.status_code == 400 and "LOAD CSV" in r.json()["detail"]
    r = _cypher(client, cypher="MATCH (n RETURN n")
    assert r.status_code == 400 and r.json()["detail"].startswith("query failed")
    r = _cypher(client, cypher="UNWIND range(1, 3000) AS a UNWIND range(1, 3000) AS b WITH a, b "
                               "WHERE a * b = -1 RETURN count(*) AS n", timeout_ms=1)
    assert r.status_code == 400 and "time limit" in r.json()["detail"]


def test_bad_bodies_get_422(client):
    assert _cypher(client, cypher="RETURN 1", max_rows=0).status_code == 422
    r = _cypher(client, cypher="RETURN $x", params={"bad\u0001": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "params"]
    r = client.post("/v1/cypher", content=b'{"cypher": "RETURN $x", "params": {"x": Infinity}}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == '"params"["x"] is inf, not a finite number'
    r = client.post("/v1/cypher", content=b'{"cypher": "RETURN \\ud800"}', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "lone surrogate" in r.json()["detail"][0]["msg"]
