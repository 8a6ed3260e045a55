"""`kg migrate --from URL --to URL`: copy a whole graph between stores (kg/stores/migrate.py)."""

from __future__ import annotations

from kg.errors import UsageError


def cmd_migrate(args) -> int:
    from kg.config import get_settings
    from kg.stores.factory import open_store_url
    from kg.stores.migrate import migrate
    from kg.stores.urls import parse_store_url, same_store

    settings = get_settings()
    src, dst = parse_store_url(args.source), parse_store_url(args.target)
    if same_store(src, dst, settings.graph_name):
        raise UsageError(f"--from and --to are the same store ({src.shown})")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    with open_store_url(args.source, settings) as source, \
            open_store_url(args.target, settings, embedding_dim=source.dim) as target:  # a new graph: the source's
        report = migrate(source, target, batch_size=args.batch_size, progress=not args.quiet)
    print(f"migrated {src.shown} -> {dst.shown}: {report.documents} documents, {report.chunks} chunks, "
          f"{report.entities} entities, {report.mentions} mentions, {report.relations} relations, "
          f"{report.phrases} phrases in {report.seconds:.1f}s")
    return 0


def register(sub) -> None:
    p = sub.add_parser("migrate", help="copy a whole graph from one store to another (falkordb://DIR, bolt://HOST:7687)")
    p.add_argument("--from", dest="source", required=True, metavar="URL",
                   help="falkordb://DATA_DIR[?graph=NAME] or bolt|neo4j[+s]://[USER:PASSWORD@]HOST:PORT[?database=NAME]")
    p.add_argument("--to", dest="target", required=True, metavar="URL", help="the same forms; re-running changes nothing")
    p.add_argument("--batch-size", type=int, default=200, help="documents, entities or relation heads per write (200)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_migrate)
