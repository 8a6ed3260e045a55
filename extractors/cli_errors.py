"""One-line user errors for the model CLIs: a message on stderr and exit code 2, no traceback."""

from __future__ import annotations

import sys
from functools import wraps
from typing import Callable


def err(msg: str) -> None:
    print(f"kg: error: {msg}", file=sys.stderr)


def guarded(user_errors: Callable[[], tuple[type[BaseException], ...]]):
    """Decorate a command so user errors (and unreadable files) end in one line and exit 2.

    user_errors is called lazily so heavy modules load only when a command runs.
    """

    def decorate(fn):
        @wraps(fn)
        def run(args) -> int:
            errors = user_errors()
            try:
                return fn(args)
            except errors as e:
                err(str(e))
            except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
                err(f"{e.strerror}: {e.filename}")
            except UnicodeDecodeError as e:
                err(f"input is not UTF-8 text ({e.reason})")
            return 2

        return run

    return decorate
