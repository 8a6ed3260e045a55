"""Entity subgraphs out of the store, and as files for Gephi and Cytoscape.

A subgraph is the whole entity graph (`whole_graph`) or what a user's read-only query returns
(`query_subgraph`); `to_networkx` and `write_graph` turn it into a networkx MultiDiGraph and a
GraphML, GEXF or Cytoscape JSON file. GraphML and GEXF attributes cannot hold lists, so there
aliases and sources are joined with LIST_SEPARATOR; Cytoscape JSON keeps them as lists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

import networkx as nx

from kg.config import Settings
from kg.errors import UsageError
from kg.stores.base import GraphStore
from kg.types import Entity, RelationLink, Subgraph

ExportFormat = Literal["graphml", "gexf", "cytoscape-json"]
FORMATS: tuple[str, ...] = ("graphml", "gexf", "cytoscape-json")
LIST_SEPARATOR = " | "  # aliases and sources in GraphML/GEXF, whose attributes are scalars

# the entity fields a drawing or an export needs: no vectors, no lookup keys
_ENTITY_FIELDS = "{.id, .name, .type, .aliases, .mentions}"


def _entity(p: dict[str, Any]) -> Entity:
    return Entity(id=p["id"], name=p.get("name") or "", type=p.get("type") or "",
                  aliases=list(p.get("aliases") or []), mentions=int(p.get("mentions") or 0))


def whole_graph(store: GraphStore) -> Subgraph:
    """Every entity and every relation between entities (the lexical graph left out)."""
    rows = store.query(f"MATCH (e:Entity) RETURN e {_ENTITY_FIELDS} AS e ORDER BY e.id")
    entities = [_entity(r["e"]) for r in rows]
    relations = [
        RelationLink(r["h"], r["t"], r["type"], float(r["confidence"] or 0.0), r["model"] or "", list(r["sources"] or []))
        for r in store.query("MATCH (h:Entity)-[x]->(t:Entity) RETURN h.id AS h, t.id AS t, type(x) AS type, "
                             "x.confidence AS confidence, x.model AS model, x.sources AS sources "
                             "ORDER BY h, type, t")
    ]
    return Subgraph(entities, relations)


def _values(value: Any) -> Iterator[Any]:
    """Every node, relationship, id and scalar inside one cell of a query row, in order."""
    if isinstance(value, dict):
        if "nodes" in value and "relationships" in value:  # a path
            for part in value["nodes"] + value["relationships"]:
                yield from _values(part)
        elif "properties" in value and ("labels" in value or "type" in value):  # a node or a relationship
            yield value
        else:  # a map: its values
            for v in value.values():
                yield from _values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v)
    else:
        yield value


def _relation_key(type_: str, confidence: Any, sources: Iterable[str]) -> tuple[str, float, tuple[str, ...]]:
    return type_, round(float(confidence or 0.0), 6), tuple(sources or ())


def query_subgraph(store: GraphStore, settings: Settings, cypher: str, limit: int | None = None) -> Subgraph:
    """The entities a read-only query returns (as nodes, inside paths or lists, or as entity ids),
    at most `limit` of them in the order returned, and relations among them.

    A query's relationships come back without their ends, so they are matched to the relations
    among the returned entities by type, confidence and sources; a relationship is drawn when
    both its ends were returned. A query that returns no relationships gets every relation among
    its entities. Raises UsageError when the query returns no stored entity."""
    if not cypher or not cypher.strip():
        raise UsageError("the query is empty")
    result = store.read_only_query(cypher, timeout_ms=settings.query_timeout_ms, max_rows=settings.query_max_rows)
    ids: dict[str, None] = {}  # insertion-ordered set
    candidates: dict[str, None] = {}  # strings that may be entity ids
    returned_relations: set[tuple[str, float, tuple[str, ...]]] = set()
    for row in result.rows:
        for value in _values(list(row.values())):
            if isinstance(value, dict) and "labels" in value:
                if "Entity" in value["labels"] and value["properties"].get("id"):
                    ids.setdefault(value["properties"]["id"], None)
            elif isinstance(value, dict):
                p = value["properties"]
                if "confidence" in p:  # entity relations carry a confidence; lexical edges do not
                    returned_relations.add(_relation_key(value["type"], p.get("confidence"), p.get("sources")))
            elif isinstance(value, str):
                candidates.setdefault(value, None)
    if candidates:
        for e in store.get_entities([c for c in candidates if c not in ids]):
            ids.setdefault(e.id, None)
    if not ids:
        raise UsageError("the query returned no entities to draw: return entity nodes, paths or entity ids "
                         "(e.g. MATCH (e:Entity) RETURN e LIMIT 20)")
    chosen = list(ids)[:limit] if limit is not None else list(ids)
    sub = store.neighbourhood(chosen, depth=0, limit=len(chosen))
    if returned_relations:
        sub.relations = [r for r in sub.relations
                         if _relation_key(r.type, r.confidence, r.sources) in returned_relations]
    return sub  # entities in the order the query returned them


def to_networkx(sub: Subgraph, *, join_lists: bool = False) -> nx.MultiDiGraph:
    """Nodes keyed by entity id (name, label, type, aliases, mentions); one edge per relation,
    keyed by its type (relation, label, confidence, model, sources). join_lists: aliases and
    sources as one string joined by LIST_SEPARATOR, for formats without list attributes."""

    def listed(values: list[str]) -> list[str] | str:
        return LIST_SEPARATOR.join(values) if join_lists else list(values)

    g = nx.MultiDiGraph()
    for e in sub.entities:
        g.add_node(e.id, name=e.name, label=e.name, type=e.type, aliases=listed(e.aliases), mentions=e.mentions)
    for r in sub.relations:
        g.add_edge(r.head_id, r.tail_id, key=r.type, relation=r.type, label=r.type, confidence=r.confidence,
                   model=r.model, sources=listed(r.sources))
    return g


def write_graph(sub: Subgraph, format: ExportFormat, path: str | Path) -> None:
    """Write the subgraph as GraphML, GEXF (1.2) or Cytoscape JSON (cytoscape.js / Cytoscape's .cyjs)."""
    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    path = Path(path)
    if format == "graphml":
        nx.write_graphml(to_networkx(sub, join_lists=True), path, encoding="utf-8")
    elif format == "gexf":
        nx.write_gexf(to_networkx(sub, join_lists=True), path, encoding="utf-8")
    else:
        data = nx.cytoscape_data(to_networkx(sub))
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
