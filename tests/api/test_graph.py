"""GET /v1/graph/view: a self-contained HTML page of an entity's neighbourhood or a query's graph."""

import re


def test_a_view_of_an_entity_by_name_and_of_a_query(client):
    r = client.get("/v1/graph/view", params={"entity": "Microsoft", "depth": 1})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "Microsoft" in html and "Satya Nadella" in html and "WORKS_FOR" in html
    assert not re.search(r"<script[^>]+src=[\"']https?:", html)  # works offline
    q = "MATCH (h:Entity {name: 'Angela Merkel'})-[r]->(t:Entity) RETURN h, r, t"
    r = client.get("/v1/graph/view", params={"cypher": q})
    assert r.status_code == 200, r.text
    assert "Berlin" in r.text and "Leipzig University" in r.text and "Satya Nadella" not in r.text


def test_bad_views_get_400(client):
    assert client.get("/v1/graph/view").status_code == 400
    both = client.get("/v1/graph/view", params={"entity": "Apple", "cypher": "MATCH (n) RETURN n"})
    assert both.status_code == 400 and both.json() == {"detail": "give exactly one of entity and cypher"}
    r = client.get("/v1/graph/view", params={"entity": "Nobody Atall"})
    assert r.status_code == 400 and "Nobody Atall" in r.json()["detail"]
    r = client.get("/v1/graph/view", params={"cypher": "CREATE (n:Entity {id: 'x'}) RETURN n"})
    assert r.status_code == 403
