"""The CLI end to end, as a user runs it: real processes, real models, a real embedded store."""

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def kg(tmp_path):
    env = {**os.environ, "KG_DATA_DIR": str(tmp_path / "data")}

    def run(*args, input=None):
        return subprocess.run([sys.executable, "-m", "kg.cli", *args], input=input, capture_output=True,
                              text=True, timeout=600, env=env)
    yield run
    # leave no server behind for this data dir
    from kg.stores.falkordb.server import FalkorDBServer

    FalkorDBServer(tmp_path / "data").stop(force=True)


def _stats(kg):
    out = kg("stats", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_bad_inputs_refused_good_ones_kept(kg, tmp_path):
    first = tmp_path / "first.txt"
    first.write_text("Tim Cook is the chief executive of Apple in Cupertino.")
    out = kg("ingest", "-q", str(first))
    assert out.returncode == 0, out.stderr
    before = _stats(kg)
    assert before["documents"] == 1

    d = tmp_path / "batch"
    d.mkdir()
    (d / "empty.txt").write_text("")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (d / "latin1.txt").write_bytes("Émile Zola was born in Paris. Café".encode("latin-1"))
    (d / "huge.txt").write_text("All work and no play makes Jack a dull boy. " * 460_000)  # ~20 MB
    (d / "docs.jsonl").write_text(
        json.dumps({"id": "j1", "text": "Satya Nadella leads Microsoft in Redmond."}) + "\n"
        + "{broken json\n"
        + json.dumps({"id": "j3", "text": "Sundar Pichai works for Google."}) + "\n"
    )
    (d / "good.md").write_text("# Note\n\nAngela Merkel lived in Berlin.")
    out = kg("ingest", "-q", str(d))
    assert out.returncode == 1
    err = out.stderr
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("kg: error:")]
    assert len(lines) == 5, err
    for name in ("empty.txt", "binary.txt", "latin1.txt", "huge.txt", "docs.jsonl:2"):
        assert any(name in line for line in lines), (name, err)
    # the good inputs of the same run were stored, and nothing stored before was lost
    after = _stats(kg)
    assert after["documents"] == before["documents"] + 3
    ids = {r["id"] for r in json.loads(kg("query", "MATCH (d:Document) RETURN d.id AS id", "--json").stdout)}
    assert {"j1", "j3"} <= ids


def test_stdin_query_stats_delete(kg):
    out = kg("ingest", "-q", "-", input="Larry Page founded Google. Google is based in Mountain View.")
    assert out.returncode == 0, out.stderr
    stats = _stats(kg)
    assert stats["documents"] == 1 and stats["entities"] >= 2

    out = kg("query", "MATCH (e:Entity) WHERE e.name = $name RETURN e.name AS name, e.type AS type",
             "--param", "name=Google", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"name": "Google", "type": "Organization"}]

    # a write through query is refused and changes nothing
    for write in ("CREATE (:Entity {name: 'x'})", "MATCH (n) DETACH DELETE n", "MATCH (e:Entity) SET e.name = 'y'"):
        out = kg("query", write)
        assert out.returncode == 2 and "read-only" in out.stderr and "Traceback" not in out.stderr
    assert _stats(kg) == stats
    out = kg("query", "MATCH (n RETURN n")
    assert out.returncode == 2 and "Traceback" not in out.stderr

    doc_id = json.loads(kg("query", "MATCH (d:Document) RETURN d.id AS id", "--json").stdout)[0]["id"]
    out = kg("delete", "no-such-doc")
    assert out.returncode == 1 and "no-such-doc" in out.stderr
    out = kg("delete", doc_id)
    assert out.returncode == 0, out.stderr
    stats = _stats(kg)
    assert stats["documents"] == 0 and stats["entities"] == 0 and stats["relations"] == 0
