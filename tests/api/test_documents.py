"""POST/GET/DELETE /v1/documents: what the store cannot take is a 422 with a readable message;
what it can is accepted (202, a job), stored, listed, read and deleted, ids with '/' included."""

import json

import pytest

from tests.api.conftest import AUTH, DOCS, MAX_FILE_BYTES, wait_for_job


def _post(client, path, body: bytes, headers=AUTH):
    return client.post(path, content=body, headers={"content-type": "application/json", **headers})


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
    ({"id": "w", "text": " \n\t "}, "text", '"text" has only whitespace'),
])
def test_bad_document_fields_get_422(client, doc, loc, message):
    assert _messages(_post(client, "/v1/documents", _documents(doc))) == [(["body", "documents", 0, loc], message)]


def test_lone_surrogate_gets_422_not_500(client):
    # json.loads accepts the escape; echoing it back in the error used to fail as a 500
    r = _post(client, "/v1/documents", b'{"documents":[{"id":"x","text":"a\\ud800b"}]}')
    assert _messages(r) == [(["body", "documents", 0, "text"],
                             '"text" contains a lone surrogate (U+D800) at position 1')]
    r = _post(client, "/v1/documents", b'{"documents":[{"id":"x","text":"t","metadata":{"k\\udfff":1}}]}')
    assert _messages(r) == [(["body", "documents", 0, "metadata"],
                             '"metadata" key "k\\udfff" contains a lone surrogate (U+DFFF) at position 1')]
    r = _post(client, "/v1/extract", b'{"text":"a\\ud800b"}')
    assert _messages(r) == [(["body", "text"], '"text" contains a lone surrogate (U+D800) at position 1')]


def test_nan_in_metadata_and_broken_json_get_422(client):
    r = _post(client, "/v1/documents", b'{"documents":[{"id":"x","text":"t","metadata":{"score":NaN}}]}')
    assert _messages(r) == [(["body", "documents", 0, "metadata"], '"metadata"["score"] is nan, not a finite number')]
    r = _post(client, "/v1/documents", b'{"documents":[{"id":"x","text":"t"}')
    assert r.status_code == 422 and "JSON decode error" in r.json()["detail"][0]["msg"]


def test_one_id_with_two_texts_in_a_request_gets_422(client):
    r = _post(client, "/v1/documents", _documents({"id": "d", "text": "One."}, {"id": "d", "text": "Two."}))
    assert _messages(r) == [(["body"], '"id" "d" is used by documents 0 and 1 with different text')]


def test_a_document_over_the_size_limit_gets_413_and_nothing_is_accepted(client):
    before = client.get("/v1/jobs").json()["total"]
    big = "Angela Merkel lives in Berlin. " * (MAX_FILE_BYTES // 31 + 1)
    r = _post(client, "/v1/documents", _documents({"id": "ok", "text": "Fine."}, {"id": "big", "text": big}))
    assert r.status_code == 413 and "document 1 (big) is over the 20,000 byte limit" in r.json()["detail"]
    assert client.get("/v1/jobs").json()["total"] == before


def test_documents_are_accepted_stored_read_and_deleted_by_an_id_with_a_slash(client):
    bad = {"id": "bad\u0001id", "text": "Angela Merkel lives in Berlin."}
    good = {"id": "reports/2024", "text": "Olaf Scholz lives in Potsdam.", "title": "Zürich #3",
            "metadata": {"lang": "en", "tags": ["a", "b"], "score": 0.5}}
    # one bad document refuses the request before anything is accepted
    assert _post(client, "/v1/documents", _documents(good, bad)).status_code == 422
    r = _post(client, "/v1/documents", json.dumps(good).encode())  # a single document: a batch of one
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    assert (r.json()["status"], r.json()["documents"]) == ("queued", 1)
    job = wait_for_job(client, r.json()["id"])
    assert (job["status"], job["ingested"], job["processed"]) == ("done", 1, 1), job

    stored = client.get("/v1/documents/reports%2F2024")
    assert stored.status_code == 200, stored.text
    assert stored.json()["title"] == "Zürich #3" and stored.json()["metadata"] == good["metadata"]
    assert client.get("/v1/documents/reports/2024").json() == stored.json()

    # re-submitting the same document is a no-op
    again = wait_for_job(client, _post(client, "/v1/documents", _documents(good)).json()["id"])
    assert (again["status"], again["ingested"], again["unchanged"]) == ("done", 0, 1)

    deleted = client.delete("/v1/documents/reports%2F2024", headers=AUTH)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["doc_id"] == "reports/2024" and deleted.json()["found"] is True
    assert deleted.json()["chunks"] == 1
    assert client.get("/v1/documents/reports%2F2024").status_code == 404
    gone = client.delete("/v1/documents/reports%2F2024", headers=AUTH)
    assert gone.status_code == 404 and gone.json()["detail"] == "no document with id 'reports/2024'"


def test_documents_are_listed_by_id_in_pages(client):
    first = client.get("/v1/documents", params={"limit": 2}).json()
    ids = [d["id"] for d in first["items"]]
    assert ids == sorted(ids) and len(ids) == 2 and first["total"] >= len(DOCS)
    rest = client.get("/v1/documents", params={"offset": 2, "limit": 1000}).json()
    every = ids + [d["id"] for d in rest["items"]]
    assert set(DOCS) <= set(every) and len(every) == first["total"]
    one = next(d for d in first["items"] + rest["items"] if d["id"] == "news/2")
    assert (one["title"], one["source"], one["metadata"]) == ("Story news/2", "api", {"topic": "politics"})
    assert len(one["sha256"]) == 64
    assert client.get("/v1/documents", params={"limit": 0}).status_code == 422
