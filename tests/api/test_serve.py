"""`kg serve` as a real uvicorn process: accepted jobs survive a SIGKILL. After a restart every
accepted document is in the store exactly once, as a clean ingest of the same documents would
have it, and the embedded FalkorDB server left by the killed process is taken over and stopped
at the end."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kg.config import REPO_ROOT
from kg.documents import make_document
from kg.stores.falkordb.server import _pid_alive
from kg.stores.falkordb.store import FalkorDBStore

SAMPLES = [json.loads(line) for line in (REPO_ROOT / "samples" / "wikipedia_passages.jsonl").open()][:12]
JOBS = [[0, 1, 2], [3, 4], [5, 6, 7], [8, 9], [10, 11, 2]]  # wiki-002 twice: ingested once


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env: dict[str, str], log: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("ab")
        kg = Path(sys.executable).with_name("kg")
        self.proc = subprocess.Popen([str(kg), "serve", "--port", str(self.port)], env=env, cwd=REPO_ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"kg serve exited: {log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.proc.kill()
        raise AssertionError(f"kg serve did not come up: {log.read_text()[-3000:]}")

    def get(self, path: str, **kw) -> dict:
        r = httpx.get(self.url + path, timeout=30, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def stop(self, sig: int) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(120)
        self.log.close()


def _doc(i: int) -> dict:
    d = SAMPLES[i]
    return {"id": d["id"], "text": d["text"], "title": d["title"]}


def _lexical(store) -> tuple[list, list, list]:
    """The documents, chunks and mentions of a store: what each ingested document contributes."""
    dump = store.dump()
    docs = sorted(n["properties"]["id"] for n in dump["nodes"] if "Document" in n["labels"])
    chunks = sorted((p["id"], p["doc_id"], p["start"], p["end"], p["text"])
                    for n in dump["nodes"] if "Chunk" in n["labels"] for p in [n["properties"]])
    mentions = sorted((r["end"], r["properties"]["start"], r["properties"]["end"], r["properties"]["text"])
                      for r in dump["relationships"] if r["type"] == "MENTIONED_IN")
    return docs, chunks, mentions


def test_jobs_survive_a_sigkill_and_each_document_is_ingested_once(tmp_path, services):
    data = tmp_path / "data"
    env = {**os.environ, "KG_DATA_DIR": str(data), "KG_API_KEY": "k", "KG_INGEST_BATCH_CHARS": "700",
           "KG_API_CORS_ORIGINS": ""}
    first = Server(env, tmp_path / "serve.log")
    accepted = []
    try:
        for job in JOBS:
            r = httpx.post(f"{first.url}/v1/documents", json={"documents": [_doc(i) for i in job]},
                           headers={"X-API-Key": "k"}, timeout=30)
            assert r.status_code == 202, r.text
            accepted.append(r.json()["id"])
        # kill it while one job runs and others wait
        deadline = time.monotonic() + 300
        while True:
            counts = first.get("/v1/jobs")["counts"]
            if counts["running"] and counts["queued"]:
                break
            assert counts["queued"] + counts["running"], f"every job finished before the kill: {counts}"
            assert time.monotonic() < deadline, counts
            time.sleep(0.02)
        redis_pid = int((data / "redis.pid").read_text())
    finally:
        first.stop(signal.SIGKILL)
    assert _pid_alive(redis_pid)  # the store's server outlives a SIGKILL of kg serve...

    second = Server(env, tmp_path / "serve.log")
    try:
        assert int((data / "redis.pid").read_text()) == redis_pid  # ...and the restarted one attaches to it
        deadline = time.monotonic() + 600
        while (counts := second.get("/v1/jobs")["counts"])["queued"] + counts["running"]:
            assert time.monotonic() < deadline, counts
            time.sleep(0.2)
        jobs = {j["id"]: j for j in second.get("/v1/jobs", params={"limit": 100})["items"]}
        assert sorted(jobs) == sorted(accepted)
        for job_id, job in zip(accepted, JOBS):
            j = jobs[job_id]
            assert (j["status"], j["documents"], j["processed"], j["failed"]) == ("done", len(job), len(job), 0), j
        stats = second.get("/v1/stats")
        assert stats["documents"] == len({i for job in JOBS for i in job})
    finally:
        second.stop(signal.SIGTERM)
    assert not _pid_alive(redis_pid)  # the clean shutdown stopped the store's server too

    # the same documents, ingested once each into an empty store with the session's models
    served = FalkorDBStore(data)
    clean = FalkorDBStore(tmp_path / "clean")
    try:
        pipeline = copy.copy(services.pipeline)
        pipeline.store = clean
        report = pipeline.ingest([make_document(d["text"], id=d["id"], source="api", title=d["title"])
                                  for d in map(_doc, sorted({i for job in JOBS for i in job}))], progress=False)
        assert report.ok and report.ingested == 12
        got, want = _lexical(served), _lexical(clean)
        assert got[0] == want[0] and len(got[0]) == 12
        assert got[1] == want[1]  # every chunk once
        assert got[2] == want[2]  # every mention once
        assert served.stats()["chunks"] == clean.stats()["chunks"]
        assert served.stats()["mentions"] == clean.stats()["mentions"]
    finally:
        served.close()
        clean.close()


@pytest.mark.parametrize("args, message", [(["--port", "0x"], "invalid int value")])
def test_serve_refuses_a_bad_port(args, message):
    kg = Path(sys.executable).with_name("kg")
    r = subprocess.run([str(kg), "serve", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and message in r.stderr
