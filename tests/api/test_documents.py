"""POST /documents and /extract: what the store cannot take is a 422 with a readable message."""

import json
import time

import pytest
from fastapi.testclient import TestClient

from api.main import app

client = TestClient(app, raise_server_exceptions=False)


def _post(path, body: bytes):
    return client.post(path, content=body, headers={"content-type": "application/json"})


def _messages(response):
    assert response.status_code == 422, response.text
    return [(e["loc"], e["msg"]) for e in response.json()["detail"]]


def _documents(*docs) -> bytes:
    return json.dumps({"documents": list(docs)}).encode()


@pytest.mark.parametrize("doc, loc, message", [
    ({"id": "bad\u0001id", "text": "Angela Merkel lives in Berlin."}, "id",
     '"id" contains a control character (U+0001) at position 3'),
    ({"id": 7, "text": "T."}, "id", "Input should be a valid string"),
    ({"id": "a" * 513, "text": "T."}, "id", '"id" is 513 characters long, over the 512 limit'),
    ({"id": " padded", "text": "T."}, "id", '"id" has leading or trailing whitespace'),
    ({"id": "t", "text": "T.", "title": "two\nlines"}, "title",
     '"title" contains a control character (U+000A) at position 3'),
    ({"id": "m", "text": "T.", "metadata": {"bad\u0001key": 1}}, "metadata",
     '"metadata" key "bad\\u0001key" contains a control character (U+0001) at position 3'),
    ({"id": "m", "text": "T.", "metadata": {"k": {"deeper": ["x\u0000"]}}}, "metadata",
     '"metadata"["k"]["deeper"][0] contains a NUL character (U+0000) at position 1'),
    ({"id": "n", "text": "nul\u0000"}, "text", '"text" contains a NUL character (U+0000) at position 3'),
])
def test_bad_document_fields_get_422(doc, loc, message):
    assert _messages(_post("/documents", _documents(doc))) == [(["body", "documents", 0, loc], message)]


def test_lone_surrogate_gets_422_not_500():
    # json.loads accepts the escape; echoing it back in the error used to fail as a 500
    r = _post("/documents", b'{"documents":[{"id":"x","text":"a\\ud800b"}]}')
    assert _messages(r) == [(["body", "documents", 0, "text"],
                             '"text" contains a lone surrogate (U+D800) at position 1')]
    r = _post("/documents", b'{"documents":[{"id":"x","text":"t","metadata":{"k\\udfff":1}}]}')
    assert _messages(r) == [(["body", "documents", 0, "metadata"],
                             '"metadata" key "k\\udfff" contains a lone surrogate (U+DFFF) at position 1')]
    r = _post("/extract", b'{"text":"a\\ud800b"}')
    assert _messages(r) == [(["body", "text"], '"text" contains a lone surrogate (U+D800) at position 1')]


def test_nan_in_metadata_and_broken_json_get_422():
    r = _post("/documents", b'{"documents":[{"id":"x","text":"t","metadata":{"score":NaN}}]}')
    assert _messages(r) == [(["body", "documents", 0, "metadata"], '"metadata"["score"] is nan, not a finite number')]
    r = _post("/documents", b'{"documents":[{"id":"x","text":"t"}')
    assert r.status_code == 422 and "JSON decode error" in r.json()["detail"][0]["msg"]


def test_one_id_with_two_texts_in_a_request_gets_422():
    r = _post("/documents", _documents({"id": "d", "text": "One."}, {"id": "d", "text": "Two."}))
    assert _messages(r) == [(["body"], '"id" "d" is used by documents 0 and 1 with different text')]


def test_extract_refuses_a_nul():
    r = _post("/extract", json.dumps({"text": "bad\u0000"}).encode())
    assert _messages(r) == [(["body", "text"], '"text" contains a NUL character (U+0000) at position 3')]


@pytest.fixture
def own_store(tmp_path, monkeypatch):
    """The app opens its own store and pipeline, in a fresh data directory."""
    from api import deps
    from kg.config import get_settings

    monkeypatch.setenv("KG_DATA_DIR", str(tmp_path / "data"))
    for cached in (get_settings, deps.get_store, deps.get_pipeline):
        cached.cache_clear()
    yield deps
    if deps.get_store.cache_info().currsize:
        deps.get_store().close()
    for cached in (get_settings, deps.get_store, deps.get_pipeline):
        cached.cache_clear()


def _wait_for(job_id):
    for _ in range(6000):
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_valid_documents_are_accepted_and_stored(own_store):
    bad = {"id": "bad\u0001id", "text": "Angela Merkel lives in Berlin."}
    good = {"id": "reports/2024", "text": "Angela Merkel lives in Berlin.", "title": "Zürich #3",
            "metadata": {"lang": "en", "tags": ["a", "b"], "score": 0.5}}
    # one bad document refuses the request before anything is accepted
    assert _post("/documents", _documents(good, bad)).status_code == 422
    r = _post("/documents", _documents(good))
    assert r.status_code == 202, r.text
    job = _wait_for(r.json()["id"])
    assert job["status"] == "done", job
    assert job["result"]["ingested"] == 1
    stored = own_store.get_store().get_document("reports/2024")
    assert (stored.title, stored.metadata) == ("Zürich #3", good["metadata"])
    assert client.get("/health").status_code == 200
