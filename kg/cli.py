"""The `kg` command line."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kg", description="Build and query a knowledge graph from free text.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="fine-tune a model on annotated data")
    train_sub = train.add_subparsers(dest="what", required=True)
    evaluate = sub.add_parser("eval", help="score a model on a dataset")
    eval_sub = evaluate.add_subparsers(dest="what", required=True)

    # Each model family registers its own train/eval subcommands.
    from extractors import ner_cli, relation_cli

    relation_cli.register(train_sub, eval_sub)
    ner_cli.register(train_sub, eval_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
