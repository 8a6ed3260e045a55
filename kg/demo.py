"""`make demo`: ingest the bundled sample corpus, print graph stats and an example query."""

from __future__ import annotations

import json
import sys

from kg.config import REPO_ROOT, get_settings
from kg.documents import read_inputs
from kg.pipeline import Pipeline
from kg.stores.factory import open_store

SAMPLE = REPO_ROOT / "samples" / "wikipedia_passages.jsonl"
EXAMPLE_QUERY = """
MATCH (h:Entity)-[r]->(t:Entity)
RETURN h.name AS head, type(r) AS relation, t.name AS tail, r.confidence AS confidence
ORDER BY confidence DESC, head LIMIT 10
""".strip()


def main() -> int:
    settings = get_settings()
    store = open_store(settings)
    print(f"store: {settings.store} (data in {settings.data_dir.resolve()})")
    pipeline = Pipeline.from_settings(settings, store)
    items = list(read_inputs([str(SAMPLE)], settings.max_file_bytes))
    report = pipeline.ingest(items, progress=True, total=len(items))
    print(f"ingested {report.ingested} new / {report.unchanged} unchanged documents, "
          f"{report.words} words in {report.seconds:.1f}s")
    print("\ngraph stats:")
    print(json.dumps(store.stats(), indent=2))
    print("\nexample query (kg query '...'):\n" + EXAMPLE_QUERY + "\n")
    for row in store.query(EXAMPLE_QUERY):
        print(f"  {row['head']} -[{row['relation']} {row['confidence']:.2f}]-> {row['tail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
