"""What the CLI prints: one-line errors, warnings and notes on stderr, tables on stdout."""

from __future__ import annotations

import json
import sys


def err(msg: str) -> None:
    print(f"kg: error: {msg}", file=sys.stderr)


def warn(msg: str) -> None:
    print(f"kg: warning: {msg}", file=sys.stderr)


def note(msg: str) -> None:
    print(f"kg: note: {msg}", file=sys.stderr)


def print_table(rows: list[dict]) -> None:
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
