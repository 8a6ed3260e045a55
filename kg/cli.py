"""The `kg` command line.

User errors end in one line on stderr and a non-zero exit code, never a traceback:
1 when some inputs were refused (the rest are ingested), 2 for a bad command or setup.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


class CLIError(Exception):
    pass


def _err(msg: str) -> None:
    print(f"kg: error: {msg}", file=sys.stderr)


def _open_store():
    from kg.config import get_settings
    from kg.stores.factory import open_store

    return open_store(get_settings())


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise CLIError(f"--param {text!r}: expected NAME=VALUE")
    k, v = text.split("=", 1)
    if not k.isidentifier():
        raise CLIError(f"--param {text!r}: {k!r} is not a valid parameter name")
    try:
        return k, json.loads(v)  # numbers, booleans, lists, quoted strings
    except json.JSONDecodeError:
        return k, v


def _print_table(rows: list[dict]) -> None:
    if not rows:
        print("(no rows)")
        return
    cols = list(rows[0])
    cells = [[json.dumps(r.get(c), ensure_ascii=False) if not isinstance(r.get(c), str) else r.get(c) for c in cols] for r in rows]
    widths = [min(60, max(len(c), *(len(row[i]) for row in cells))) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join((v if len(v) <= w else v[: w - 1] + "…").ljust(w) for v, w in zip(row, widths)))


# --- commands ---

def cmd_ingest(args) -> int:
    from kg.config import get_settings
    from kg.documents import read_inputs
    from kg.pipeline import Pipeline

    settings = get_settings()
    store = _open_store()
    pipeline = Pipeline.from_settings(settings, store)
    items = list(read_inputs(args.paths, settings.max_file_bytes))
    report = pipeline.ingest(items, progress=None if not args.quiet else False, total=len(items))
    for e in report.errors:
        _err(str(e))
    summary = (
        f"ingested {report.ingested} new, {report.updated} updated, {report.unchanged} unchanged document(s): "
        f"{report.chunks} chunks, {report.mentions} mentions, {report.entities} entities "
        f"({report.merged_into_existing} matched existing), {report.relations} relations "
        f"in {report.seconds:.1f}s"
    )
    if report.errors:
        summary += f"; {len(report.errors)} input(s) refused"
    print(summary)
    return 1 if report.errors else 0


def extraction_to_json(result) -> dict:
    """The `kg extract --json` shape: entity mentions with ids, relations between those ids."""
    entities, relations = [], []
    for ms, rels in zip(result.mentions, result.relations):
        base = len(entities)
        for m in ms:
            entities.append({"id": f"m{len(entities)}", "text": m.text, "type": m.type, "start": m.start, "end": m.end})
        for r in rels:
            relations.append({
                "head": f"m{base + r.head}", "relation": r.type, "tail": f"m{base + r.tail}",
                "confidence": round(float(r.confidence), 4), "start": r.start, "end": r.end,
            })
    return {"entities": entities, "relations": relations}


def cmd_extract(args) -> int:
    from kg.config import get_settings
    from kg.documents import read_inputs
    from kg.pipeline import Pipeline

    settings = get_settings()
    items = list(read_inputs([args.path], settings.max_file_bytes))
    bad = [i for i in items if not hasattr(i, "text")]
    for e in bad:
        _err(str(e))
    docs = [i for i in items if hasattr(i, "text")]
    if not docs:
        return 1
    result = Pipeline.from_settings(settings).extract([docs[0]])[0]
    out = extraction_to_json(result)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        ents = {e["id"]: e for e in out["entities"]}
        print(f"{len(out['entities'])} entities:")
        for e in out["entities"]:
            print(f"  {e['id']:>5}  {e['type']:<14} {e['text']}  [{e['start']}:{e['end']}]")
        print(f"{len(out['relations'])} relations:")
        for r in out["relations"]:
            print(f"  {ents[r['head']]['text']} -[{r['relation']} {r['confidence']:.2f}]-> {ents[r['tail']]['text']}")
    return 1 if bad else 0


def cmd_query(args) -> int:
    params = dict(_parse_param(p) for p in args.param or [])
    rows = _open_store().query(args.cypher, params, read_only=True)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    else:
        _print_table(rows)
    return 0


def cmd_stats(args) -> int:
    stats = _open_store().stats()
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
    else:
        for k, v in stats.items():
            if isinstance(v, dict):
                print(f"{k}:")
                for kk, vv in sorted(v.items(), key=lambda kv: (-kv[1], kv[0])):
                    print(f"  {kk:<20} {vv}")
            else:
                print(f"{k:<22} {v}")
    return 0


def cmd_delete(args) -> int:
    report = _open_store().delete_document(args.doc_id)
    if not report.found:
        _err(f"no document with id {args.doc_id!r} (see: kg query \"MATCH (d:Document) RETURN d.id\")")
        return 1
    print(
        f"deleted {args.doc_id}: {report.chunks} chunks, {report.mentions} mentions, {report.entities} entities, "
        f"{report.relations} relations ({report.relations_updated} kept with other sources)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kg", description="Build and query a knowledge graph from free text.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="extract and store documents (.txt, .md, .jsonl, directories, - for stdin)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("extract", help="dry run: entities and relations of one file, nothing stored")
    p.add_argument("path", metavar="FILE|-")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("query", help="run a read-only Cypher query")
    p.add_argument("cypher")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="query parameter (JSON value or string)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("stats", help="counts of documents, chunks, entities and relations")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("delete", help="remove a document and everything only it supported")
    p.add_argument("doc_id")
    p.set_defaults(func=cmd_delete)

    train = sub.add_parser("train", help="fine-tune a model on annotated data")
    train_sub = train.add_subparsers(dest="what", required=True)
    evaluate = sub.add_parser("eval", help="score a model on a dataset")
    eval_sub = evaluate.add_subparsers(dest="what", required=True)
    # Each model family registers its own train/eval subcommands.
    from extractors import model_average, ner_cli, relation_cli

    relation_cli.register(train_sub, eval_sub)
    ner_cli.register(train_sub, eval_sub)
    model_average.register(train_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return _dispatch(argv)
        finally:
            sys.stdout.flush()  # a reader that went away shows up here, not at interpreter exit
    except BrokenPipeError:
        # stdout closed early (`kg stats --json | head -c 20`): stop quietly, as the Python docs
        # advise; stdout points at devnull so that the flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a process killed by SIGPIPE


def _dispatch(argv: list[str] | None) -> int:
    from pydantic import ValidationError

    from extractors.ner import ModelLoadError
    from graph_schema import SchemaError
    from kg.stores.base import StoreError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, StoreError, ModelLoadError, SchemaError) as e:
        _err(str(e))
        return 2
    except ValidationError as e:
        _err(f"invalid KG_* setting: {e.errors()[0].get('loc')} {e.errors()[0].get('msg')}")
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
