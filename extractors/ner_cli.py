"""`kg train ner` and `kg eval ner`."""

from __future__ import annotations


def register(train_sub, eval_sub) -> None:
    """Add the 'ner' subcommands; each sets args.func(args) -> exit code."""
