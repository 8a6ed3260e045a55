"""`kg view` (an interactive HTML graph view) and `kg export` (GraphML, GEXF, Cytoscape JSON)."""

from __future__ import annotations

from pathlib import Path

from kg.errors import UsageError


def cmd_view(args) -> int:
    from kg.config import get_settings
    from kg.stores.factory import open_store
    from kg.views import render_html, view_subgraph

    if args.entity is not None and args.cypher is not None:
        raise UsageError("give an ENTITY or --cypher QUERY, not both")
    if args.entity is None and args.cypher is None:
        raise UsageError("give an ENTITY (an id or a name) or --cypher QUERY")
    settings = get_settings()
    with open_store(settings) as store:
        sub = view_subgraph(store, settings, entity=args.entity, cypher=args.cypher, depth=args.depth, limit=args.limit)
        html = render_html(store, settings, sub)
    Path(args.out).write_text(html, encoding="utf-8")
    print(f"wrote {args.out}: {len(sub.entities)} entities, {len(sub.relations)} relations")
    return 0


def cmd_export(args) -> int:
    from kg.config import get_settings
    from kg.export import query_subgraph, whole_graph, write_graph
    from kg.stores.factory import open_store

    settings = get_settings()
    with open_store(settings) as store:
        sub = query_subgraph(store, settings, args.cypher) if args.cypher is not None else whole_graph(store)
    write_graph(sub, args.format, args.out)
    print(f"wrote {args.out} ({args.format}): {len(sub.entities)} entities, {len(sub.relations)} relations")
    return 0


FORMATS = ("graphml", "gexf", "cytoscape-json")  # kg.export.FORMATS, not imported: networkx is slow to load


def register(sub) -> None:
    p = sub.add_parser("view", help="an entity's neighbourhood or a query's entities as an offline HTML page",
                       description="Write an interactive graph (pyvis / vis-network, inlined: works offline). "
                                   "ENTITY is an entity id or a name: an exact name or alias first, else "
                                   "names that contain it.")
    p.add_argument("entity", nargs="?", metavar="ENTITY", help="an entity id or name")
    p.add_argument("--cypher", metavar="QUERY",
                   help="a read-only query; draws the entities it returns (nodes, paths or ids) and "
                        "the relations among them it returns (all of them when it returns none)")
    p.add_argument("--depth", type=int, default=1, help="relation hops around ENTITY (default 1; 0: only the entity)")
    p.add_argument("--limit", type=int, default=50, help="most entities drawn (default 50)")
    p.add_argument("--out", required=True, metavar="FILE.html", help="the page to write")
    p.set_defaults(func=cmd_view)

    p = sub.add_parser("export", help="the entity graph (or a query's part) for Gephi or Cytoscape",
                       description="Write the entity graph through networkx: nodes are entities (name, type, "
                                   "aliases, mentions), edges relations (relation, confidence, model, sources). "
                                   "GraphML and GEXF cannot hold lists: there aliases and sources are one "
                                   "string, joined with ' | '; cytoscape-json keeps them as lists.")
    p.add_argument("--format", required=True, choices=FORMATS, help="graphml, gexf (Gephi) or cytoscape-json")
    p.add_argument("--cypher", metavar="QUERY", help="only what this read-only query returns (as for kg view)")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    p.set_defaults(func=cmd_export)
