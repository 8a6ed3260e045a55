"""`make demo`: build the demo graph from the bundled sample corpus, print its stats, a Cypher
answer and a retrieval answer with citations, write a graph view, then serve the graph over the
HTTP API (Ctrl-C stops it). `python -m kg.demo --no-serve` stops before serving."""

from __future__ import annotations

import json
import sys

from kg.config import REPO_ROOT, get_settings
from kg.documents import read_inputs

SAMPLE = REPO_ROOT / "samples" / "wikipedia_passages.jsonl"
EXAMPLE_QUERY = """
MATCH (h:Entity)-[r]->(t:Entity)
RETURN h.name AS head, type(r) AS relation, t.name AS tail, r.confidence AS confidence
ORDER BY confidence DESC, head LIMIT 10
""".strip()
EXAMPLE_QUESTION = "Where was Jan Garbarek born?"
MOST_CONNECTED = ("MATCH (e:Entity)-[r]-(:Entity) RETURN e.id AS id, e.name AS name, count(r) AS n "
                  "ORDER BY n DESC, id LIMIT 1")


def main(serve: bool = True) -> int:
    from api.deps import close_services, open_services
    from kg.views import render_view

    settings = get_settings()
    print(f"store: {settings.store} (data in {settings.data_dir.resolve()}); loading the models...")
    services = open_services(settings)  # the same store, models and job worker the API serves
    try:
        store = services.store
        items = list(read_inputs([str(SAMPLE)], settings.max_file_bytes))
        report = services.pipeline.ingest(items, progress=True, total=len(items))
        print(f"ingested {report.ingested} new / {report.unchanged} unchanged documents, "
              f"{report.words} words in {report.seconds:.1f}s")
        print("\ngraph stats:")
        print(json.dumps(store.stats(), indent=2))

        print("\nexample query (kg query '...'):\n" + EXAMPLE_QUERY + "\n")
        for row in store.query(EXAMPLE_QUERY):
            print(f"  {row['head']} -[{row['relation']} {row['confidence']:.2f}]-> {row['tail']}")

        print(f"\nexample retrieval (kg retrieve {EXAMPLE_QUESTION!r} -k 2):\n")
        print(services.retriever.retrieve(EXAMPLE_QUESTION, k=2).context)

        hub = store.query(MOST_CONNECTED)
        view_url = ""
        if hub:
            path = settings.data_dir / "demo-view.html"
            path.write_text(render_view(store, settings, entity=hub[0]["id"], depth=1), encoding="utf-8")
            print(f"graph view of {hub[0]['name']} ({hub[0]['n']} relations): {path.resolve()}")
            view_url = f"/v1/graph/view?entity={hub[0]['id']}"
        if not serve:
            return 0

        import uvicorn

        from api.main import create_app

        app = create_app(settings)
        app.state.services = services  # serve what is loaded: no second start of the models
        base = f"http://{settings.api_host}:{settings.api_port}"
        print(f"\nserving the demo graph (Ctrl-C stops it):\n  API docs:   {base}/docs")
        if view_url:
            print(f"  graph view: {base}{view_url}")
        uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level="warning")
        return 0
    finally:
        close_services(services)


if __name__ == "__main__":
    sys.exit(main(serve="--no-serve" not in sys.argv[1:]))
