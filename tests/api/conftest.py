"""One app for the whole tests/api run: a real store in a temporary data dir, the real models,
and a few short documents ingested once through POST /v1/documents."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from kg.config import Settings

API_KEY = "test-key-3f9a"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
MAX_FILE_BYTES = 20_000  # small limits, so the 413 tests send little
MAX_BODY_BYTES = 100_000

DOCS = {
    "news/1": "Tim Cook works for Apple in Cupertino. Apple Inc. is based in Cupertino, California. "
              "Cook joined Apple in 1998.",
    "news/2": "Angela Merkel lives in Berlin. Merkel was educated at Leipzig University. "
              "International Business Machines (IBM) is headquartered in Armonk.",
    "news/3": "Satya Nadella works for Microsoft. Microsoft is based in Redmond. IBM hired Nadella's friend.",
}
METADATA = {"news/1": {"topic": "tech"}, "news/2": {"topic": "politics"}, "news/3": {"topic": "tech"}}


def wait_for_job(client: TestClient, job_id: str, timeout: float = 600.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("api") / "data", api_key=API_KEY,
                    max_file_bytes=MAX_FILE_BYTES, api_max_body_bytes=MAX_BODY_BYTES)


@pytest.fixture(scope="session")
def app(settings):
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app):
    """The app with its lifespan running (store, models, worker) and DOCS ingested."""
    with TestClient(app, raise_server_exceptions=False) as c:
        docs = [{"id": i, "text": t, "title": f"Story {i}", "metadata": METADATA[i]} for i, t in DOCS.items()]
        r = c.post("/v1/documents", json={"documents": docs}, headers=AUTH)
        assert r.status_code == 202, r.text
        job = wait_for_job(c, r.json()["id"])
        assert job["status"] == "done" and job["ingested"] == len(DOCS), job
        yield c


@pytest.fixture(scope="session")
def services(client, app):
    return app.state.services
