"""The `kg` command line: parse, call the library, print.

User errors end in one line on stderr and a non-zero exit code, never a traceback:
1 when some inputs were refused (the rest are ingested), 2 for a bad command or setup
(any KGError), 130 on Ctrl-C, 143 on SIGTERM, 141 when stdout closed early.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from kg.cli.output import err as _err


def build_parser() -> argparse.ArgumentParser:
    from kg.cli import evaluate, graph, mcp, migrate, retrieve, serve, train, view

    parser = argparse.ArgumentParser(prog="kg", description="Build and query a knowledge graph from free text.")
    sub = parser.add_subparsers(dest="command", required=True)
    graph.register(sub)
    retrieve.register(sub)
    serve.register(sub)
    train.register(sub)
    evaluate.register(sub)
    view.register(sub)
    mcp.register(sub)
    migrate.register(sub)
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

    from kg.errors import KGError

    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM (a service manager, `kill`) unwinds like Ctrl-C, so stores close and the embedded
    # server child stops instead of being left behind
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args) or 0)
    except KGError as e:
        _err(str(e))
        return 2
    except BrokenPipeError:
        raise  # stdout closed early: main() ends quietly
    except OSError as e:  # a path the user gave that cannot be read or written (--out, --data, ...)
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        _err(f"{e.strerror or e}{where}")
        return 2
    except ValidationError as e:
        _err(f"invalid KG_* setting: {e.errors()[0].get('loc')} {e.errors()[0].get('msg')}")
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Terminated:
        _err("terminated")
        return 143


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that `finally` blocks and context managers run."""


def _terminate(signum, frame) -> None:
    raise Terminated()

