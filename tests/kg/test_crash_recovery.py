"""kill -9 in the middle of `kg ingest`: every document is stored whole or not at all, and the
re-run gives exactly the graph a clean ingest gives. Real CLI processes, models and server.

A second connection watches the store while the ingest runs and kills the process as soon as
documents appear (after the first batch, mid-run), or kills the database server itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg.stores.falkordb.store import FalkorDBStore
from kg.config import REPO_ROOT

ROOT = REPO_ROOT
SAMPLES = ROOT / "samples" / "wikipedia_passages.jsonl"
N_DOCS = 24


def _env(data_dir: Path) -> dict[str, str]:
    # small batches: many atomic writes in one run, so the kills land between and during them
    return {**os.environ, "KG_DATA_DIR": str(data_dir), "KG_INGEST_BATCH_CHARS": "2500"}


def _corpus(tmp_path: Path, name: str, edit=None) -> Path:
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()[:N_DOCS]
    docs = [json.loads(line) for line in lines]
    if edit:
        docs = [edit(d) for d in docs]
    path = tmp_path / name
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def _ingest(data_dir: Path, corpus: Path, wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    args = [sys.executable, "-m", "kg.cli", "ingest", "-q", str(corpus)]
    if wait:
        out = subprocess.run(args, capture_output=True, text=True, timeout=600, env=_env(data_dir), cwd=ROOT)
        assert out.returncode == 0, out.stderr
        return out
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(data_dir), cwd=ROOT)


def _dump(store: FalkorDBStore) -> dict:
    d = store.dump()
    for n in d["nodes"]:
        n["properties"].pop("ingested_at", None)  # the clock of each run
    return d


def _clean(data_dir: Path, *corpora: Path) -> dict:
    for c in corpora:
        _ingest(data_dir, c)
    with FalkorDBStore(data_dir) as store:
        return _dump(store)


def _documents_are_whole(store: FalkorDBStore, versions: list[dict[str, str]]) -> None:
    """Every stored document is one of its versions, complete: its chunks tile that text."""
    rows = store.query("MATCH (d:Document) OPTIONAL MATCH (c:Chunk)-[:PART_OF]->(d) "
                       "WITH d, c ORDER BY c.index RETURN d.id AS id, d.sha256 AS sha, collect(c.text) AS texts, "
                       "collect(c.start) AS starts")
    for r in rows:
        texts = [v[r["id"]] for v in versions if r["id"] in v]
        text = next(t for t in texts if hashlib.sha256(t.encode()).hexdigest() == r["sha"])
        assert r["texts"], f"document {r['id']} has no chunks"
        for chunk_text, start in zip(r["texts"], r["starts"]):
            assert text[start:start + len(chunk_text)] == chunk_text


def _kill_when(store: FalkorDBStore, proc: subprocess.Popen, documents: int, pid: int | None = None) -> int:
    """kill -9 the ingest (or `pid`) as soon as the store holds `documents` documents."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        n = store.stats()["documents"]
        if n >= documents or proc.poll() is not None:
            os.kill(pid or proc.pid, signal.SIGKILL)
            return n
        time.sleep(0.02)
    raise AssertionError("the ingest never got there")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _corpus(tmp_path_factory.mktemp("corpus"), "docs.jsonl")  # one path: it is each document's source


@pytest.fixture(scope="module")
def clean_dump(tmp_path_factory, corpus):
    return _clean(tmp_path_factory.mktemp("clean") / "data", corpus)


@pytest.mark.parametrize("kill_at", [1, N_DOCS // 2])
def test_kill_9_of_the_ingest_then_rerun(tmp_path, corpus, clean_dump, kill_at):
    texts = {json.loads(line)["id"]: json.loads(line)["text"] for line in corpus.read_text().splitlines()}
    data = tmp_path / "data"
    with FalkorDBStore(data) as watcher:  # started here, so the server outlives the killed ingest
        proc = _ingest(data, corpus, wait=False)
        seen = _kill_when(watcher, proc, kill_at)
        proc.wait()
        assert seen < N_DOCS, "the ingest finished before the kill"
        _documents_are_whole(watcher, [texts])
        _ingest(data, corpus)
        assert _dump(watcher) == clean_dump


def test_kill_9_of_the_server_mid_ingest(tmp_path, corpus, clean_dump):
    data = tmp_path / "data"
    with FalkorDBStore(data) as watcher:
        proc = _ingest(data, corpus, wait=False)
        assert _kill_when(watcher, proc, N_DOCS // 3, pid=watcher.server.pid) < N_DOCS
        # the ingest reconnects, restarts the server from its log, and carries on
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert "Traceback" not in err.decode()
        _ingest(data, corpus)  # nothing left to do, or what the kill interrupted
        assert _dump(watcher) == clean_dump


def _edited(doc: dict) -> dict:
    return {**doc, "text": doc["text"].replace(". ", ". Later it was said that ", 1)}


def test_kill_9_during_replacements_leaves_each_document_old_or_new(tmp_path):
    old, new = _corpus(tmp_path, "v1.jsonl"), _corpus(tmp_path, "v2.jsonl", _edited)
    versions = [{json.loads(line)["id"]: json.loads(line)["text"] for line in c.read_text().splitlines()}
                for c in (old, new)]
    reference = _clean(tmp_path / "clean", old, new)
    data = tmp_path / "data"
    _ingest(data, old)
    with FalkorDBStore(data) as watcher:
        proc = _ingest(data, new, wait=False)
        deadline, killed = time.monotonic() + 300, False
        while proc.poll() is None and time.monotonic() < deadline:  # until the first replacement lands
            changed = watcher.query("MATCH (c:Chunk) WHERE c.text CONTAINS 'Later it was said' RETURN count(c) AS n")
            if changed[0]["n"]:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.02)
        proc.wait()
        assert killed and watcher.stats()["documents"] == N_DOCS
        replaced = watcher.query("MATCH (d:Document) WHERE d.sha256 IN $new RETURN count(d) AS n",
                                 {"new": [hashlib.sha256(t.encode()).hexdigest() for t in versions[1].values()]})
        assert 0 < replaced[0]["n"] < N_DOCS  # killed half way: some old, some new
        _documents_are_whole(watcher, versions)
        _ingest(data, new)
        assert _dump(watcher) == reference
