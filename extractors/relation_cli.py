"""`kg train relation` and `kg eval relation`."""

from __future__ import annotations


def register(train_sub, eval_sub) -> None:
    """Add the 'relation' subcommands; each sets args.func(args) -> exit code."""
