"""GET /v1/health, /v1/stats, /v1/schema, and the OpenAPI docs."""

from kg import __version__
from tests.api.conftest import DOCS


def test_health(client):
    assert client.get("/v1/health").json() == {"status": "ok", "version": __version__}


def test_stats_count_what_was_ingested(client):
    s = client.get("/v1/stats").json()
    assert s["documents"] >= len(DOCS) and s["chunks"] >= len(DOCS) and s["entities"] >= 12
    assert s["mentions"] >= s["entities"] and s["relations"] >= 1
    assert s["entity_types"]["Person"] >= 3 and sum(s["relation_types"].values()) == s["relations"]


def test_schema_lists_the_graph_types(client):
    s = client.get("/v1/schema").json()
    assert s["name"] == "default"
    assert {"Person", "Organization", "Location"} <= set(s["entity_types"])
    works_for = s["relation_types"]["WORKS_FOR"]
    assert "Person" in works_for["head"] and "Organization" in works_for["tail"]


def test_docs_and_the_openapi_spec_are_served_under_v1_only(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert paths and all(p.startswith("/v1/") for p in paths)
    assert {"/v1/documents", "/v1/jobs/{job_id}", "/v1/cypher", "/v1/retrieve", "/v1/graph/view"} <= set(paths)
    assert client.get("/documents").status_code == 404  # the old unversioned paths are gone
    # every error a route answers is documented with its model
    post = paths["/v1/documents"]["post"]["responses"]
    assert {"202", "401", "413", "422", "503"} <= set(post)
    assert post["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ValidationErrorOut")
    assert post["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
