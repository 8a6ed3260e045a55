"""The graph commands: ingest, extract, query, stats, delete, server."""

from __future__ import annotations

import json
from typing import Any

from kg.cli.output import err as _err
from kg.cli.output import note as _note
from kg.cli.output import print_table as _print_table
from kg.cli.output import warn as _warn
from kg.errors import UsageError


def _open_store():
    from kg.config import get_settings
    from kg.stores.factory import open_store

    return open_store(get_settings())


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise UsageError(f"--param {text!r}: expected NAME=VALUE")
    k, v = text.split("=", 1)
    if not k.isidentifier():
        raise UsageError(f"--param {text!r}: {k!r} is not a valid parameter name")
    try:
        return k, json.loads(v)  # numbers, booleans, lists, quoted strings
    except json.JSONDecodeError:
        return k, v


def cmd_ingest(args) -> int:
    from kg.config import get_settings
    from kg.documents import read_inputs
    from kg.pipeline import Pipeline

    settings = get_settings()
    if args.workers < 0:
        raise UsageError(f"--workers {args.workers}: give 0 (extract in this process) or more")
    with _open_store() as store:
        pipeline = Pipeline.from_settings(settings, store)
        workers = _workers(settings, args)
        try:
            # read as ingested: a large .jsonl is never held whole
            report = pipeline.ingest(read_inputs(args.paths, settings.max_file_bytes),
                                     progress=None if not args.quiet else False, workers=workers)
        finally:
            if workers is not None:
                workers.close()
    for e in report.errors:
        _err(str(e))
    for w in report.warnings:  # not errors: the exit code stays
        _warn(w)
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


def _workers(settings, args):
    from kg.parallel import ProcessWorkers, RayWorkers

    if args.ray:
        return RayWorkers(settings, args.workers or 2, None if args.ray == "local" else args.ray)
    return ProcessWorkers(settings, args.workers) if args.workers else None


def cmd_extract(args) -> int:
    from kg.config import get_settings
    from kg.documents import read_inputs
    from kg.pipeline import Pipeline, extraction_json

    settings = get_settings()
    items = list(read_inputs([args.path], settings.max_file_bytes))
    bad = [i for i in items if not hasattr(i, "text")]
    for e in bad:
        _err(str(e))
    docs = [i for i in items if hasattr(i, "text")]
    if not docs:
        return 1
    pipeline = Pipeline.from_settings(settings)
    result = pipeline.extract([docs[0]])[0]
    for w in result.warnings:  # stderr, so --json output keeps its shape
        _warn(w)
    out = extraction_json(result)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        ents = {e["id"]: e for e in out["entities"]}
        print(f"{len(out['entities'])} entities:")
        for e in out["entities"]:
            print(f"  {e['id']:>5}  {e['type']:<14} {e['text']}  [{e['start']}:{e['end']}]")
        print(f"{len(out['relations'])} relations (relation extractor: {pipeline.relations.name}):")
        for r in out["relations"]:
            print(f"  {ents[r['head']]['text']} -[{r['relation']} {r['confidence']:.2f}]-> {ents[r['tail']]['text']}")
    return 1 if bad else 0


def cmd_query(args) -> int:
    params = dict(_parse_param(p) for p in args.param or [])
    with _open_store() as store:
        result = store.read_only_query(args.cypher, params, timeout_ms=args.timeout_ms, max_rows=args.max_rows)
    if args.json:
        print(json.dumps(result.rows, ensure_ascii=False, indent=2, default=str))
    else:
        _print_table(result.rows)
    if result.truncated:
        _note(f"only the first {len(result.rows)} rows are shown (--max-rows, KG_QUERY_MAX_ROWS)")
    return 0


def cmd_stats(args) -> int:
    with _open_store() as store:
        stats = store.stats()
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
    with _open_store() as store:
        report = store.delete_document(args.doc_id)
    if not report.found:
        _err(f"no document with id {args.doc_id!r} (see: kg query \"MATCH (d:Document) RETURN d.id\")")
        return 1
    print(
        f"deleted {args.doc_id}: {report.chunks} chunks, {report.mentions} mentions, {report.entities} entities, "
        f"{report.relations} relations ({report.relations_updated} kept with other sources)"
    )
    return 0


def cmd_server(args) -> int:
    """The embedded store's server: keep one warm between commands, or stop it."""
    from kg.config import get_settings
    from kg.stores.falkordb.server import FalkorDBServer

    settings = get_settings()
    if settings.store != "falkordb":
        raise UsageError(f"KG_STORE={settings.store}: `kg server` manages the embedded store only")
    srv = FalkorDBServer(settings.data_dir)
    if args.action == "start":
        srv.set_keep_running(True)
        srv.start()
        print(f"FalkorDB server for {srv.data_dir} is running (pid {srv.pid}, socket {srv.socket_path}); "
              "it stays up until `kg server stop`")
    elif args.action == "stop":
        srv.set_keep_running(False)
        was = srv.is_running()
        if was:
            srv.compact()
        srv.stop(force=True)
        print(f"FalkorDB server for {srv.data_dir} {'stopped' if was else 'was not running'}")
    else:
        running = srv.is_running()
        incr, base = srv.aof_sizes()
        print(f"FalkorDB server for {srv.data_dir}: {'running, pid ' + str(srv.pid) if running else 'not running'}"
              f"{'; kept running (kg server start)' if srv.keep_running else ''}; "
              f"data {base / 1e6:.1f} MB snapshot + {incr / 1e6:.1f} MB log")
    return 0


def register(sub) -> None:
    """Add the graph commands to the top-level subparsers."""
    p = sub.add_parser("ingest", help="extract and store documents (.txt, .md, .jsonl, directories, - for stdin)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="extract and embed in N worker processes; this one resolves and writes (default 0: "
                        "all in this process). Even N=1 overlaps extraction with the writes: worth it "
                        "for more than a few batches")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="extract on Ray actors instead (pip install 'kg[ray]'): ADDRESS as ray.init takes it "
                        "('auto', 'ray://HOST:10001', or 'local' to start one here); --workers actors, default 2")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("extract", help="dry run: entities and relations of one file, nothing stored")
    p.add_argument("path", metavar="FILE|-")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("query", help="run a read-only Cypher query")
    p.add_argument("cypher")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="query parameter (JSON value or string)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout-ms", type=int, default=None, help="time limit (default KG_QUERY_TIMEOUT_MS)")
    p.add_argument("--max-rows", type=int, default=None, help="row limit (default KG_QUERY_MAX_ROWS)")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("stats", help="counts of documents, chunks, entities and relations")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("delete", help="remove a document and everything only it supported")
    p.add_argument("doc_id")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("server", help="the embedded store's server: start (keep it warm), stop, status")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.set_defaults(func=cmd_server)
