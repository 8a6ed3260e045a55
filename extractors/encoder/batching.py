"""Batches whose every item is computed at one shape, run as parallel single-threaded jobs.

Together with the row-wise int8 linear maps (int8.py) this makes a model's output for one
input independent of its batch-mates and of the thread count: every op then works on that
input alone at a shape fixed by its own padded length.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

PAD_MULTIPLE = 8  # inputs are padded to a multiple of this and batched only with equal padded lengths


def padded_length(n: int, multiple: int = PAD_MULTIPLE) -> int:
    return -(-n // multiple) * multiple


def same_length_batches(indices: list[int], lengths: list[int], batch_size: int,
                        multiple: int = PAD_MULTIPLE) -> list[tuple[int, list[int]]]:
    """(padded length, indices) batches in which every item has the same padded length, so each
    item is always computed at the same shape: with int8 linear maps its outputs are then
    bit-identical whatever its batch-mates (fp32 matmuls still vary by ~1e-7 with the row count)."""
    groups: dict[int, list[int]] = {}
    for i in sorted(indices, key=lambda i: lengths[i]):
        groups.setdefault(padded_length(lengths[i], multiple), []).append(i)
    return [(L, idx[k: k + batch_size]) for L, idx in groups.items() for k in range(0, len(idx), batch_size)]


_threads_lock = threading.Lock()
_single_threaded = 0  # run_jobs calls now running (in any thread)
_saved_threads = 0  # torch's thread count before the first of them


@contextmanager
def _torch_single_threaded() -> Iterator[int]:
    """torch's (process-wide) thread count at 1 while any run_jobs call runs; yields the count
    it had before. Counted, so concurrent callers (the API's worker and requests) don't restore
    each other's 1 and leave the process single-threaded."""
    import torch

    global _single_threaded, _saved_threads
    with _threads_lock:
        if _single_threaded == 0:
            _saved_threads = torch.get_num_threads()
            torch.set_num_threads(1)
        _single_threaded += 1
        threads = _saved_threads
    try:
        yield threads
    finally:
        with _threads_lock:
            _single_threaded -= 1
            if _single_threaded == 0:
                torch.set_num_threads(_saved_threads)


def run_jobs(fn: Callable, jobs: list, device, workers: int | None = None) -> list:
    """fn over jobs, in order. On CPU, N jobs run at once (N = workers, default torch's thread
    count), each single-threaded (torch's thread count is set to 1 and then restored): small
    matrices scale better across cores that way than inside one op, and each job is computed
    the same way whatever N."""
    if str(device) != "cpu" or not jobs:
        return [fn(j) for j in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with _torch_single_threaded() as threads:
        n = max(1, min(workers or threads, len(jobs)))
        if n == 1:  # one job (a query): no pool to start
            return [fn(j) for j in jobs]
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(fn, jobs))
