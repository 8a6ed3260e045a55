"""Extraction in parallel, one writer.

Workers (processes on this machine, or Ray actors anywhere) each load the models once and
turn batches of documents into extraction results with their vectors (chunks, phrase keys,
entity names: Pipeline.embed_results). The ingesting process sends them batches as it reads
its input, at most `window` ahead, and writes the results in input order, one batch at a
time (resolution reads the store, so writes cannot overlap): ids and dumps come out exactly
as from an ingest without workers, because every result depends only on its document.
"""

from __future__ import annotations

import os
from typing import Any

from kg.config import REPO_ROOT, Settings
from kg.errors import UsageError
from kg.types import Document, ExtractionResult

Extracted = tuple[list[ExtractionResult], dict[str, float]]  # results, seconds per stage in the worker


# ---------------------------------------------------------------- in a worker

_pipeline = None


def _worker_settings(settings: Settings, workers: int) -> Settings:
    # the cores are shared among the workers; the outputs do not depend on the thread count
    threads = settings.torch_threads or max(1, (os.cpu_count() or 1) // workers)
    return settings.model_copy(update={"torch_threads": threads})


def _start(settings: Settings) -> None:
    global _pipeline
    from kg.pipeline import Pipeline

    _pipeline = Pipeline.from_settings(settings)  # no store: extraction and embeddings only


def _extract(docs: list[Document]) -> Extracted:
    from kg.timing import Stages

    before = _pipeline.stages.snapshot()
    results = _pipeline.extract(docs)
    _pipeline.embed_results(results)
    return results, Stages.since(before, _pipeline.stages.snapshot())


# ---------------------------------------------------------------- pools


class ProcessWorkers:
    """N worker processes on this machine (spawned: a fork would copy torch's and the store's state)."""

    def __init__(self, settings: Settings, n: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if n < 1:
            raise UsageError(f"--workers {n}: give 1 or more")
        self.size = n
        self.window = 2  # a write batch being extracted, and the next one
        self._pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                         initargs=(_worker_settings(settings, n),))

    def submit(self, docs: list[Document]) -> Any:
        return self._pool.submit(_extract, docs)

    def result(self, handle: Any) -> Extracted:
        return handle.result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


class _RayExtractor:
    def __init__(self, settings: Settings):
        _start(settings)

    def extract(self, docs: list[Document]) -> Extracted:
        return _extract(docs)


class RayWorkers:
    """N Ray actors, each with the models loaded once, on the cluster at `address` (as ray.init
    takes it: "auto", "ray://host:10001"; None starts a local Ray). Needs `pip install kg[ray]`."""

    def __init__(self, settings: Settings, n: int, address: str | None):
        try:
            import ray
        except ImportError as e:
            raise UsageError("--ray needs Ray: pip install 'kg[ray]'") from e
        if n < 1:
            raise UsageError(f"--workers {n}: give 1 or more")
        self._ray = ray
        if not ray.is_initialized():
            # workers started on this machine import this checkout of kg
            env = {"env_vars": {"PYTHONPATH": str(REPO_ROOT)}} if address is None else None
            try:
                ray.init(address=address, runtime_env=env, log_to_driver=False, include_dashboard=False)
            except (ConnectionError, ValueError, RuntimeError) as e:
                raise UsageError(f"--ray {address}: cannot connect to Ray ({e})") from e
        actor = ray.remote(num_cpus=1)(_RayExtractor)
        self._actors = [actor.remote(_worker_settings(settings, n).model_copy(update={"torch_threads": 1}))
                        for _ in range(n)]
        self._next = 0
        self.size = n
        self.window = 2

    def submit(self, docs: list[Document]) -> Any:
        actor = self._actors[self._next % len(self._actors)]
        self._next += 1
        return actor.extract.remote(docs)

    def result(self, handle: Any) -> Extracted:
        return self._ray.get(handle)

    def close(self) -> None:
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
