"""Every statement the Neo4j backend can send (statements.py collects them with their
parameters), checked by Neo4j's own Cypher 5 front end without a server: the npm package
@neo4j-cypher/language-support (`make cypher-ls` installs it into .node/; `make test` does),
run with the machine's Node.js (check_cypher.mjs). A syntax error, an unknown function or
procedure, an undeclared parameter, a deprecated construct, or a label, relationship type or
property the graph model lacks fails the test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kg.config import REPO_ROOT
from kg.stores.falkordb.store import FalkorDBStore
from kg.stores.neo4j import dialect
from tests.kg.stores.neo4j.statements import (
    Collected,
    all_statements,
    dialect_statements,
    graph_model,
    schema_types,
    shared_statements,
    used_params,
)

CYPHER_LS_DIR = REPO_ROOT / ".node"
CHECKER = Path(__file__).with_name("check_cypher.mjs")


def lint(statements: list[Collected], examples: dict[str, dict] | None = None) -> dict[str, list[dict]]:
    """name -> the checker's diagnostics ({"severity", "message"}) for each statement."""
    node = shutil.which("node")
    if node is None or not (CYPHER_LS_DIR / "node_modules" / "@neo4j-cypher" / "language-support").is_dir():
        pytest.fail("Neo4j's Cypher parser is not installed: run `make cypher-ls` (`make test` does), "
                    "which needs Node.js and npm")
    examples = examples or {}
    payload = {"schema": graph_model(),
               "statements": [{"name": s.name, "cypher": s.cypher,
                               "params": {p: examples.get(s.name, {}).get(p) for p in s.params}}
                              for s in statements]}
    proc = subprocess.run([node, str(CHECKER)], input=json.dumps(payload), capture_output=True, text=True,
                          env={**os.environ, "CYPHER_LS_DIR": str(CYPHER_LS_DIR)}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {r["name"]: r["diagnostics"] for r in json.loads(proc.stdout)}


def test_the_collection_covers_every_type_of_the_schema():
    entities, relations = schema_types()
    names = [s.name for s in dialect_statements()]
    assert {f"dialect.upsert_entities:`{t}`" for t in entities} <= set(names)
    shared = shared_statements()
    # the relation upsert (and its update and drop) for every relation type
    for t in relations:
        assert sum(f"[x:`{t}`]" in s.cypher for s in shared) >= 4, t
    assert len(shared) > 60 and len(set(names)) == len(names)


def test_every_statement_is_given_exactly_the_parameters_it_uses():
    wrong = {s.name: (sorted(used_params(s.cypher)), sorted(s.params)) for s in all_statements()
             if used_params(s.cypher) != set(s.params)}
    assert wrong == {}


def test_neo4j_parses_every_statement_the_backend_can_send():
    statements = all_statements()
    examples = {f"dialect.{s.name}": dict(s.params) for s in dialect.all_statements(schema_types()[0], 384)}
    found = {name: diags for name, diags in lint(statements, examples).items() if diags}
    by_name = {s.name: s.cypher for s in statements}
    assert found == {}, "\n".join(f"{n}: {by_name[n]}\n  -> {d}" for n, d in found.items())


def test_the_checker_catches_what_neo4j_would_refuse():
    broken = {
        "syntax": ("MATCH (c:Chunk RETURN c.id", ()),
        "unknown function (FalkorDB's)": ("MATCH (c:Chunk) RETURN vec.cosineDistance(c.embedding, $v)", ("v",)),
        "unknown procedure (FalkorDB's)": ("CALL db.idx.vector.queryNodes('Chunk', 'embedding', 3, $v) "
                                           "YIELD node RETURN node.id", ("v",)),
        "undeclared parameter": ("MATCH (c:Chunk {id: $id}) RETURN c.text", ()),
        "misspelt label": ("MATCH (c:Chunck) RETURN c.id", ()),
        "misspelt property": ("MATCH (c:Chunk) RETURN c.txet", ()),
        "deprecated": ("MATCH (c:Chunk) CALL { WITH c RETURN c.id AS i } RETURN i", ()),
        "FalkorDB's entity upsert": (FalkorDBStore._entity_statement(FalkorDBStore.__new__(FalkorDBStore), "`Person`"),
                                     ("rows",)),
    }
    control = Collected("control", "MATCH (c:Chunk {id: $id}) RETURN c.text", ("id",))
    result = lint([Collected(n, q, p) for n, (q, p) in broken.items()] + [control])
    assert result.pop("control") == []
    missed = [n for n, diags in result.items() if not diags]
    assert missed == []
    assert any("vecf32" in d["message"] for d in result["FalkorDB's entity upsert"])
