"""API safety: the API key on write endpoints, the body size limit, CORS only when configured,
and no stack trace in any answer."""

import pytest
from fastapi.testclient import TestClient

from api.deps import get_settings
from api.main import create_app
from tests.api.conftest import API_KEY, MAX_BODY_BYTES


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "wrong"},
                                     {"Authorization": f"Basic {API_KEY}"}, {"X-API-Key": API_KEY[:-1]}])
def test_writes_without_the_key_get_401(client, headers):
    before = client.get("/v1/jobs").json()["total"]
    r = client.post("/v1/documents", json={"text": "Olaf Scholz lives in Potsdam."}, headers=headers)
    assert r.status_code == 401, r.text
    assert "API key" in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/jobs").json()["total"] == before
    r = client.delete("/v1/documents/news%2F1", headers=headers)
    assert r.status_code == 401
    assert client.get("/v1/documents/news%2F1").status_code == 200


def test_both_headers_carry_the_key(client):
    for headers in ({"Authorization": f"Bearer {API_KEY}"}, {"X-API-Key": API_KEY}):
        assert client.delete("/v1/documents/nobody", headers=headers).status_code == 404  # past the check


def test_reads_need_no_key(client):
    assert client.get("/v1/documents").status_code == 200
    assert client.post("/v1/cypher", json={"cypher": "RETURN 1 AS one"}).json()["rows"] == [{"one": 1}]


def test_without_a_configured_key_writes_are_open(client, app, settings):
    app.dependency_overrides[get_settings] = lambda: settings.model_copy(update={"api_key": ""})
    try:
        assert client.delete("/v1/documents/nobody").status_code == 404
    finally:
        app.dependency_overrides.clear()
    assert client.delete("/v1/documents/nobody").status_code == 401


def test_a_body_over_the_limit_gets_413_by_its_length_or_as_it_streams(client):
    body = b'{"text": "' + b"a" * MAX_BODY_BYTES + b'"}'
    r = client.post("/v1/extract", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    limit = f"the request body is over the {MAX_BODY_BYTES:,} byte limit (KG_API_MAX_BODY_BYTES)"
    assert r.json() == {"detail": limit}

    def chunks():  # no Content-Length: the body arrives in pieces
        yield b'{"text": "'
        for _ in range(MAX_BODY_BYTES // 10_000 + 1):
            yield b"a" * 10_000
        yield b'"}'

    r = client.post("/v1/retrieve", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert "KG_API_MAX_BODY_BYTES" in r.json()["detail"]
    small = client.post("/v1/cypher", content=iter([b'{"cypher": ', b'"RETURN 2 AS two"}']),
                        headers={"content-type": "application/json"})
    assert small.json()["rows"] == [{"two": 2}]


def test_cors_is_off_unless_origins_are_configured(client, services, settings):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    plain = client.get("/v1/health", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in plain.headers
    assert client.options("/v1/retrieve", headers=preflight).status_code == 405

    app = create_app(settings.model_copy(update={"api_cors_origins": "https://app.example, https://other.example"}))
    app.state.services = services  # the session's store and models: no second start
    with TestClient(app) as other:
        r = other.options("/v1/retrieve", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
        r = other.get("/v1/health", headers={"Origin": "https://evil.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_malformed_input_gets_a_4xx_with_a_message_never_a_trace(client):
    cases = [("post", "/v1/documents", b"not json"), ("post", "/v1/documents", b"[1, 2]"),
             ("post", "/v1/retrieve", b'{"question": 5}'), ("post", "/v1/cypher", b'{"cypher": ["a"]}'),
             ("post", "/v1/extract", b'\xff\xfe'), ("get", "/v1/jobs?limit=abc", None),
             ("get", "/v1/entities?q=a&limit=0", None), ("get", "/v1/nothing-here", None),
             ("put", "/v1/documents", b"{}")]
    for method, path, body in cases:
        headers = {"content-type": "application/json", "X-API-Key": API_KEY}
        kwargs = {"content": body, "headers": headers} if body else {}
        r = client.request(method, path, **kwargs)
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
        detail = r.json()["detail"]
        assert detail and "Traceback" not in r.text, (path, r.text)
