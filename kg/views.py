"""Interactive graph views: an entity's neighbourhood, or a query's entities, as one HTML page.

pyvis builds the vis-network data; the page is our own small template with vis-network's
JavaScript and CSS (shipped inside the pyvis package) inlined, so it works offline and from a
file. pyvis's own template is not used: even with cdn_resources="in_line" it still links
Bootstrap from a CDN, and it sets node tooltips with innerHTML when one contains "href".
Nodes are coloured by entity type (a legend lists the types shown), edges are labelled with
their relation type and confidence, and a node's tooltip gives its aliases and a snippet of
a passage that mentions it. Tooltips are plain text (vis-network sets them as innerText).
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pyvis
from markupsafe import Markup
from pyvis.network import Network

from graph_schema import load_schema
from kg.config import Settings
from kg.errors import UsageError
from kg.export import query_subgraph
from kg.resolve import name_key
from kg.stores.base import GraphStore
from kg.types import Entity, RelationLink, Subgraph

MAX_DEPTH = 5  # a deeper variable-length traversal can stall a large graph
MAX_LIMIT = 1000  # vis-network stays responsive up to about this many nodes
NAME_MATCHES = 5  # seeds taken from a name search
SNIPPET_CHARS = 80  # of context either side of a mention
VIS_DIR = Path(pyvis.__file__).resolve().parent / "templates" / "lib" / "vis-9.1.2"

# Tableau 10: distinct hues, by the entity type's place in the schema; unknown types are grey
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#17becf", "#bcbd22", "#8c564b"]
OTHER_COLOUR = "#bab0ac"

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>{{ vis_css }}</style>
<style>
  /* the legend on top, the graph in the rest of the window (or of a notebook's iframe) */
  html, body { height: 100%; }
  body { margin: 0; font-family: sans-serif; background: #ffffff; display: flex; flex-direction: column; }
  #kg-legend { flex: none; padding: 8px 12px; border-bottom: 1px solid #ddd; font-size: 14px; }
  #kg-legend .kg-caption { font-weight: bold; margin-right: 16px; }
  #kg-legend .kg-legend-item { display: inline-block; margin-right: 14px; white-space: nowrap; }
  #kg-legend .kg-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 6px;
                          margin-right: 4px; vertical-align: middle; }
  #mynetwork { flex: 1; min-height: 400px; width: 100%; background: #ffffff; }
</style>
<script>{{ vis_js }}</script>
</head>
<body>
<div id="kg-legend">
  <span class="kg-caption">{{ caption }}</span>
  {% for item in legend %}<span class="kg-legend-item" data-type="{{ item.type }}"><span class="kg-swatch"
    style="background: {{ item.colour }}"></span>{{ item.type }} ({{ item.count }})</span>
  {% endfor %}
</div>
<div id="mynetwork"></div>
<script>
  var kgStabilized = false;
  var nodes = new vis.DataSet({{ nodes|tojson }});
  var edges = new vis.DataSet({{ edges|tojson }});
  var options = {{ options }};
  var network = new vis.Network(document.getElementById("mynetwork"), {nodes: nodes, edges: edges}, options);
  network.once("stabilizationIterationsDone", function () { kgStabilized = true; network.fit(); });
</script>
</body>
</html>
"""

OPTIONS = """{
  "nodes": {"shape": "dot", "font": {"size": 14}, "scaling": {"min": 10, "max": 30}},
  "edges": {"arrows": {"to": {"enabled": true, "scaleFactor": 0.6}}, "color": {"color": "#9a9a9a"},
            "font": {"size": 10, "align": "middle"}, "smooth": {"type": "dynamic"}},
  "physics": {"solver": "barnesHut", "barnesHut": {"gravitationalConstant": -6000, "springLength": 140},
              "stabilization": {"enabled": true, "iterations": 300, "fit": true}},
  "interaction": {"hover": true, "tooltipDelay": 150}
}"""


@dataclass
class Snippet:
    doc_id: str
    start: int  # the mention's document offsets
    end: int
    text: str  # the mention with up to SNIPPET_CHARS of context either side


def _check_bounds(depth: int, limit: int) -> None:
    if not 0 <= depth <= MAX_DEPTH:
        raise UsageError(f"depth must be between 0 and {MAX_DEPTH}, not {depth}")
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")


def find_entities(store: GraphStore, text: str) -> list[str]:
    """Entity ids for what a user typed: an entity id; else every entity with that exact lookup key
    (a name or alias, normalised); else up to NAME_MATCHES entities whose name or an alias contains
    it (case ignored), the closest (shortest) names first. Raises UsageError when nothing matches."""
    text = text.strip()
    if not text:
        raise UsageError("give an entity id or name")
    if found := store.get_entities([text]):
        return [found[0].id]
    key = name_key(text)
    by_key = store.find_entities_by_alias([key]).get(key, []) if key else []
    if by_key:
        return [e.id for e in sorted(by_key, key=lambda e: (-e.mentions, e.id))]
    named = store.entities_named_like(text, NAME_MATCHES)
    if not named:
        raise UsageError(f"no entity matches {text!r} (by id, name or alias; "
                         "see: kg query \"MATCH (e:Entity) RETURN e.id, e.name LIMIT 20\")")
    return [e.id for e in named]


def view_subgraph(store: GraphStore, settings: Settings, *, entity: str | None = None, cypher: str | None = None,
                  depth: int = 1, limit: int = 50) -> Subgraph:
    """What a view draws: the neighbourhood of the entities `entity` names (within `depth` relation
    hops, at most `limit` entities), or the entities and relations a read-only query returns
    (at most `limit` entities; depth is not used)."""
    if (entity is None) == (cypher is None):
        raise UsageError("give exactly one of an entity or a Cypher query")
    _check_bounds(depth, limit)
    if cypher is not None:
        sub = query_subgraph(store, settings, cypher, limit)
    else:
        sub = store.neighbourhood(find_entities(store, entity), depth, limit)
    if not sub.entities:
        raise UsageError("nothing to draw: no stored entity matched")
    return sub


def first_mentions(store: GraphStore, entity_ids: list[str]) -> dict[str, Snippet]:
    """Each entity's first mention (by chunk id, then offset) with some of the text around it."""
    if not entity_ids:
        return {}
    rows = store.query("MATCH (e:Entity)-[m:MENTIONED_IN]->(c:Chunk) WHERE e.id IN $ids "
                       "WITH e, m, c ORDER BY c.id, m.start "
                       "WITH e.id AS id, head(collect({chunk: c.id, start: m.start, end: m.end})) AS first "
                       "RETURN id, first", {"ids": entity_ids})
    chunks = {c.id: c for c in store.get_chunks(sorted({r["first"]["chunk"] for r in rows}))}
    out: dict[str, Snippet] = {}
    for r in rows:
        f = r["first"]
        chunk = chunks.get(f["chunk"])
        if chunk is None:
            continue
        a, b = f["start"] - chunk.start, f["end"] - chunk.start
        lo, hi = max(0, a - SNIPPET_CHARS), min(len(chunk.text), b + SNIPPET_CHARS)
        text = " ".join(chunk.text[lo:hi].split())
        out[r["id"]] = Snippet(chunk.doc_id, f["start"], f["end"],
                               ("…" if lo > 0 else "") + text + ("…" if hi < len(chunk.text) else ""))
    return out


def type_colours(settings: Settings) -> dict[str, str]:
    types = list(load_schema(settings.schema_path).entity_types)
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}


def _node_title(e: Entity, snippet: Snippet | None) -> str:
    lines = [f"{e.name} ({e.type})", f"id: {e.id}"]
    if e.aliases:
        lines += textwrap.wrap("aliases: " + ", ".join(e.aliases), 80)
    lines.append(f"mentions: {e.mentions}")
    if snippet is not None:
        lines.append(f"mentioned in {snippet.doc_id}, characters {snippet.start}-{snippet.end}:")
        lines += textwrap.wrap(f"“{snippet.text}”", 80)
    return "\n".join(lines)


def _edge_title(r: RelationLink, names: dict[str, str]) -> str:
    lines = [f"{names[r.head_id]} {r.type} {names[r.tail_id]}", f"confidence {r.confidence:.2f} ({r.model})"]
    if r.sources:
        lines += textwrap.wrap("sources: " + ", ".join(r.sources), 80)
    return "\n".join(lines)


def render_html(store: GraphStore, settings: Settings, sub: Subgraph) -> str:
    """The subgraph as a self-contained page: vis-network inlined, no external resource."""
    colours = type_colours(settings)
    snippets = first_mentions(store, [e.id for e in sub.entities])
    net = Network(directed=True, cdn_resources="in_line")  # only its data and options are used
    for e in sub.entities:
        net.add_node(e.id, label=e.name, title=_node_title(e, snippets.get(e.id)),
                     color=colours.get(e.type, OTHER_COLOUR), value=max(1, e.mentions))
    names = {e.id: e.name for e in sub.entities}
    parallel: Counter[tuple[str, str]] = Counter()
    for r in sub.relations:
        if r.head_id not in names or r.tail_id not in names:
            continue
        pair = (min(r.head_id, r.tail_id), max(r.head_id, r.tail_id))
        extra = {"smooth": {"type": "curvedCW", "roundness": 0.2 * parallel[pair]}} if parallel[pair] else {}
        parallel[pair] += 1  # edges between the same two entities curve apart instead of overlapping
        net.add_edge(r.head_id, r.tail_id, label=f"{r.type} {r.confidence:.2f}", title=_edge_title(r, names),
                     **extra)
    net.set_options(OPTIONS)
    nodes, edges, _, _, _, options = net.get_network_data()
    counts = Counter(e.type for e in sub.entities)
    legend = [{"type": t, "colour": colours.get(t, OTHER_COLOUR), "count": n}
              for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    caption = f"{len(nodes)} entities, {len(edges)} relations"
    env = jinja2.Environment(autoescape=True)
    return env.from_string(TEMPLATE).render(
        title=caption, caption=caption, legend=legend, nodes=nodes, edges=edges,
        # trusted text, not escaped: our own options JSON and the files pyvis ships
        options=Markup(options),
        vis_js=Markup((VIS_DIR / "vis-network.min.js").read_text(encoding="utf-8")),
        vis_css=Markup((VIS_DIR / "vis-network.css").read_text(encoding="utf-8")),
    )


def render_view(store: GraphStore, settings: Settings, *, entity: str | None = None, cypher: str | None = None,
                depth: int = 1, limit: int = 50) -> str:
    """The HTML page of a view: an entity's neighbourhood, or a read-only query's entities and
    relations (exactly one of entity and cypher). Raises UsageError (or a StoreError for a
    refused or failed query) for no match or bad input."""
    sub = view_subgraph(store, settings, entity=entity, cypher=cypher, depth=depth, limit=limit)
    return render_html(store, settings, sub)
