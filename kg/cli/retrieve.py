"""`kg retrieve`: graph-augmented context with citations for a question."""

from __future__ import annotations

import json
from dataclasses import asdict

from kg.errors import UsageError


def _metadata(pairs: list[str] | None) -> dict:
    out = {}
    for text in pairs or []:
        if "=" not in text:
            raise UsageError(f"--meta {text!r}: expected FIELD=VALUE")
        key, value = text.split("=", 1)
        try:
            out[key] = json.loads(value)  # numbers, booleans; anything else is a string
        except json.JSONDecodeError:
            out[key] = value
    return out


def cmd_retrieve(args) -> int:
    from graph_schema import load_schema
    from kg.config import get_settings
    from kg.retrieval import Filters, Retriever
    from kg.retrieval.tool import tool_schema
    from kg.stores.factory import open_store

    settings = get_settings()
    if args.tool_schema:
        print(json.dumps(tool_schema(load_schema(settings.schema_path)), indent=2))
        return 0
    if not args.question or not args.question.strip():
        raise UsageError("give a question (or --tool-schema)")
    if args.k < 1:
        raise UsageError("-k must be at least 1")
    filters = Filters(doc_ids=args.doc or [], metadata=_metadata(args.meta), entity_types=args.type or [])
    with open_store(settings) as store:
        result = Retriever.from_settings(settings, store).retrieve(args.question, args.k, filters, args.method)
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False, indent=2))
    else:
        print(result.context or "(nothing found)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("retrieve", help="context with citations for a question (passages, facts, entities)")
    p.add_argument("question", nargs="?", help="the question, in full")
    p.add_argument("-k", type=int, default=5, help="passages to return (default 5)")
    p.add_argument("--json", action="store_true", help="the whole result: passages, facts, entities, scores")
    p.add_argument("--doc", action="append", metavar="DOC_ID", help="only passages of this document (repeatable)")
    p.add_argument("--meta", action="append", metavar="FIELD=VALUE", help="only documents with this metadata")
    p.add_argument("--type", action="append", metavar="TYPE", help="only entities and facts of this type")
    p.add_argument("--method", choices=["graph", "dense", "fulltext"], default="graph",
                   help="graph (default): dense + personalised PageRank; or one method alone")
    p.add_argument("--tool-schema", action="store_true", help="print the function-calling definition and exit")
    p.set_defaults(func=cmd_retrieve)
