"""Every Cypher statement the Neo4j backend can send, with the parameters each one is given:

- its dialect's (kg/stores/neo4j/dialect.py `all_statements`), for every type of the schema;
- the shared ones (kg/stores/cypher_store.py, kg/stores/cypher.py), read from the source: each
  call `self._rows(Q, {...})`, `write.add_rows(Q, rows, key=..., **extra)` or `write.add(Q, {...})`
  gives a statement Q and its parameter names. What is formatted into Q (`{relation_type(type_)}`,
  `{vec}`, ...) is rendered with the values the Neo4j backend gives it: every relation type of
  the schema, its `_vector`, and so on. A new formatted expression, or a statement passed in a
  way this reader does not know, fails the collection: it must be taught here, so nothing the
  backend sends escapes the check.
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import kg.stores.cypher as cy
from graph_schema import load_schema
from kg.config import REPO_ROOT
from kg.stores.cypher_store import CHUNK_FIELDS, ENTITY_FIELDS
from kg.stores.lexical import LEXICAL_RELS, NODE_LABELS, relation_type
from kg.stores.neo4j import dialect
from kg.stores.neo4j.store import Neo4jStore

SHARED = REPO_ROOT / "kg" / "stores" / "cypher_store.py"
DIM = 384
PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")

# how the shared code hands statements over without a literal: each is covered elsewhere
NOT_LITERAL = {
    "q": "cypher.STATS_QUERIES",
    "cy.ENTITY_TYPES_QUERY": "cypher.ENTITY_TYPES_QUERY",
    "cy.RELATION_TYPES_QUERY": "cypher.RELATION_TYPES_QUERY",
    "self._dump_nodes_query": "dialect.DUMP_NODES",
    "self._entity_statement(entity_label(type_))": "dialect.entity_statement",
}


@dataclass(frozen=True)
class Collected:
    name: str  # where it comes from
    cypher: str
    params: tuple[str, ...]  # the parameter names it is given


def schema_types() -> tuple[list[str], list[str]]:
    schema = load_schema()
    return sorted(schema.entity_types), sorted(schema.relation_types)


def _formatted(expr: str) -> list[str]:
    """The values the Neo4j backend formats into a shared statement for `expr`."""
    _, relations = schema_types()
    neo = Neo4jStore.__new__(Neo4jStore)  # its hooks only: no connection
    values = {
        "relation_type(type_)": [relation_type(t) for t in relations],
        "vec": [neo._vector("r.embedding")],
        "self._vector('r.embedding')": [neo._vector("r.embedding")],
        "label": ["Document", "Chunk", "Entity"],  # _missing's labels
        "fields": ["properties(e)", f"e {ENTITY_FIELDS}"],
        "CHUNK_FIELDS": [CHUNK_FIELDS],
        "ENTITY_FIELDS": [ENTITY_FIELDS],
        "types": ["|".join(relation_type(t) for t in relations)],
        "int(depth)": ["3"],
    }
    if expr not in values:
        raise AssertionError(f"{SHARED.name} formats {{{expr}}} into a statement: tell "
                             f"tests/kg/stores/neo4j/statements.py which values the Neo4j backend gives it")
    return values[expr]


def _render(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
        return
    assert isinstance(node, ast.JoinedStr)
    parts: list[list[str]] = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            parts.append([v.value])
        else:
            assert isinstance(v, ast.FormattedValue) and v.format_spec is None and v.conversion == -1
            parts.append(_formatted(ast.unparse(v.value)))
    for combo in itertools.product(*parts):
        yield "".join(combo)


def _param_names(call: ast.Call) -> tuple[str, ...]:
    kind = call.func.attr  # type: ignore[attr-defined]
    if kind == "add_rows":
        key = next((k.value.value for k in call.keywords if k.arg == "key"), "rows")  # type: ignore[union-attr]
        return (key, *(k.arg for k in call.keywords if k.arg != "key"))
    if len(call.args) < 2:
        return ()
    params = call.args[1]
    assert isinstance(params, ast.Dict) and all(isinstance(k, ast.Constant) for k in params.keys), \
        f"line {call.lineno}: parameters not given as a dict literal"
    return tuple(k.value for k in params.keys)  # type: ignore[union-attr]


def shared_statements(path: Path = SHARED) -> list[Collected]:
    out: list[Collected] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = ast.unparse(node.func.value)
        if (owner, node.func.attr) not in {("self", "_rows"), ("write", "add_rows"), ("write", "add")}:
            continue
        q = node.args[0]
        if not isinstance(q, (ast.Constant, ast.JoinedStr)):
            assert ast.unparse(q) in NOT_LITERAL, f"{path.name}:{node.lineno}: statement {ast.unparse(q)!r} " \
                                                  "is not a literal: teach tests/kg/stores/neo4j/statements.py"
            continue
        params = _param_names(node)
        for i, text in enumerate(_render(q)):
            out.append(Collected(f"{path.name}:{node.lineno}#{i}", text, params))
    for name, q in cy.STATS_QUERIES.items():
        out.append(Collected(f"cypher.STATS_QUERIES[{name}]", q, ()))
    out.append(Collected("cypher.ENTITY_TYPES_QUERY", cy.ENTITY_TYPES_QUERY, ()))
    out.append(Collected("cypher.RELATION_TYPES_QUERY", cy.RELATION_TYPES_QUERY, ()))
    return out


def dialect_statements() -> list[Collected]:
    entities, _ = schema_types()
    return [Collected(f"dialect.{s.name}", s.cypher, tuple(s.params)) for s in dialect.all_statements(entities, DIM)]


def all_statements() -> list[Collected]:
    return dialect_statements() + shared_statements()


def graph_model() -> dict[str, Any]:
    """Labels, relationship types and property keys the statements may name."""
    entities, relations = schema_types()
    return {
        "labels": sorted(NODE_LABELS | set(entities) | {dialect.META_LABEL}),
        "relationshipTypes": sorted(LEXICAL_RELS | set(relations)),
        "propertyKeys": sorted({
            "id", "source", "title", "sha256", "ingested_at", "metadata",  # Document
            "doc_id", "index", "text", "start", "end", "embedding",  # Chunk
            "name", "type", "aliases", "keys", "mentions",  # Entity
            "confidence", "model", "sources", "evidence",  # relations
            "key",  # Phrase
            "generation", "locked",  # the write token
            # the fields of the rows a statement UNWINDs ($rows AS r: r.h, r.t, ...), which the checker
            # cannot tell from node properties
            "a", "b", "c", "e", "h", "k", "n", "t", "forward",
        }),
    }


def used_params(cypher: str) -> set[str]:
    return set(PARAM.findall(cypher))

