"""GET /v1/jobs and /v1/jobs/{id}: what is queued, running and done, with progress and counts."""

from tests.api.conftest import AUTH, DOCS, wait_for_job


def test_the_fixture_job_is_listed_done_with_its_counts(client):
    page = client.get("/v1/jobs", params={"status": "done", "limit": 1000}).json()
    assert page["total"] >= 1 and page["counts"]["done"] >= 1
    assert set(page["counts"]) == {"queued", "running", "done", "failed"}
    first = page["items"][-1]  # newest first: the fixture's job is the oldest
    assert (first["status"], first["documents"], first["processed"], first["failed"]) == ("done", 3, 3, 0)
    assert first["ingested"] == len(DOCS) and first["started_at"] and first["finished_at"]
    assert "errors" not in first
    detail = client.get(f"/v1/jobs/{first['id']}").json()
    assert detail["errors"] == [] and detail["id"] == first["id"]


def test_jobs_are_paged_newest_first_and_filtered_by_status(client):
    ids = []
    for text in ("Olaf Scholz lives in Potsdam.", "Emmanuel Macron lives in Paris."):
        r = client.post("/v1/documents", json={"text": text}, headers=AUTH)
        assert r.status_code == 202
        ids.append(r.json()["id"])
    for job_id in ids:
        wait_for_job(client, job_id)
    newest = client.get("/v1/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in newest["items"]] == ids[::-1] and newest["limit"] == 2
    older = client.get("/v1/jobs", params={"limit": 1, "offset": 1}).json()
    assert [j["id"] for j in older["items"]] == [ids[0]]
    assert client.get("/v1/jobs", params={"status": "queued"}).json()["items"] == []
    assert client.get("/v1/jobs", params={"status": "lost"}).status_code == 422


def test_an_unknown_job_is_404(client):
    r = client.get("/v1/jobs/nope")
    assert r.status_code == 404 and r.json() == {"detail": "no job 'nope'"}
