"""Process lifecycle: SIGTERM stops the embedded server child, and a service whose server died
restarts it on the next call, or answers 503 with a message while it cannot."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kg.stores.falkordb.server import FalkorDBServer, _pid_alive
from kg.config import REPO_ROOT

ROOT = REPO_ROOT
SAMPLES = ROOT / "samples" / "wikipedia_passages.jsonl"


def _server_pid(data_dir: Path, timeout: float = 120) -> int:
    pidfile = data_dir / "redis.pid"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return int(pidfile.read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    raise AssertionError("the server never started")


def _gone(pid: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_sigterm_to_the_cli_stops_its_server(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "KG_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "kg.cli", "ingest", "-q", str(SAMPLES)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid = _server_pid(data)
    time.sleep(2.0)  # loading models or ingesting by now
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "kg: error: terminated" in err and "Traceback" not in err
    assert _gone(pid), "the redis-server child outlived the CLI"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def service(tmp_path):
    data, port = tmp_path / "data", _free_port()
    env = {**os.environ, "KG_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield proc, url, data
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    FalkorDBServer(data).stop(force=True)


def test_sigterm_to_the_service_stops_its_server(service):
    proc, url, data = service
    assert httpx.get(url + "/v1/stats", timeout=60).json()["documents"] == 0  # opens the store
    pid = _server_pid(data)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert _gone(pid), "the redis-server child outlived the service (uvicorn skips atexit on SIGTERM)"


def test_a_dead_server_is_restarted_or_reported_503(service):
    proc, url, data = service
    assert httpx.get(url + "/v1/stats", timeout=60).status_code == 200
    pid = _server_pid(data)
    os.kill(pid, signal.SIGKILL)
    assert _gone(pid)
    r = httpx.get(url + "/v1/stats", timeout=60)  # the next call restarts it
    assert r.status_code == 200 and r.json()["documents"] == 0
    # now one that cannot come back: its append-only directory replaced by a file
    pid = _server_pid(data)
    os.kill(pid, signal.SIGKILL)
    assert _gone(pid)
    aof = data / "appendonlydir"
    for f in aof.iterdir():
        f.unlink()
    aof.rmdir()
    aof.write_text("not a directory")
    r = httpx.get(url + "/v1/stats", timeout=60)
    assert r.status_code == 503 and "could not be restarted" in r.json()["detail"]
    assert r.headers.get("retry-after")
    # and once the cause is gone, it recovers by itself
    aof.unlink()
    r = httpx.get(url + "/v1/stats", timeout=60)
    assert r.status_code == 200


def test_kg_serve_answers_and_stops_on_sigterm(tmp_path):
    data, port = tmp_path / "data", _free_port()
    env = {**os.environ, "KG_DATA_DIR": str(data), "KG_API_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "kg.cli", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(url + "/v1/stats", timeout=60).json()["documents"] == 0
        pid = _server_pid(data)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        assert _gone(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
