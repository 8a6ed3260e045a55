"""The CLI end to end, as a user runs it: real processes, real models, a real embedded store."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from kg.config import REPO_ROOT

ROOT = REPO_ROOT


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
    # the real size, not the part read up to the limit
    huge_mb = (d / "huge.txt").stat().st_size / 1e6
    assert any(f"huge.txt: is {huge_mb:.1f} MB, over the 10.0 MB limit" in line for line in lines), err
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


def _doc_ids(kg):
    out = kg("query", "MATCH (d:Document) RETURN d.id AS id", "--json")
    assert out.returncode == 0, out.stderr
    return {r["id"] for r in json.loads(out.stdout)}


def test_bad_jsonl_lines_refused_one_line_each_good_ones_stored(kg, tmp_path):
    f = tmp_path / "docs.jsonl"
    lines = [
        json.dumps({"id": "bad\u0001id", "text": "Angela Merkel lives in Berlin."}),  # crashed FalkorDB
        json.dumps({"id": "good", "text": "Angela Merkel lives in Berlin."}),
        json.dumps({"id": "surrogate", "text": "Tim Cook a\ud800b works for Apple."}),  # written as \ud800
        # a raw U+2028 inside a JSON string is legal JSON: the line is kept and does not shift the count
        json.dumps({"id": "sep", "text": "Sundar Pichai works for Google.\u2028He lives in California."},
                   ensure_ascii=False),
        "{broken json",
        json.dumps({"id": "good", "text": "Angela Merkel lives in Berlin."}),  # same text: unchanged
        json.dumps({"id": "good", "text": "Olaf Scholz lives in Potsdam."}),  # other text: refused
    ]
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = kg("ingest", "-q", str(f))
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("kg: error:")]
    assert errors == [
        f'kg: error: {f}:1: "id" contains a control character (U+0001) at position 3',
        f'kg: error: {f}:3: "text" contains a lone surrogate (U+D800) at position 10',
        f"kg: error: {f}:5: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        f'kg: error: {f}:7: "id" "good" is used again with different text (first at {f}:2)',
    ], out.stderr
    assert "1 unchanged" in out.stdout and "4 input(s) refused" in out.stdout
    assert _doc_ids(kg) == {"good", "sep"}
    # the store still answers, and the refused id left nothing behind
    assert _stats(kg)["documents"] == 2
    out = kg("query", "MATCH (c:Chunk {doc_id: 'good'}) RETURN c.text AS text", "--json")
    assert [r["text"] for r in json.loads(out.stdout)] == ["Angela Merkel lives in Berlin."]


def test_closed_stdout_ends_quietly(kg, tmp_path):
    env = {**os.environ, "KG_DATA_DIR": str(tmp_path / "data")}
    kg_cmd = f"{shlex.quote(sys.executable)} -m kg.cli"

    def piped(args):
        return subprocess.run(f"set -o pipefail; {kg_cmd} {args} | head -c 20", shell=True, executable="/bin/bash",
                              capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)

    out = piped("stats --json")
    assert out.returncode in (0, 141) and "Traceback" not in out.stderr and out.stderr == "", out.stderr
    assert out.stdout.startswith("{")
    # about 1 MB of output, far more than a pipe holds: the write after head exits must fail
    out = piped("query 'RETURN range(1, 100000) AS r' --json")
    assert out.returncode == 141, (out.returncode, out.stderr)
    assert out.stderr == "" and len(out.stdout) == 20


def test_ingest_with_worker_processes(kg, tmp_path):
    """--workers 2: extraction in two worker processes, one writer (tests/kg/test_parallel.py compares graphs)."""
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate([
        "Tim Cook is the chief executive of Apple. Apple is based in Cupertino.",
        "Satya Nadella leads Microsoft in Redmond.",
        "Angela Merkel lived in Berlin. Berlin is the capital of Germany.",
    ])))
    out = kg("ingest", "-q", "--workers", "2", str(corpus))
    assert out.returncode == 0, out.stderr
    assert "ingested 3 new" in out.stdout
    assert _stats(kg)["documents"] == 3
    bad = kg("ingest", "-q", "--workers", "-1", str(corpus))
    assert bad.returncode == 2 and "--workers -1" in bad.stderr and "Traceback" not in bad.stderr
