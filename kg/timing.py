"""Where an ingest's time goes: wall-clock seconds per stage (chunking, NER, relations, ...).

A stage timed inside another pauses the outer one (the resolver embeds names: that time is
"embeddings", not "resolution"), so the stages add up to the time measured and nothing twice.
Nesting is tracked per thread; the totals are shared.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

STAGES = ("chunking", "ner", "relations", "phrases", "embeddings", "resolution", "writes")


class Stages:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _add(self, stage: str, dt: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + dt

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        stack: list[list] = self._local.__dict__.setdefault("stack", [])  # [stage, started]
        now = time.perf_counter()
        if stack:  # pause the enclosing stage
            self._add(stack[-1][0], now - stack[-1][1])
        stack.append([stage, now])
        try:
            yield
        finally:
            now = time.perf_counter()
            self._add(stage, now - stack.pop()[1])
            if stack:
                stack[-1][1] = now

    def add(self, seconds: dict[str, float]) -> None:
        """Seconds spent elsewhere (an extraction worker): summed per stage, so with several workers
        the stages can add up to more than the wall-clock time."""
        for stage, dt in seconds.items():
            self._add(stage, dt)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self.seconds)

    @staticmethod
    def since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """The seconds spent per stage between two snapshots."""
        return {k: after[k] - before.get(k, 0.0) for k in after if after[k] - before.get(k, 0.0) > 0}
